"""Where new nodes land and the gestures of a node editor (issue 9, sections 2 and 3): no new
node on top of another, palette blocks dropped on an edge splice in, dissolve-delete, the
quick-add popup (shape-aware), port hover, find node, forgiving palette search."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent  # noqa: E402

from app.ui.node_item import WIDTH  # noqa: E402
from tests.test_ui_editor import make_window, settle  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def win(qtbot):
    return make_window(qtbot)


def overlaps(w) -> list[tuple[str, str]]:
    """Pairs of nodes whose boxes overlap on the canvas."""
    boxes = {n: QRectF(it.pos().x(), it.pos().y(), WIDTH, it.height) for n, it in w.scene.nodes.items()}
    ids = sorted(boxes)
    return [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if boxes[a].intersects(boxes[b])]


def test_fix_inserts_without_overlap_and_one_undo_makes_it_as_before(win):
    g = win.doc.graph
    win.doc.set_param("n6", "filters", 64)
    settle(win)
    before = g.to_dict()
    win.problems.fix_buttons[0].click()
    settle(win)
    assert not g.problems() and g.g.number_of_nodes() == 13
    assert overlaps(win) == []
    new = next(n for n in g.g if n not in {d["id"] for d in before["nodes"]})
    assert g.inputs_of(new) == [("n6", 0)] and g.node("n7")["pos"][0] > g.node(new)["pos"][0]
    win.doc.stack.undo()
    assert g.to_dict() == before  # positions too: one step
    win.doc.stack.redo()
    assert overlaps(win) == [] and g.g.number_of_nodes() == 13


def test_insert_block_here_makes_room(win):
    g = win.doc.graph
    x3 = g.node("n3")["pos"][0]
    new = win.doc.insert_on_edge("n2", "n3", "BatchNorm")
    settle(win)
    assert g.inputs_of(new) == [("n2", 0)] and g.inputs_of("n3") == [(new, 0)]
    assert overlaps(win) == [] and g.node("n3")["pos"][0] > x3
    assert g.node("n12")["pos"][0] > 2530  # the nodes downstream moved along
    win.doc.stack.undo()
    assert g.node("n3")["pos"][0] == x3 and new not in g.g


def test_paste_goes_to_the_cursor_and_never_on_top(win):
    g = win.doc.graph
    win.scene.select_nodes(["n8", "n9"])
    data = win.copy()
    at = QPointF(400, 600)
    ids = win.paste(data, at=at)
    assert g.node(ids[0])["pos"] == (400, 600)  # the piece's top-left at the mouse
    for _ in range(3):  # again at the same place: each copy moves clear of the last
        win.paste(data, at=at)
        assert overlaps(win) == []
    win.paste(data, at=win.scene.nodes["n3"].pos())  # onto existing nodes: moved clear
    assert overlaps(win) == []
    win.scene.select_nodes(["n4", "n5"])
    dup = win.duplicate()
    assert len(dup) == 2 and overlaps(win) == []
    assert g.node(dup[0])["pos"][1] > g.node("n4")["pos"][1]  # below the originals


def test_added_blocks_never_land_on_others(win):
    win.scene.drop_block("Conv2d", win.scene.nodes["n3"].sceneBoundingRect().center() + QPointF(0, 30))
    win.scene.select_nodes(["n4"])  # double-click in the palette: to the right, connected
    win.add_block("BatchNorm")
    win.add_block("Dropout")
    assert overlaps(win) == []


def drop(w, type_id: str, scene_pos: QPointF, hover_only: bool = False):
    mime = w.palette.tree.mimeData([w.palette.blocks[type_id]])
    at = w.view.mapFromScene(scene_pos)
    evs = [QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                           Qt.KeyboardModifier.NoModifier),
           QDragMoveEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)]
    if not hover_only:
        evs.append(QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    for ev in evs:
        QApplication.sendEvent(w.view.viewport(), ev)
    settle(w)


def test_a_block_dropped_on_an_edge_is_spliced_in(win):
    g = win.doc.graph
    edge = win.scene.edges[("n10", "n11")]
    mid = edge.path.pointAtPercent(0.5)
    win.view.set_zoom(1.0)
    win.view.centerOn(mid)
    drop(win, "BatchNorm", mid, hover_only=True)
    assert edge.hot and not win.scene.edges[("n9", "n10")].hot  # it lights up while hovering
    drop(win, "Dropout", mid)
    assert not any(e.hot for e in win.scene.edges.values())
    new = win.scene.selected_nodes()[0]
    assert g.inputs_of(new) == [("n10", 0)] and g.inputs_of("n11") == [(new, 0)]
    assert overlaps(win) == [] and win.doc.stack.count() == 1
    # over empty canvas it is a plain add
    drop(win, "Dropout", QPointF(400, 700))
    assert g.inputs_of(win.scene.selected_nodes()[0]) == []


def test_dissolve_joins_the_neighbours_where_the_shapes_allow(win):
    g = win.doc.graph
    win.scene.select_nodes(["n8"])  # Activation: same shape in and out
    win.view.setFocus()
    from PySide6.QtTest import QTest
    QTest.keyClick(win.view, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    settle(win)
    assert "n8" not in g.g and g.inputs_of("n9") == [("n7", 0)] and not g.problems()
    assert "joined n7 → n9" in win.statusBar().currentMessage()
    win.doc.stack.undo()
    assert g.inputs_of("n8") == [("n7", 0)] and g.inputs_of("n9") == [("n8", 0)]
    # Flatten → Linear: dissolving GlobalAvgPool would give Linear a [C, H, W] input: left open
    win.scene.select_nodes(["n10"])
    win.dissolve_action.trigger()
    settle(win)
    assert "n10" not in g.g and g.inputs_of("n11") == []
    assert "left n9 → n11 open" in win.statusBar().currentMessage()
    win.doc.stack.undo()
    assert g.inputs_of("n11") == [("n10", 0)] and win.doc.stack.index() == 0
    # plain Delete still leaves the ends open
    win.scene.select_nodes(["n8"])
    win.delete_action.trigger()
    assert g.inputs_of("n9") == []


def test_quick_add_from_a_wire_offers_blocks_that_take_its_shape_first(win):
    g = win.doc.graph
    win.doc.delete(["n10", "n11", "n12"])
    settle(win)
    assert g.info["n9"].output_shape[1:] != (1, 1)
    start = win.scene.nodes["n9"].pos() + win.scene.nodes["n9"].output_port_pos()
    from tests.test_ui_editor import drag
    drag(win, start, start + QPointF(250, 0))  # let go on empty canvas
    popup = win.popup
    assert popup.isVisible() and popup.only.isVisible() and "[" in popup.only.text()
    keys = popup.shown_keys()
    assert keys.index("GlobalAvgPool") < keys.index("Linear")
    assert keys.index("Flatten") < keys.index("Linear")
    popup.only.setChecked(True)
    assert "Linear" not in popup.shown_keys() and "GlobalAvgPool" in popup.shown_keys()
    from PySide6.QtTest import QTest
    QTest.keyClicks(popup.search, "gap")
    assert popup.shown_keys()[0] == "GlobalAvgPool"
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    settle(win)
    new = win.scene.selected_nodes()[0]
    assert g.type_of(new) == "GlobalAvgPool" and g.inputs_of(new) == [("n9", 0)]
    assert not popup.isVisible() and overlaps(win) == []
    # after a flat tensor, Linear fits and GlobalAvgPool does not
    start = win.scene.nodes[new].pos() + win.scene.nodes[new].output_port_pos()
    drag(win, start, start + QPointF(250, 0))
    keys = win.popup.shown_keys()
    assert keys.index("Linear") < keys.index("GlobalAvgPool")
    win.popup.close()
    # from a node that has no shape yet (an error before it), every block but Input
    win.doc.set_param("n6", "filters", 64)
    settle(win)
    assert g.info["n9"].output_shape is None
    popup = win.quick_add(QPointF(0, 900), {"src": "n9"})
    assert "Input" not in popup.shown_keys() and "Conv2d" in popup.shown_keys()
    assert not popup.only.isVisible()
    popup.close()


def test_quick_add_by_double_click_and_keys_and_find_node(win):
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtCore import QEvent
    from PySide6.QtTest import QTest
    g = win.doc.graph
    at = QPointF(300, 500)
    p = QPointF(win.view.mapFromScene(at))
    ev = QMouseEvent(QEvent.Type.MouseButtonDblClick, p, QPointF(win.view.viewport().mapToGlobal(p.toPoint())),
                     Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win.view.viewport(), ev)
    popup = win.popup
    assert popup.isVisible() and not popup.only.isVisible()
    QTest.keyClicks(popup.search, "bn")  # forgiving: initials
    assert popup.shown_keys()[0] == "BatchNorm"
    QTest.keyClick(popup.search, Qt.Key.Key_Down)
    QTest.keyClick(popup.search, Qt.Key.Key_Up)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    settle(win)
    new = win.scene.selected_nodes()[0]
    assert g.type_of(new) == "BatchNorm" and win.doc.stack.count() == 1
    # Tab and Shift+A on the canvas open it too
    win.view.setFocus()
    for key, mods in ((Qt.Key.Key_Tab, Qt.KeyboardModifier.NoModifier),
                      (Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)):
        win.popup = None
        win.activateWindow()  # as the window manager does when a popup closes
        QApplication.processEvents()
        QTest.keyClick(win.view, key, mods)
        assert win.popup is not None and win.popup.isVisible()
        QTest.keyClick(win.popup.search, Qt.Key.Key_Escape)
        assert not win.popup.isVisible()
    # Ctrl+F finds a node by label and centres it
    win.view.fit_all()
    win.view.set_zoom(1.0)
    win.view.centerOn(win.scene.nodes["n1"].pos())
    win.find_action.trigger()
    QTest.keyClicks(win.popup.search, "res_conv2")
    QTest.keyClick(win.popup.search, Qt.Key.Key_Return)
    assert win.scene.selected_nodes() == ["n6"]
    assert win.view.mapToScene(win.view.viewport().rect()).boundingRect().contains(
        win.scene.nodes["n6"].sceneBoundingRect().center())


def test_ports_say_their_shape_and_menus_show_ampersands(win):
    item = win.scene.nodes["n7"]
    shape = list(win.doc.graph.info["n6"].output_shape)
    assert win.scene.port_text(item, ("in", 1)) == f"n7 input 2: {shape} from n6"
    assert win.scene.port_text(item, ("in", 2)) == "n7 input 3: free — drag an output here"
    assert win.scene.port_text(win.scene.nodes["n4"], ("out", 0)) == f"n4 output: {shape}"
    from PySide6.QtWidgets import QMenu
    menu = QMenu()
    win._block_menu(menu, lambda t: None)
    titles = [a.text() for a in menu.actions()]
    assert "Normalization && regularization" in titles


def test_palette_search_is_forgiving(win):
    for typed, first in (("bn", "BatchNorm"), ("incep", "Inception"), ("gap", "GlobalAvgPool"),
                         ("conv2dd", "Conv2d")):
        win.palette.search.setText(typed)
        assert win.palette.visible_blocks()[0] == first, typed


def test_while_a_wire_is_drawn_the_ports_it_can_go_to_light_up(win):
    from tests.test_ui_editor import mouse, out_port
    a = win.doc.add_node("Conv2d", (0, 400))
    settle(win)
    start = out_port(win, a)
    mouse(win.view, "press", start)
    mouse(win.view, "move", start + QPointF(60, 200))
    nodes = win.scene.nodes
    assert nodes["n7"].accepts == "in"  # Add: a free input
    assert nodes["n1"].accepts is False  # an Input takes no wire
    assert nodes["n3"].accepts is False  # its one input is taken
    assert nodes[a].accepts is False  # itself
    assert "Cannot connect" not in win.statusBar().currentMessage()
    mouse(win.view, "move", win.scene.nodes["n3"].sceneBoundingRect().center())
    assert "already connected" in win.statusBar().currentMessage()  # the others say why not
    win.scene.cancel_wire()
    assert all(it.accepts is None for it in nodes.values())
    start = out_port(win, "n10")  # n4 feeds n10: back to n4 would be a cycle
    mouse(win.view, "press", start)
    mouse(win.view, "move", start + QPointF(60, 200))
    assert nodes["n4"].accepts is False and nodes[a].accepts == "in"
    win.scene.cancel_wire()


def test_ctrl_right_drag_cuts_the_wires_it_crosses(win):
    g = win.doc.graph
    win.view.set_zoom(1.0)
    win.view.centerOn(win.scene.nodes["n4"])
    out = win.scene.nodes["n4"].pos() + win.scene.nodes["n4"].output_port_pos()
    a, b = out + QPointF(40, -200), out + QPointF(40, 60)  # across both wires leaving n4
    ctrl = Qt.KeyboardModifier.ControlModifier
    right = Qt.MouseButton.RightButton
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent
    none = Qt.MouseButton.NoButton
    vp = win.view.viewport()
    for kind, p, button, held in (("press", a, right, right), ("move", (a + b) / 2, none, right),
                                  ("move", b, none, right), ("release", b, right, none)):
        q = QPointF(win.view.mapFromScene(p))
        t = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}[kind]
        QApplication.sendEvent(vp, QMouseEvent(t, q, QPointF(vp.mapToGlobal(q.toPoint())),
                                               button, held, ctrl))
    settle(win)
    assert not g.g.has_edge("n4", "n5") and not g.g.has_edge("n4", "n7")
    assert g.g.number_of_edges() == 10 and win.doc.stack.count() == 1  # one undo step
    assert "Cut 2 connections" in win.statusBar().currentMessage()
    win.doc.stack.undo()
    assert g.g.has_edge("n4", "n5") and g.g.has_edge("n4", "n7")
