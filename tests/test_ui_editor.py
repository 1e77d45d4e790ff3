"""The editor's canvas, palette, inspector, problems panel and clipboard (pytest-qt, offscreen)."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

# Widgets need a QApplication. Make it at collection time, before code elsewhere in the run
# can make a plain QGuiApplication (the diagram exporter does, for PDF), which no QWidget
# can live with (Qt aborts the process).
_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.ui.palette import make_mime  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def make_window(qtbot, **kw):
    w = MainWindow(**kw)
    w.ask = lambda *a, **k: "Discard"  # never a modal dialog in a test
    w.warnings = []
    w.warn = lambda title, text: w.warnings.append((title, text))
    w.info = lambda title, text: None
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    QApplication.processEvents()  # the docks take their sizes for the window
    w.view.fit_all()
    return w


@pytest.fixture
def win(qtbot):
    return make_window(qtbot)


def settle(w):
    QApplication.processEvents()
    w.doc.flush()


def mouse(view, kind, scene_pos, buttons=Qt.MouseButton.LeftButton, mods=Qt.KeyboardModifier.NoModifier):
    p = QPointF(view.mapFromScene(scene_pos))
    types = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}
    button = Qt.MouseButton.NoButton if kind == "move" else Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == "release" else buttons
    ev = QMouseEvent(types[kind], p, QPointF(view.viewport().mapToGlobal(p.toPoint())),
                     button, held, mods)
    QApplication.sendEvent(view.viewport(), ev)


def out_port(w, n):
    item = w.scene.nodes[n]
    return item.pos() + item.output_port_pos()


def in_port(w, n, i=0):
    item = w.scene.nodes[n]
    return item.pos() + item.input_port_pos(i)


def drag(w, a, b, steps=4):
    mouse(w.view, "press", a)
    for k in range(1, steps + 1):
        mouse(w.view, "move", a + (b - a) * (k / steps))
    mouse(w.view, "release", b)
    settle(w)


def test_window_opens_the_example_with_totals(win):
    g = win.doc.graph
    assert g.g.number_of_nodes() == 12 and not g.problems()
    assert set(win.scene.nodes) == set(g.g.nodes) and len(win.scene.edges) == 12
    assert "497k params" in win.status_params.text()
    assert win.status_output.text() == "output [10]"
    assert win.summary.model.rowCount() == 12
    assert "[32, 16, 16]" in win.scene.nodes["n2"].text()
    assert win.scene.edges[("n1", "n2")].label == "[3, 32, 32]"
    assert not win.isWindowModified()


def test_palette_drop_adds_a_node_through_the_undo_stack(win):
    mime = win.palette.tree.mimeData([win.palette.blocks["Conv2d"]])
    assert bytes(mime.data("application/x-netcanvas-block")) == b"Conv2d"
    vp = win.view.viewport()
    at = QPoint(vp.width() // 4, vp.height() - 60)  # empty canvas (a drop on an edge splices)
    before = win.doc.graph.g.number_of_nodes()
    drop = win.view.mapToScene(at)  # where the drop lands, as the view is now
    for ev in (QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier),
               QDragMoveEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier),
               QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)):
        QApplication.sendEvent(vp, ev)
    settle(win)
    g = win.doc.graph
    assert g.g.number_of_nodes() == before + 1
    new = win.scene.selected_nodes()[0]
    assert g.type_of(new) == "Conv2d" and new in win.scene.nodes
    x, y = g.node(new)["pos"]
    assert abs(x + 80 - drop.x()) < 2 and abs(y + 20 - drop.y()) < 2
    assert win.doc.stack.count() == 1 and win.isWindowModified()
    assert "nothing is connected" in win.scene.nodes[new].text()  # a new node is unconnected
    win.doc.stack.undo()
    assert new not in g.g and new not in win.scene.nodes and not win.isWindowModified()
    # the same handler also takes make_mime's data, and double-click adds after the selection
    win.scene.select_nodes(["n12"])
    added = win.add_block("Activation")
    assert win.doc.graph.inputs_of(added) == [("n12", 0)]
    assert make_mime("Add").text() == "Add"


def test_palette_search_and_tooltip(win):
    win.palette.search.setText("incep")
    shown = win.palette.visible_blocks()
    assert "Inception" in shown and "Conv2d" not in shown
    tip = win.palette.blocks["Conv2d"].toolTip(0)
    assert "filters" in tip and "64" in tip and "kernel_size" in tip


def test_connect_and_disconnect_by_ports(win):
    g = win.doc.graph
    a = win.doc.add_node("Conv2d", (0, 300), {"filters": 8})
    b = win.doc.add_node("Concat", (300, 300))
    settle(win)
    drag(win, out_port(win, "n1"), in_port(win, a))
    assert g.inputs_of(a) == [("n1", 0)]
    assert ("n1", a) in win.scene.edges
    # Concat grows a free port: always one more than connected
    assert win.scene.nodes[b].n_ports == 1
    drag(win, out_port(win, a), in_port(win, b, 0))
    assert win.scene.nodes[b].n_ports == 2
    drag(win, out_port(win, "n2"), win.scene.nodes[b].sceneBoundingRect().center())  # onto the body
    assert g.inputs_of(b) == [(a, 0), ("n2", 1)] and win.scene.nodes[b].n_ports == 3
    # pull the edge off input 1 and drop it on empty canvas: disconnected
    drag(win, in_port(win, b, 1), QPointF(700, 700))
    assert g.inputs_of(b) == [(a, 0)] and ("n2", b) not in win.scene.edges
    # click an edge to select it, Del removes it
    e = win.scene.edges[("n1", a)]
    mouse(win.view, "press", e.path.pointAtPercent(0.3))
    mouse(win.view, "release", e.path.pointAtPercent(0.3))
    assert win.scene.selected_edges() == [("n1", a)]
    win.delete_action.trigger()
    settle(win)
    assert g.inputs_of(a) == []
    # from a free input port back to an output works too
    drag(win, in_port(win, a), out_port(win, "n3"))
    assert g.inputs_of(a) == [("n3", 0)]
    # pulling an edge from one input onto another moves it, in one undo step
    c = win.doc.add_node("BatchNorm", (0, 500))
    settle(win)
    n = win.doc.stack.count()
    drag(win, in_port(win, a), in_port(win, c))
    assert g.inputs_of(a) == [] and g.inputs_of(c) == [("n3", 0)] and win.doc.stack.count() == n + 1
    count = win.doc.stack.count()
    for _ in range(count):
        win.doc.stack.undo()
    assert a not in g.g and b not in g.g and len(win.scene.edges) == 12


def test_invalid_connection_is_refused_with_a_message(win):
    g = win.doc.graph
    before, count = g.to_dict(), win.doc.stack.count()
    start, end = out_port(win, "n4"), in_port(win, "n2")  # n4 → n2 would make a cycle
    mouse(win.view, "press", start)
    mouse(win.view, "move", (start + end) / 2)
    mouse(win.view, "move", end)
    line = win.scene._wire["line"]
    assert not line.ok  # the rubber line is red
    msg = win.statusBar().currentMessage()
    assert "Cannot connect" in msg and "cycle" in msg
    mouse(win.view, "release", end)
    settle(win)
    assert g.to_dict() == before and win.doc.stack.count() == count
    assert "cycle" in win.statusBar().currentMessage()
    # a taken single input is refused too
    drag(win, out_port(win, "n1"), in_port(win, "n3"))
    assert g.to_dict() == before and "already connected" in win.statusBar().currentMessage()


def test_inspector_edit_updates_shapes_downstream(win):
    g = win.doc.graph
    win.scene.select_nodes(["n1"])
    settle(win)
    assert win.inspector.node == "n1"
    shape = win.inspector.editors["shape"]
    shape.widget.setText("3, 64, 64")
    shape.widget.editingFinished.emit()
    settle(win)
    assert g.node("n1")["params"]["shape"] == [3, 64, 64]
    assert "→ [32, 32, 32]" in win.scene.nodes["n2"].text()  # downstream, at once
    assert "→ [128, 16, 16]" in win.scene.nodes["n7"].text()
    assert win.scene.edges[("n2", "n3")].label == "[32, 32, 32]"
    assert win.doc.stack.count() == 1
    # an invalid value is refused in the field, with the reason, and nothing is applied
    shape.widget.setText("3, 0, 64")
    shape.widget.editingFinished.emit()
    settle(win)
    assert shape.error.isVisibleTo(win.inspector) and "positive" in shape.error.text()
    assert g.node("n1")["params"]["shape"] == [3, 64, 64] and win.doc.stack.count() == 1
    # spin box steps on one parameter merge into one undo step
    win.scene.select_nodes(["n2"])
    settle(win)
    spin = win.inspector.editors["filters"].widget
    for v in (33, 34, 35):
        spin.setValue(v)
    settle(win)
    assert g.node("n2")["params"]["filters"] == 35 and win.doc.stack.count() == 2
    assert "10.2k" not in win.scene.nodes["n2"].text()
    win.doc.stack.undo()
    assert g.node("n2")["params"]["filters"] == 32
    settle(win)
    assert spin.value() == 32  # the inspector follows the model
    # a label edit renames
    win.inspector.label_edit.setText("first")
    win.inspector.label_edit.editingFinished.emit()
    assert g.node("n2")["label"] == "first" and "first" in win.scene.nodes["n2"].text()


def test_error_marks_node_and_quick_fix_is_one_undo_step(win):
    g = win.doc.graph
    win.doc.set_param("n6", "filters", 64)  # Add: 128 vs 64 channels
    settle(win)
    item = win.scene.nodes["n7"]
    assert item.problem and "channels" in item.problem and "channels" in item.toolTip()
    assert win.scene.nodes["n8"].blocked  # downstream of the error: muted
    assert win.problems.count() == 1 and len(win.problems.fix_buttons) == 1
    assert "⚠ 1 problem" in win.status_problems.text()
    broken = g.to_dict()
    # clicking the problem selects the node and centres on it
    from PySide6.QtTest import QTest
    QTest.mouseClick(win.problems.cards[0], Qt.MouseButton.LeftButton)
    assert win.scene.selected_nodes() == ["n7"]
    assert win.view.mapToScene(win.view.viewport().rect()).boundingRect().contains(
        item.sceneBoundingRect().center())
    button = win.problems.fix_buttons[0]
    assert button.text().startswith("Fix: insert Conv2d(")
    assert "on the edge into input 2" in button.toolTip()
    assert win.inspector.fix_button.isVisibleTo(win.inspector)  # the inspector offers it too
    button.click()
    settle(win)
    assert not g.problems() and g.g.number_of_nodes() == 13
    assert not win.scene.nodes["n7"].problem and not win.scene.nodes["n8"].blocked
    win.doc.stack.undo()
    settle(win)
    assert g.to_dict() == broken and win.scene.nodes["n7"].problem
    win.doc.stack.redo()
    assert not g.problems()


def test_move_drag_is_one_undo_step(win):
    g = win.doc.graph
    item = win.scene.nodes["n3"]
    win.view.set_zoom(1.0)  # whole scene units per pixel: the drag below is exact
    win.view.centerOn(item)
    start = item.sceneBoundingRect().center() + QPointF(0, 10)
    old = g.node("n3")["pos"]
    drag(win, start, start + QPointF(40, 60), steps=6)
    assert g.node("n3")["pos"] == (old[0] + 40, old[1] + 60)
    assert item.pos() == QPointF(*g.node("n3")["pos"])
    assert win.doc.stack.count() == 1
    edge = win.scene.edges[("n2", "n3")]
    assert edge.path.elementAt(edge.path.elementCount() - 1).y == pytest.approx(
        (item.pos() + item.input_port_pos(0)).y())
    win.doc.stack.undo()
    assert g.node("n3")["pos"] == old and item.pos() == QPointF(*old)


def test_rubber_band_and_ctrl_click_selection(win):
    r = win.scene.nodes["n2"].sceneBoundingRect().united(win.scene.nodes["n3"].sceneBoundingRect())
    a, b = r.topLeft() - QPointF(20, 20), r.bottomRight() + QPointF(5, 5)
    QApplication.sendEvent(win.view.viewport(), QMouseEvent(
        QEvent.Type.MouseButtonPress, QPointF(win.view.mapFromScene(a)), QPointF(),
        Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    for t in (0.5, 1.0):
        QApplication.sendEvent(win.view.viewport(), QMouseEvent(
            QEvent.Type.MouseMove, QPointF(win.view.mapFromScene(a + (b - a) * t)), QPointF(),
            Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    QApplication.sendEvent(win.view.viewport(), QMouseEvent(
        QEvent.Type.MouseButtonRelease, QPointF(win.view.mapFromScene(b)), QPointF(),
        Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    assert set(win.scene.selected_nodes()) >= {"n2", "n3"}
    c = win.scene.nodes["n5"].sceneBoundingRect().center()
    mouse(win.view, "press", c, mods=Qt.KeyboardModifier.ControlModifier)
    mouse(win.view, "release", c, mods=Qt.KeyboardModifier.ControlModifier)
    assert "n5" in win.scene.selected_nodes() and "n2" in win.scene.selected_nodes()


def test_copy_paste_and_duplicate(win):
    g = win.doc.graph
    win.scene.select_nodes(["n5", "n6"])
    win.copy_action.trigger()
    text = QApplication.clipboard().mimeData().text()
    assert '"netcanvas"' in text and "res_conv1" in text
    ids = win.paste()
    settle(win)
    assert len(ids) == 2 and set(win.scene.selected_nodes()) == set(ids)
    new5, new6 = ids
    assert g.inputs_of(new6) == [(new5, 0)]  # edges among the pasted nodes are kept
    (x5, y5), (x6, y6) = g.node("n5")["pos"], g.node("n6")["pos"]
    (a5, b5), (a6, b6) = g.node(new5)["pos"], g.node(new6)["pos"]
    assert (a6 - a5, b6 - b5) == (x6 - x5, y6 - y5)  # the piece keeps its shape …
    assert (a5, b5) not in ((x5, y5), (x5 + 30, y5 + 30))  # … away from the originals
    assert g.node(new5)["label"] == "res_conv1"
    assert win.doc.stack.count() == 1  # one undo step
    dup = win.duplicate()
    assert len(dup) == 2 and win.doc.stack.count() == 2
    win.doc.stack.undo()
    win.doc.stack.undo()
    assert g.g.number_of_nodes() == 12
    # cut removes and keeps on the clipboard, as one step
    win.scene.select_nodes(["n11"])
    win.cut_action.trigger()
    assert "n11" not in g.g and win.doc.stack.count() == 1
    assert win.doc.stack.undoText().startswith("Cut")


def test_paste_into_a_second_window(win, qtbot):
    win.scene.select_nodes(["n2", "n3", "n4"])
    win.copy()
    other = make_window(qtbot)
    other.new_document()
    assert other.doc.graph.g.number_of_nodes() == 0
    ids = other.paste()
    settle(other)
    g2 = other.doc.graph
    assert sorted(g2.type_of(n) for n in ids) == ["Inception", "VGGBlock", "VGGBlock"]
    assert g2.g.number_of_edges() == 2 and set(other.scene.nodes) == set(ids)
    assert other.isWindowModified() and not win.isWindowModified()
    other.doc.stack.undo()
    assert g2.g.number_of_nodes() == 0


def test_zoom_fit_minimap_and_layout(win):
    v = win.view
    v.set_zoom(1.0)
    v.set_zoom(2.0, QPoint(100, 100))
    assert v.zoom() == pytest.approx(2.0)
    win.fit_action.trigger()
    rect = v.mapToScene(v.viewport().rect()).boundingRect()
    assert rect.contains(win.scene.items_rect())
    assert win.view.minimap.isVisible()
    g = win.doc.graph
    before = g.to_dict()
    win.layout_action.trigger()
    settle(win)
    assert win.doc.stack.count() == 1 and win.doc.stack.undoText() == "Auto-layout"
    xs = {n: g.node(n)["pos"][0] for n in g.g.nodes}
    assert all(xs[s] < xs[t] for s, t, _ in g.edges())  # left to right
    win.doc.stack.undo()
    assert g.to_dict() == before


def test_pan_and_summary_click(win):
    v = win.view
    v.set_zoom(1.0)
    h, vb = v.horizontalScrollBar(), v.verticalScrollBar()
    x0, y0 = h.value(), vb.value()
    p = QPointF(300, 300)
    for kind, q, button, held in (("press", p, Qt.MouseButton.MiddleButton, Qt.MouseButton.MiddleButton),
                                  ("move", p + QPointF(-80, -40), Qt.MouseButton.NoButton,
                                   Qt.MouseButton.MiddleButton),
                                  ("release", p + QPointF(-80, -40), Qt.MouseButton.MiddleButton,
                                   Qt.MouseButton.NoButton)):
        t = {"press": QEvent.Type.MouseButtonPress, "move": QEvent.Type.MouseMove,
             "release": QEvent.Type.MouseButtonRelease}[kind]
        QApplication.sendEvent(v.viewport(), QMouseEvent(t, q, q, button, held,
                                                         Qt.KeyboardModifier.NoModifier))
    assert (h.value(), vb.value()) == (x0 + 80, y0 + 40)
    assert win.doc.stack.count() == 0  # panning is not an edit
    row = win.summary.row_of("n9")
    win.summary.table.clicked.emit(win.summary.model.index(row, 0))
    assert win.scene.selected_nodes() == ["n9"] and win.inspector.node == "n9"


def test_fallback_layout_is_layered():
    from app.project import load_project
    from app.ui.layout import layered_positions
    from resources import templates
    g = load_project(templates()["googlenet"])
    pos = layered_positions(g)
    assert set(pos) == set(g.g.nodes)
    assert all(pos[s][0] < pos[t][0] for s, t, _ in g.edges())
    cells = list(pos.values())
    assert len(set(cells)) == len(cells)
