"""Editor speed, offscreen: scene build, full-view repaint, node drag, opening a big file.

Run: python benchmarks/bench_editor.py
Graphs come from bench_validation.cnn_graph (stages of convs with skips, blocks, branches).
Targets: build of a 500-node graph <= 100 ms; full-view repaint <= 25 ms; one drag step
(mouse event -> model move -> node and edges follow) under one frame, 16 ms.
"""
from __future__ import annotations

import os
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
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage, QMouseEvent, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

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
    img = QImage(view.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(img)
    view.render(painter)
    painter.end()


def mouse(view, kind, scene_pos) -> None:
    p = QPointF(view.mapFromScene(scene_pos))
    t = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
         "release": QEvent.Type.MouseButtonRelease}[kind]
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else Qt.MouseButton.LeftButton
    QApplication.sendEvent(view.viewport(), QMouseEvent(t, p, p, button, held,
                                                        Qt.KeyboardModifier.NoModifier))


def main() -> None:
    app = QApplication.instance() or QApplication([])
    apply_theme(app, "light")
    graph = cnn_graph(500)
    spread_out(graph)
    n, e = graph.g.number_of_nodes(), graph.g.number_of_edges()
    doc = Document(graph)
    scene, view = make_view(doc)
    print(f"graph: {n} nodes, {e} edges; view {VIEW_W}x{VIEW_H}, offscreen")

    t = median(scene.rebuild, 7)
    print(f"scene build (all items from the model), median of 7: {ms(t)}   (target <= 100 ms)")

    view.fit_all()
    render(view)  # first paint fills the item caches
    t_fit = median(lambda: render(view), 15)
    print(f"full-view repaint, fit all (zoom {view.zoom():.2f}, simplified nodes): {ms(t_fit)}   "
          f"(target <= 25 ms)")
    for zoom in (0.5, 1.0):
        view.set_zoom(zoom)
        view.centerOn(scene.nodes[graph.topological_order()[n // 2]])
        t_cold = median(lambda: ([i.update() for i in scene.nodes.values()], render(view)), 5)
        render(view)
        t_warm = median(lambda: render(view), 15)
        shown = sum(1 for i in scene.nodes.values()
                    if view.mapToScene(view.viewport().rect()).boundingRect().intersects(
                        i.sceneBoundingRect()))
        print(f"full-view repaint at {zoom * 100:.0f} % ({shown} full nodes in view): {ms(t_warm)} "
              f"cached; {ms(t_cold)} with every node's cache dropped")

    # drag a node in the middle: each mouse-move step is a model move (undo command merged
    # into one) whose notification moves the item and re-routes its edges
    mid = graph.topological_order()[n // 2]
    item = scene.nodes[mid]
    start = item.sceneBoundingRect().center() + QPointF(0, 12)
    scene.clearSelection()
    mouse(view, "press", start)
    steps = []
    for k in range(1, 201):
        p = start + QPointF(k * 1.5, k * 0.7)
        t0 = time.perf_counter()
        mouse(view, "move", p)
        steps.append(time.perf_counter() - t0)
    mouse(view, "release", p)
    paint_steps = []
    mouse(view, "press", p)
    for k in range(1, 61):
        q = p + QPointF(-k * 1.5, -k * 0.7)
        t0 = time.perf_counter()
        mouse(view, "move", q)
        view.viewport().repaint()
        paint_steps.append(time.perf_counter() - t0)
    mouse(view, "release", q)
    assert doc.stack.count() == 2, doc.stack.count()  # two drags, two undo steps
    print(f"drag: one mouse-move step (model move + node + {len(item.edges_in) + len(item.edges_out)} "
          f"edges), median of 200: {ms(statistics.median(steps))}, max {ms(max(steps))}   "
          f"(target < 16 ms)")
    print(f"drag: one step including the viewport repaint at 100 %, median of 60: "
          f"{ms(statistics.median(paint_steps))}")

    big = cnn_graph(5000)
    spread_out(big)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.json"
        save_project(big, path)
        nb, eb = big.g.number_of_nodes(), big.g.number_of_edges()
        for label, cold in (("warm shape cache", False), ("cold shape cache", True)):
            if cold:
                clear_cache()
            t0 = time.perf_counter()
            g = load_project(path)
            t1 = time.perf_counter()
            doc.replace(g, path)  # the scene rebuilds on graphReplaced
            t2 = time.perf_counter()
            print(f"open a {nb}-node, {eb}-edge file ({label}): load {ms(t1 - t0)} + "
                  f"scene build {ms(t2 - t1)} = {ms(t2 - t0)}")
    view.fit_all()
    render(view)
    print(f"full-view repaint of the {nb}-node graph (fit all): {ms(median(lambda: render(view), 5))}")


if __name__ == "__main__":
    main()
