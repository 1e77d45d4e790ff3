"""The inspector never changes a value behind the user's back (issue 9, section 4): what was
typed stays in the field, the line under it says why it is refused (with the limit), and
nothing reaches the model until the value is valid."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from tests.test_ui_editor import make_window, settle  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def win(qtbot):
    return make_window(qtbot)


def type_into(field, text: str) -> None:
    """Select all, type the text with the keyboard and press Enter, as a user would."""
    field.setFocus()
    field.selectAll()
    QTest.keyClicks(field, text)
    QTest.keyClick(field, Qt.Key.Key_Return)
    QApplication.processEvents()


def edit(win, node, param):
    win.scene.select_nodes([node])
    settle(win)
    return win.inspector.editors[param]


def test_a_number_past_the_limit_is_kept_and_refused_with_the_limit(win):
    g, before = win.doc.graph, win.doc.graph.to_dict()
    ed = edit(win, "n2", "filters")
    type_into(ed.widget, "100000")
    assert ed.widget.text() == "100000"  # not 1000, not 8192
    assert ed.error.isVisibleTo(win.inspector) and "at most 8192" in ed.error.text()
    assert g.to_dict() == before and win.doc.stack.count() == 0
    # letters are not ignored: kept, with what is wrong with them
    type_into(ed.widget, "6x4")
    assert ed.widget.text() == "6x4" and "'6x4' is not a whole number" in ed.error.text()
    assert g.to_dict() == before
    # a valid value applies and clears the line
    type_into(ed.widget, "48")
    assert g.node("n2")["params"]["filters"] == 48 and not ed.error.isVisibleTo(win.inspector)
    # Up / Down step, and stop at the limits instead of jumping past them
    QTest.keyClick(ed.widget, Qt.Key.Key_Up)
    assert g.node("n2")["params"]["filters"] == 49
    type_into(ed.widget, "8192")
    QTest.keyClick(ed.widget, Qt.Key.Key_Up)
    assert ed.widget.text() == "8192" and g.node("n2")["params"]["filters"] == 8192


def test_a_float_field_keeps_what_was_typed(win):
    ed = edit(win, "n11", "rate")
    rate = win.doc.graph.node("n11")["params"]["rate"]
    type_into(ed.widget, "1.5")
    assert ed.widget.text() == "1.5" and "at most 0.99" in ed.error.text()
    assert win.doc.graph.node("n11")["params"]["rate"] == rate
    type_into(ed.widget, "0.25")
    assert win.doc.graph.node("n11")["params"]["rate"] == 0.25 and not ed.error.text()


def test_input_shape_says_what_was_wrong_with_what_was_typed(win):
    g, before = win.doc.graph, win.doc.graph.to_dict()
    ed = edit(win, "n1", "shape")
    type_into(ed.widget, "3, x, 32")
    assert ed.widget.text() == "3, x, 32" and "'x' is not a whole number" in ed.error.text()
    assert "[3, 32]" not in ed.error.text()
    type_into(ed.widget, "3, 100000, 100000")
    assert "at most 65536" in ed.error.text() and "positive" not in ed.error.text()
    type_into(ed.widget, "3, 32")
    assert "[C, H, W]" in ed.error.text() and "[3, 32]" in ed.error.text()
    assert g.to_dict() == before
    type_into(ed.widget, "3x64x64")  # "x" between numbers separates them
    assert g.node("n1")["params"]["shape"] == [3, 64, 64] and not ed.error.text()


def test_repeat_keeps_an_out_of_range_count(win):
    win.scene.select_nodes(["n9"])
    settle(win)
    rep = win.inspector.repeat
    type_into(rep.widget, "100")
    assert rep.widget.text() == "100" and "64" in rep.error.text()
    assert win.doc.graph.node("n9").get("repeat", 1) == 1
    type_into(rep.widget, "two")
    assert "'two' is not a whole number" in rep.error.text()
    type_into(rep.widget, "3")
    assert win.doc.graph.node("n9")["repeat"] == 3 and not rep.error.text()


def test_the_wheel_never_changes_a_field_that_was_not_clicked(win):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    def wheel(w):
        ev = QWheelEvent(QPointF(5, 5), QPointF(w.mapToGlobal(QPoint(5, 5))), QPoint(0, 0),
                         QPoint(0, -120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                         Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(w, ev)

    ed = edit(win, "n8", "function")  # Activation: a choice
    before = win.doc.graph.node("n8")["params"]["function"]
    win.view.setFocus()
    wheel(ed.widget)
    assert win.doc.graph.node("n8")["params"]["function"] == before and win.doc.stack.count() == 0
    # the Train panel's settings too (scrolling the dock is not an edit)
    epochs = win.ensure_train_panel().epochs_spin  # the panel is made when first shown
    value = epochs.value()
    wheel(epochs)
    assert epochs.value() == value
