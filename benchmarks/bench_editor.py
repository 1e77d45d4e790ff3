"""Editor speed, offscreen: scene build, repaint, node drag, opening big files; each figure
with a baseline measured in the same run.

Run: python benchmarks/bench_editor.py [--quick]   (--quick: skips the 10,000-node graph)
Graphs come from bench_validation.cnn_graph (stages of convs with skips, blocks, branches),
laid out on a grid. Repaints go through the canvas's own paint path (viewport().repaint(),
what the screen gets). Baselines: the same number of plain QGraphicsRectItem/LineItem added
to a scene (build), the same view over an empty scene (repaint), a mouse move over empty
canvas (drag), json.load of the same file (open).
Targets: build of a 500-node graph <= 100 ms; full-view repaint <= 16 ms (fit all, 5,005
nodes); one drag step < 16 ms at 10,000 nodes; open a 5,005-node file <= 1 s cold and a
10,000-node file <= 2 s.
"""
from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NETCANVAS_DATA_DIR", tempfile.mkdtemp(prefix="netcanvas-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validation import cnn_graph  # noqa: E402
from PySide6.QtCore import QEvent, QLineF, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QApplication,
    QGraphicsLineItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
)

from app.graph import NetGraph  # noqa: E402
from app.graph.analysis import clear_cache  # noqa: E402
from app.project import load_project, save_project  # noqa: E402
from app.ui.document import Document  # noqa: E402
from app.ui.scene import GraphScene  # noqa: E402
from app.ui.theme import apply_theme  # noqa: E402
from app.ui.view import CanvasView  # noqa: E402

VIEW_W, VIEW_H = 1100, 700


def ms(t: float) -> str:
    return f"{t * 1000:8.2f} ms"


