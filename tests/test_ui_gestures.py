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
