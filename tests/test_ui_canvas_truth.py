"""The canvas never shows a stale picture (issue 9, section 1): after every kind of edit the
canvas and the minimap draw exactly what a fresh drawing of the model draws (a new scene and
view built from the model's dict, with the same zoom, scroll and selection)."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QPointF  # noqa: E402

from app.graph import NetGraph  # noqa: E402
from app.ui.document import Document  # noqa: E402
from app.ui.scene import GraphScene  # noqa: E402
from app.ui.view import CanvasView  # noqa: E402
from tests.test_ui_editor import drag, in_port, make_window, out_port, settle  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def fresh_view(w) -> CanvasView:
    """A new scene and view of a copy of the model, framed and selected like w's canvas."""
    g = NetGraph()
    g.load_dict(w.doc.current.to_dict())
    scene = GraphScene(Document(g))
    view = CanvasView(scene)
    view.kept_scene = scene  # the view does not own its scene: keep it (and its wrapper) alive
    view.resize(w.view.size())
    view.setTransform(w.view.transform())
    view.show()
    view.minimap.setVisible(w.view.minimap.isVisible())
    view.minimap.resize(w.view.minimap.size())
    QApplication.processEvents()
    view.horizontalScrollBar().setValue(w.view.horizontalScrollBar().value())
    view.verticalScrollBar().setValue(w.view.verticalScrollBar().value())
    for n in w.scene.selected_nodes():
        scene.nodes[n].setSelected(True)
    for k in w.scene.selected_edges():
        scene.edges[k].setSelected(True)
    view.minimap.place()
    view.minimap.refit()
    QApplication.processEvents()
    return view


def paint(w) -> None:
    """Let both views repaint as they would on screen (the minimap refits after 50 ms)."""
    settle(w)
    w.view.minimap.refit()
    for _ in range(3):
        QApplication.processEvents()


def assert_fresh(w, what: str) -> None:
    for zoom in (None, 1.0):  # the whole network (zoomed out), then readable at 100 %
        if zoom is not None:
            w.view.set_zoom(zoom)
            sel = w.scene.selected_nodes() or list(w.scene.nodes)[-1:]
            if sel:
                w.view.center_on_node(w.scene.nodes[sel[0]])
        paint(w)
        mini = w.view.minimap.viewport().grab().toImage()
        canvas = w.view.viewport().grab().toImage()
        ref = fresh_view(w)
        try:
            same_canvas = canvas == ref.viewport().grab().toImage()
            same_mini = mini == ref.minimap.viewport().grab().toImage()
            assert same_canvas, f"the canvas is stale after {what} (zoom {zoom})"
            assert same_mini, f"the minimap is stale after {what} (zoom {zoom})"
        finally:
            ref.close()
            ref.deleteLater()
        w.view.fit_all()


@pytest.fixture
def win(qtbot):
    w = make_window(qtbot)
    assert w.view.minimap.isVisible()
    paint(w)
    assert_fresh(w, "opening")  # the caches now hold a picture to go stale
    return w


def _connect(w):
    w.doc.disconnect("n1", "n2")
    paint(w)
    drag(w, out_port(w, "n1"), in_port(w, "n2"))
    assert w.doc.graph.inputs_of("n2") == [("n1", 0)]


def _disconnect(w):
    drag(w, in_port(w, "n2"), QPointF(300, 400))  # pull the edge off its port
    assert w.doc.graph.inputs_of("n2") == []


def _reconnect(w):
    drag(w, in_port(w, "n5"), in_port(w, "n3"), steps=6)  # n4's edge moves off n5 …
    w.doc.disconnect("n2", "n3")
    paint(w)
    drag(w, in_port(w, "n5"), in_port(w, "n3"))
    drag(w, out_port(w, "n2"), in_port(w, "n5"))  # … and back, through an empty port


def _parameter(w):
    w.scene.select_nodes(["n6"])
    settle(w)
    w.inspector.editors["filters"].widget.setValue(64)  # the Add below now has an error


def _rename(w):
    w.doc.rename("n3", "second stage")


def _fix(w):
    w.doc.set_param("n6", "filters", 64)
    paint(w)
    w.problems.fix_buttons[0].click()
    assert not w.doc.graph.problems()


def _paste(w):
    w.scene.select_nodes(["n8", "n9"])
    w.paste(w.copy())


def _delete(w):
    w.scene.select_nodes(["n9"])  # a middle node: the nodes after it lose their input
    w.delete_action.trigger()


def _group_ungroup(w):
    w.ask_group = lambda name, color: (name, color, "")
    w.scene.select_nodes(["n5", "n6"])
    w.group_action.trigger()
    paint(w)
    assert_fresh(w, "group")
    w.ungroup_action.trigger()


def _undo(w):
    w.doc.set_param("n6", "filters", 64)
    paint(w)
    w.doc.stack.undo()


def _redo(w):
    _undo(w)
    paint(w)
    w.doc.stack.redo()


def _template(w):
    w.new_document("resnet18")


def _first_node(w):
    w.new_document()  # the empty canvas shows its hint …
    paint(w)
    w.doc.add_node("Input", (0, 0))  # … which goes away whole with the first node


def _last_node(w):
    _first_node(w)
    paint(w)
    w.doc.stack.undo()  # the hint comes back


@pytest.mark.parametrize("edit", [_connect, _disconnect, _reconnect, _parameter, _rename, _fix,
                                  _paste, _delete, _group_ungroup, _undo, _redo, _template,
                                  _first_node, _last_node],
                         ids=lambda f: f.__name__.strip("_"))
def test_canvas_and_minimap_match_a_fresh_drawing_after(win, edit):
    edit(win)
    assert_fresh(win, edit.__name__.strip("_"))