def median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def spread_out(graph, columns: int = 25) -> None:
    """cnn_graph puts every node at (0, 0): place them in graph order on a grid of rows
    (a 500-node graph is 25 x 21 nodes, about 6,200 x 2,700 scene px)."""
    with graph.batch():
        for i, n in enumerate(graph.topological_order()):
            graph.move(n, ((i % columns) * 250.0, (i // columns) * 130.0))


def make_view(doc):
    scene = GraphScene(doc)
    view = CanvasView(scene)
    view.resize(VIEW_W, VIEW_H)
    view.minimap.hide()
    view.show()
    QApplication.processEvents()
    return scene, view


def render(view) -> None:
    """One synchronous repaint of the canvas, through its paint event (what the screen gets)."""
    view.viewport().repaint()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_build(n: int, e: int) -> float:
    """Baseline: n plain rect items and e line items into a fresh scene."""
    scene = QGraphicsScene()
    t = time.perf_counter()
    for i in range(n):
        it = QGraphicsRectItem(0, 0, 160, 90)
        it.setPos((i % 25) * 250.0, (i // 25) * 130.0)
        scene.addItem(it)
    for i in range(e):
        scene.addItem(QGraphicsLineItem(QLineF(i, 0, i + 90, 130)))
    dt = time.perf_counter() - t
    scene.clear()
    return dt


def empty_view():
    """Baseline for repaints: the same canvas over an empty graph."""
    doc = Document(NetGraph("empty"))
    return make_view(doc)


def mouse(view, kind, scene_pos) -> None:
    p = QPointF(view.mapFromScene(scene_pos))
    t = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
         "release": QEvent.Type.MouseButtonRelease}[kind]
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else Qt.MouseButton.LeftButton
    QApplication.sendEvent(view.viewport(), QMouseEvent(t, p, p, button, held,
                                                        Qt.KeyboardModifier.NoModifier))


def drag(view, scene, graph, node, steps: int, repaint: bool) -> list[float]:
    """Drag node by `steps` mouse moves of 1.5 x 0.7 screen pixels; the time of each
    (model move + item + edges, and the viewport repaint when asked)."""
    item = scene.nodes[node]
    start = item.sceneBoundingRect().center() + QPointF(0, 12)
    item = scene.node_at(start)  # the node on top there (a drag may have left two overlapping)
    before = item.pos()
    scene.clearSelection()
    mouse(view, "press", start)
    times = []
    p = start
    z = view.zoom()
    for k in range(1, steps + 1):
        p = start + QPointF(k * 1.5, k * 0.7) / z
        t0 = time.perf_counter()
        mouse(view, "move", p)
        if repaint:
            view.viewport().repaint()
        times.append(time.perf_counter() - t0)
    mouse(view, "release", p)
    assert item.pos() != before, "the drag did not move the node"
    return times


def empty_repaint(empty, zoom: float) -> float:
    """Baseline: a repaint of the empty canvas at this zoom (background, grid, frame)."""
    empty.set_zoom(zoom)
    render(empty)
    return median(lambda: render(empty), 15)


def hover(view, steps: int) -> list[float]:
    """Baseline for a drag step: the same mouse moves over empty canvas, nothing held."""
    c = view.mapToScene(view.viewport().rect().center())
    times = []
    for k in range(steps):
        p = QPointF(view.mapFromScene(c + QPointF(k * 1.5, k * 0.7)))
        ev = QMouseEvent(QEvent.Type.MouseMove, p, p, Qt.MouseButton.NoButton,
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        t0 = time.perf_counter()
        QApplication.sendEvent(view.viewport(), ev)
        times.append(time.perf_counter() - t0)
    return times


def open_in_window(path: Path) -> tuple[float, float, float]:
    """Median of 3 opens of a file in a main window from a small project, cold shape cache,
    until the events are handled and the canvas painted: (wall, CPU, baseline); baseline: as
    many plain rect and line items put into a bare scene and painted by a bare view."""
    from app.ui.main_window import MainWindow

    from app.ui import warmup

    w = MainWindow(NetGraph("small"))
    w.ask = lambda *a, **k: "Discard"
    w.resize(1400, 900)
    w.show()
    QApplication.processEvents()
    loading = warmup.start()  # torch loads in the background after the first paint: let it
    if loading is not None:  # finish, so that its CPU time is not counted as the open's
        loading.join()
    runs = []
    for _ in range(3):
        w.doc.replace(NetGraph("small"))
        QApplication.processEvents()
        clear_cache()
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        w.open_file(str(path))
        for _ in range(4):
            QApplication.processEvents()
        w.view.viewport().repaint()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    n, e = w.doc.graph.g.number_of_nodes(), w.doc.graph.g.number_of_edges()
    w.close()
    w.deleteLater()
    QApplication.processEvents()
    bases = []
    for _ in range(3):
        t0 = time.perf_counter()
        scene = QGraphicsScene()
        for i in range(n):
            it = QGraphicsRectItem(0, 0, 160, 90)
            it.setPos((i % 25) * 250.0, (i // 25) * 130.0)
            scene.addItem(it)
        for i in range(e):
            scene.addItem(QGraphicsLineItem(QLineF(i, 0, i + 90, 130)))
        bare = QGraphicsView(scene)
        bare.resize(VIEW_W, VIEW_H)
        bare.show()
        QApplication.processEvents()
        bare.fitInView(scene.itemsBoundingRect())
        bare.viewport().repaint()
        bases.append(time.perf_counter() - t0)
        bare.close()
        scene.clear()
    wall, cpu = sorted(runs)[1]
    return wall, cpu, statistics.median(bases)


def bare_repaint(n: int) -> float:
    """Baseline for a repaint at 100 %: a bare view over n plain rect items, the same size."""
    scene = QGraphicsScene()
    for i in range(n):
        it = QGraphicsRectItem(0, 0, 160, 90)
        it.setPos((i % 25) * 250.0, (i // 25) * 130.0)
        scene.addItem(it)
    bare = QGraphicsView(scene)
    bare.resize(VIEW_W, VIEW_H)
    bare.show()
    QApplication.processEvents()
    bare.centerOn(scene.itemsBoundingRect().center())
    bare.viewport().repaint()
    t = median(lambda: bare.viewport().repaint(), 15)
    bare.close()
    scene.clear()
    return t


def line(what: str, t: float, base: float, base_what: str, target: str = "") -> None:
    ratio = t / base if base > 0 else float("inf")
    print(f"{what}: {ms(t)}   [baseline {base_what}: {ms(base)}; x{ratio:.1f}]"
          + (f"   (target {target})" if target else ""))


def main() -> None:
    quick = "--quick" in sys.argv
    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    _empty_scene, empty = empty_view()
    empty.fit_all()
    render(empty)
    t_empty = median(lambda: render(empty), 15)

    graph = cnn_graph(500)
    spread_out(graph)
    n, e = graph.g.number_of_nodes(), graph.g.number_of_edges()
    doc = Document(graph)
    scene, view = make_view(doc)
    print(f"graph: {n} nodes, {e} edges; view {VIEW_W}x{VIEW_H}, offscreen")

    t = median(scene.rebuild, 7)
    line(f"scene build, {n} nodes (all items from the model), median of 7", t,
         median(lambda: bare_build(n, e), 7), "as many plain Qt items", "<= 100 ms")

    view.fit_all()
    render(view)
    line(f"full-view repaint, fit all ({n} nodes, zoom {view.zoom():.2f})",
         median(lambda: render(view), 15), empty_repaint(empty, view.zoom()),
         "empty canvas, same zoom", "<= 16 ms")
    for zoom in (0.3, 0.5, 1.0):
        view.set_zoom(zoom)
        view.centerOn(scene.nodes[graph.topological_order()[n // 2]])
        render(view)
        shown = len([i for i in scene.items(view.mapToScene(view.viewport().rect()).boundingRect())
                     if i in scene.nodes.values()])
        line(f"full-view repaint at {zoom * 100:.0f} % ({shown} nodes in view)",
             median(lambda: render(view), 15), empty_repaint(empty, zoom),
             "empty canvas, same zoom")

    view.set_zoom(1.0)
    mid = graph.topological_order()[n // 2]
    steps = drag(view, scene, graph, mid, 200, False)
    paint_steps = drag(view, scene, graph, mid, 60, True)
    assert doc.stack.count() == 2, doc.stack.count()  # two drags, two undo steps
    item = scene.nodes[mid]
    base = statistics.median(hover(view, 200))
    line(f"drag, {n} nodes: one mouse-move step (model move + node + "
         f"{len(item.edges_in) + len(item.edges_out)} edges), median of 200 "
         f"(max {ms(max(steps)).strip()})", statistics.median(steps), base,
         "mouse move over empty canvas", "< 16 ms")
    line(f"drag, {n} nodes: one step including the repaint at 100 %, median of 60",
         statistics.median(paint_steps), base + t_empty, "hover + empty repaint")

    sizes = (5000,) if quick else (5000, 10000)
    for size in sizes:
        big = cnn_graph(size)
        spread_out(big)
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "big.json"
            save_project(big, path)
            nb, eb = big.g.number_of_nodes(), big.g.number_of_edges()
            del big
            t_json = median(lambda: json.loads(path.read_text()), 3)
            runs = []
            for _ in range(3):  # each from a small graph (no 10,000 items to delete first)
                doc.replace(Document().graph)
                clear_cache()
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                g = load_project(path)
                t1 = time.perf_counter()
                doc.replace(g, path)  # the scene rebuilds on graphReplaced
                view.fit_all()
                render(view)  # the first paint of the opened file
                runs.append((time.perf_counter() - t0, t1 - t0, time.process_time() - c0))
            t, t_load, cpu = sorted(runs)[1]
            line(f"open a {nb}-node, {eb}-edge file (cold shape cache), canvas only, median of "
                 f"3: load {ms(t_load).strip()} + scene and first paint {ms(t - t_load).strip()}"
                 f" (CPU {ms(cpu).strip()})", t, t_json, "json.load of the file",
                 "<= 1 s cold" if size == 5000 else "<= 2 s")
            t, cpu, n_rect = open_in_window(path)
            line(f"open it in the editor window (File > Open: load, canvas, minimap, summary, "
                 f"status bar; until painted and idle), median of 3 (CPU {ms(cpu).strip()})",
                 t, n_rect, "as many plain Qt rects and lines into a bare scene, painted",
                 "<= 1 s cold" if size == 5000 else "<= 2 s")
        line(f"full-view repaint of the {nb}-node graph (fit all, zoom {view.zoom():.2f})",
             median(lambda: render(view), 15), empty_repaint(empty, view.zoom()),
             "empty canvas, same zoom", "<= 16 ms")
        view.set_zoom(0.3)
        view.centerOn(scene.items_rect().center())
        render(view)
        line(f"full-view repaint of the {nb}-node graph at 30 % (type names shown)",
             median(lambda: render(view), 15), empty_repaint(empty, 0.3),
             "empty canvas, same zoom")
        view.set_zoom(1.0)
        order = doc.graph.topological_order()
        mid = order[len(order) // 2]
        view.centerOn(scene.nodes[mid])
        render(view)
        steps = drag(view, scene, doc.graph, mid, 100, False)
        paint_steps = drag(view, scene, doc.graph, mid, 40, True)
        base = statistics.median(hover(view, 100))
        line(f"drag, {nb} nodes: one mouse-move step, median of 100 (max {ms(max(steps)).strip()})",
             statistics.median(steps), base, "mouse move over empty canvas", "< 16 ms")
        g = doc.graph
        g.unsubscribe(scene._on_event)  # the model alone: NetGraph.move and its checks
        x, y = g.node(mid)["pos"]
        model = median(lambda: g.move(mid, (x + 1, y)), 20)
        g.move(mid, (x, y))
        g.subscribe(scene._on_event)
        print(f"   of which the model's own move (NetGraph.move, its whole-graph check): "
              f"{ms(model)}; the canvas's share: {ms(statistics.median(steps) - model)}")
        line(f"drag, {nb} nodes: one step including the repaint at 100 %, median of 40 "
             f"(max {ms(max(paint_steps)).strip()})", statistics.median(paint_steps),
             base + t_empty, "hover + empty repaint", "< 16 ms")
        line("   the same step against a bare view repainting plain rects at 100 %",
             statistics.median(paint_steps), base + bare_repaint(nb),
             "hover + bare view of as many rects")
        view.set_zoom(0.1)  # plain boxes, 16 px wide: still big enough to grab
        view.centerOn(scene.nodes[mid])
        render(view)
        far = drag(view, scene, doc.graph, mid, 40, True)
        line(f"drag, {nb} nodes, zoomed out to 10 %: one step including the repaint, "
             f"median of 40 (max {ms(max(far)).strip()})", statistics.median(far),
             base + empty_repaint(empty, 0.1), "hover + empty repaint", "< 16 ms")
    print(f"peak memory (max RSS) of this process: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
