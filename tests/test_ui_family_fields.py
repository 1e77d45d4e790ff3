"""The inspector edits the new parameter kinds as typed: ZeroPad2d's sides, an Upsample size
that can be cleared back to "not set", a pyramid's levels."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from tests.test_ui_editor import make_window, settle  # noqa: E402
from tests.test_ui_inspector_fields import type_into  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def added_after(win, node, type_id):
    win.scene.select_nodes([node])
    settle(win)
    new = win.add_block(type_id)
    settle(win)
    return new


def test_new_kinds_are_typed_in_the_inspector(qtbot):
    win = make_window(qtbot)
    g = win.doc.graph
    c, h, w = g.info["n2"].output_shape
    up = added_after(win, "n2", "Upsample")
    size = win.inspector.editors["size"]
    assert size.widget.text() == "" and "not set" in size.widget.placeholderText()
    type_into(size.widget, "12, 9")
    assert g.node(up)["params"]["size"] == [12, 9] and g.info[up].output_shape == (c, 12, 9)
    size.widget.setFocus()
    size.widget.selectAll()
    QTest.keyClick(size.widget, Qt.Key.Key_Backspace)  # cleared: back to scale_factor
    QTest.keyClick(size.widget, Qt.Key.Key_Return)
    settle(win)
    assert g.node(up)["params"]["size"] is None and g.info[up].output_shape == (c, 2 * h, 2 * w)
    pad = added_after(win, up, "ZeroPad2d")
    type_into(win.inspector.editors["padding"].widget, "1, 0, 2, 3")
    assert g.node(pad)["params"]["padding"] == [1, 0, 2, 3]
    assert g.info[pad].output_shape == (c, 2 * h + 5, 2 * w + 1)
    type_into(win.inspector.editors["padding"].widget, "1, 2")
    assert "[left, right, top, bottom]" in win.inspector.editors["padding"].error.text()
    spp = added_after(win, pad, "SpatialPyramidPooling")
    type_into(win.inspector.editors["levels"].widget, "1, 3")
    assert g.node(spp)["params"]["levels"] == [1, 3] and g.info[spp].output_shape == (c * 10,)
