"""The canvas at scale (pytest-qt, offscreen): far out, the canvas draws boxes in bulk and
no item one by one; near, only items in view are painted; zoomed out, nodes keep their type
and ×N badge; the minimap never paints items; the bounds follow moves without a full pass."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QPointF, QRectF  # noqa: E402
from PySide6.QtGui import QColor, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QStyleOptionGraphicsItem  # noqa: E402

from app.graph import NetGraph  # noqa: E402
from app.ui import overview as overview_module  # noqa: E402
from app.ui import view as view_module  # noqa: E402
from app.ui.edge_item import EdgeItem  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.node_item import WIDTH, NodeItem, detail_level  # noqa: E402

COLUMNS = 20


def grid_graph(n: int) -> NetGraph:
    """Input → n-1 ReLU-free layers in a chain, laid out on a grid of COLUMNS."""
    g = NetGraph("grid")
    with g.batch():
        last = g.add_node("Input", {"shape": [3, 8, 8]}, pos=(0.0, 0.0))
        for i in range(1, n):
            t = ("Conv2d", {"filters": 4}) if i % 3 else ("BatchNorm", {})
            node = g.add_node(t[0], t[1], pos=((i % COLUMNS) * 250.0, (i // COLUMNS) * 130.0))
            g.connect(last, node)
            last = node
    return g


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def big(qtbot):
    w = MainWindow(grid_graph(300))
    w.ask = lambda *a, **k: "Discard"
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def painted(monkeypatch):
    """Counts of NodeItem / EdgeItem paint() calls on a view's widget (the minimap's kept
    picture is rendered from the scene without one, and only when the scene changed)."""
    counts = {"node": 0, "edge": 0, "widgets": set()}
    node_paint, edge_paint = NodeItem.paint, EdgeItem.paint

    def count_node(self, painter, option, widget=None):
        counts["node"] += widget is not None
        counts["widgets"].add(widget)
        return node_paint(self, painter, option, widget)

    def count_edge(self, painter, option, widget=None):
        counts["edge"] += widget is not None
        counts["widgets"].add(widget)
        return edge_paint(self, painter, option, widget)

    monkeypatch.setattr(NodeItem, "paint", count_node)
    monkeypatch.setattr(EdgeItem, "paint", count_edge)
    return counts


def view_image(view) -> QImage:
    return view.viewport().grab().toImage()


def color_at(view, img: QImage, scene_pos: QPointF) -> QColor:
    p = view.mapFromScene(scene_pos)
    return img.pixelColor(p.x(), p.y())


def close(a: QColor, b: QColor, tol: int = 24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_detail_levels():
    assert detail_level(1.0) == detail_level(0.42) == "full"
    assert detail_level(0.3) == detail_level(0.15) == "title"
    assert detail_level(0.14) == detail_level(0.05) == "box"


def paint_item(item: NodeItem, scale: float) -> QImage:
    img = QImage(int(WIDTH * scale) + 8, int(item.height * scale) + 8, QImage.Format.Format_ARGB32)
    img.fill(QColor("#000000"))
    p = QPainter(img)
    p.translate(4, 4)
    p.scale(scale, scale)
    item.paint(p, QStyleOptionGraphicsItem(), None)
    p.end()
    return img


def test_zoomed_out_nodes_keep_their_type_and_badge(big):
    g = big.doc.graph
    node = next(n for n in g.g.nodes if g.node(n)["type"] == "Conv2d")
    item = big.scene.nodes[node]
    plain = paint_item(item, 0.3)
    whites = sum(1 for x in range(plain.width()) for y in range(plain.height())
                 if plain.pixelColor(x, y).lightness() > 230)
    assert whites > 10  # the type name, in white on the node's colour
    big.doc.set_repeat(node, 3)
    assert item.badge == "×3"
    assert paint_item(item, 0.3) != plain  # the badge shows
    # far out: a plain box in the category colour, no text
    box = paint_item(item, 0.1)
    inside = box.pixelColor(box.width() // 2, box.height() // 2)
    assert close(inside, item.color)


def test_far_out_the_canvas_paints_no_item_one_by_one(big, painted):
    v = big.view
    v.set_zoom(0.1)
    v.centerOn(big.scene.items_rect().center())
    QApplication.processEvents()
    painted["node"] = painted["edge"] = 0
    painted["widgets"].clear()
    img = view_image(v)
    assert painted["node"] == painted["edge"] == 0
    visible = v.mapToScene(v.viewport().rect()).boundingRect()
    shown = [i for i in big.scene.nodes.values() if visible.contains(i.sceneBoundingRect())]
    assert len(shown) > 100
    for item in shown[::17]:  # every node is there, in its colour
        assert close(color_at(v, img, item.sceneBoundingRect().center()), item.color)
    # a node moved (an edit while zoomed out): the picture follows, old place is empty
    item = shown[len(shown) // 2]
    old = item.sceneBoundingRect().center()
    x, _y = big.doc.graph.node(item.node_id)["pos"]
    big.doc.move({item.node_id: (x, -600.0)})  # above the grid, still in view
    QApplication.processEvents()
    img = view_image(v)
    assert not close(color_at(v, img, old), item.color)
    assert close(color_at(v, img, item.sceneBoundingRect().center()), item.color)
    assert v.viewport() not in painted["widgets"]


def test_only_items_in_view_are_painted(big, painted):
    v = big.view
    v.set_zoom(1.0)
    g = big.doc.graph
    v.centerOn(big.scene.nodes[g.topological_order()[150]])
    QApplication.processEvents()
    painted["node"] = painted["edge"] = 0
    for item in big.scene.nodes.values():
        item.update()  # every node must be drawn again (no cached picture)
    v.viewport().repaint()
    margin = 10 / v.zoom()  # Qt repaints a few pixels beyond the exposed area
    visible = v.mapToScene(v.viewport().rect()).boundingRect().adjusted(-margin, -margin,
                                                                       margin, margin)
    in_view = [i for i in big.scene.nodes.values() if visible.intersects(i.sceneBoundingRect())]
    edges_in_view = [e for e in big.scene.edges.values()
                     if visible.intersects(e.sceneBoundingRect())]
    assert 0 < painted["node"] <= len(in_view) < len(big.scene.nodes) // 4
    assert painted["edge"] <= len(edges_in_view) < len(big.scene.edges) // 4


def test_the_minimap_paints_no_item_and_keeps_its_picture_while_scrolling(big, painted, qtbot):
    mm = big.view.minimap
    assert mm.isVisible()
    qtbot.wait(150)  # the minimap refits 50 ms after the scene last changed
    mm.refit()
    mm.viewport().repaint()
    picture = mm._pixmap
    assert picture is not None
    big.view.horizontalScrollBar().setValue(big.view.horizontalScrollBar().value() + 200)
    QApplication.processEvents()
    mm.viewport().repaint()
    assert mm._pixmap is picture  # the canvas moved: only the outline is redrawn
    assert mm.viewport() not in painted["widgets"]
    img = mm.viewport().grab().toImage()
    item = next(iter(big.scene.nodes.values()))
    p = mm.mapFromScene(item.sceneBoundingRect().center())
    assert close(img.pixelColor(p.x(), p.y()), item.color, 40)


def test_a_cell_is_recorded_again_only_where_something_changed(big, qtbot):
    v = big.view
    v.set_zoom(0.1)
    v.centerOn(big.scene.items_rect().center())
    qtbot.wait(100)  # whatever showing the window changed has been painted
    v.viewport().repaint()
    ov = overview_module.overview_of(big.scene)
    before = ov.recorded
    v.viewport().repaint()
    assert ov.recorded == before  # nothing changed: nothing recorded
    node = big.doc.graph.topological_order()[40]
    x, y = big.doc.graph.node(node)["pos"]
    big.doc.move({node: (x + 10, y)})
    qtbot.wait(20)
    v.viewport().repaint()
    # the cells under the node and its two edges (one spans a row), not the ~40 in view
    assert 0 < ov.recorded - before <= 12 < before


def brute_bounds(scene) -> QRectF:
    r = QRectF()
    for item in scene.nodes.values():
        r = r.united(item.sceneBoundingRect())
    return r


def test_the_bounds_follow_moves_additions_and_deletions(big):
    s, doc = big.scene, big.doc
    g = doc.graph
    assert s.items_rect() == brute_bounds(s)
    order = g.topological_order()
    corner = order[-1]
    x, y = g.node(corner)["pos"]
    doc.move({corner: (x + 5000, y + 4000)})  # outwards
    assert s.items_rect() == brute_bounds(s)
    doc.move({corner: (x, y)})  # back in: the bounds shrink
    assert s.items_rect() == brute_bounds(s)
    inner = order[150]
    x, y = g.node(inner)["pos"]
    doc.move({inner: (x + 7, y + 3)})
    assert s.items_rect() == brute_bounds(s)
    doc.delete([corner])
    assert s.items_rect() == brute_bounds(s)
    doc.stack.undo()
    QApplication.processEvents()
    assert s.items_rect() == brute_bounds(s)


def test_edge_bounds_hold_the_curve_and_its_label(big):
    s = big.scene
    g = big.doc.graph
    a, b = g.topological_order()[5], g.topological_order()[6]
    for pos in ((-900.0, 40.0), (3000.0, -700.0), (g.node(a)["pos"][0] + 40, 2000.0)):
        big.doc.move({b: pos})
        e = s.edges[(a, b)]
        assert e.boundingRect().contains(e.path.boundingRect())
        assert e.boundingRect().contains(e._label_rect)
        mid = e.path.pointAtPercent(0.5)
        assert e._label_rect.center().x() == pytest.approx(mid.x(), abs=0.01)


def test_selecting_and_deleting_many_nodes_signals_once(big, qtbot):
    """One selectionChanged for Ctrl+A and for deleting a selection (one per node made
    both quadratic: 42 s for Ctrl+A on 8,000 nodes)."""
    signals = []
    big.scene.selectionChanged.connect(lambda: signals.append(1))
    big.select_all()
    assert len(signals) == 1 and len(big.scene.selected_nodes()) == 300
    big.scene.select_nodes(list(big.scene.nodes)[:120])
    assert len(signals) == 2 and len(big.scene.selected_nodes()) == 120
    big.delete_selection()
    qtbot.waitUntil(lambda: len(signals) == 3)
    qtbot.wait(20)
    assert len(signals) == 3 and not big.scene.selectedItems()
    assert len(big.scene.nodes) == 180 and big.inspector.node is None


@pytest.mark.parametrize("zoom", [0.12, 0.3])
def test_zoomed_out_the_bulk_drawing_looks_like_the_items(big, monkeypatch, zoom):
    """The overview draws what the items themselves draw on the canvas (boxes and lines;
    boxes with their type names and curves)."""
    v = big.view
    g = big.doc.graph
    big.scene.select_nodes([g.topological_order()[33]])
    big.doc.set_repeat(g.topological_order()[34], 4)  # a ×4 badge
    big.scene.edges[tuple(g.topological_order()[40:42])].setSelected(True)
    v.set_zoom(zoom)
    v.centerOn(big.scene.items_rect().center())
    QApplication.processEvents()
    bulk = view_image(v).convertToFormat(QImage.Format.Format_RGB32)
    monkeypatch.setattr(view_module, "detail_level", lambda lod: "full")  # item by item
    items = view_image(v).convertToFormat(QImage.Format.Format_RGB32)
    differ = sum(1 for y in range(0, bulk.height(), 2) for x in range(0, bulk.width(), 2)
                 if not close(bulk.pixelColor(x, y), items.pixelColor(x, y), 40))
    assert differ <= bulk.width() * bulk.height() // 4 // 500  # under 0.2 %


def test_the_scene_rect_holds_the_nodes_and_changes_only_when_they_near_its_edge(big):
    s, doc = big.scene, big.doc
    s.update_scene_rect()
    rect = s.sceneRect()
    assert rect.contains(s.items_rect())
    changes = []
    s.sceneRectChanged.connect(changes.append)
    node = doc.graph.topological_order()[150]
    x, y = doc.graph.node(node)["pos"]
    doc.move({node: (x + 40, y + 20)})  # well inside: the index is kept
    s.update_scene_rect()
    assert not changes and s.sceneRect() == rect
    corner = doc.graph.topological_order()[-1]
    x, y = doc.graph.node(corner)["pos"]
    doc.move({corner: (x + 3000, y + 3000)})  # out: the scene grows around it
    s.update_scene_rect()
    assert changes and s.sceneRect().contains(s.items_rect().adjusted(-600, -600, 600, 600))
    doc.stack.undo()
    s.update_scene_rect()
    assert s.sceneRect().contains(s.items_rect())
    assert s.sceneRect().width() <= s.items_rect().width() + 3 * 1200 + 1


def test_a_new_theme_records_every_cell_again(big, qtbot):
    """Zoomed out, the canvas is drawn from recorded cells: switching light/dark must not
    leave the old theme's colours on screen."""
    from PySide6.QtWidgets import QApplication

    from app.ui.theme import apply_theme, theme
    v = big.view
    v.set_zoom(0.1)
    v.centerOn(big.scene.items_rect().center())
    qtbot.wait(50)
    v.viewport().repaint()
    ov = overview_module.overview_of(big.scene)
    before = ov.recorded
    was_dark = theme.colors.dark
    try:
        apply_theme(QApplication.instance(), "light" if was_dark else "dark")
        v.viewport().repaint()
        assert ov.recorded - before > 20  # the cells in view, all of them, recorded anew
        img = v.viewport().grab().toImage()
        corner = img.pixelColor(2, 2)  # empty canvas: the new theme's background
        assert (corner.lightness() < 128) == (not was_dark)
    finally:
        apply_theme(QApplication.instance(), "dark" if was_dark else "light")
