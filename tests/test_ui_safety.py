"""The editor's safety net (issue 12): a bug in an edit shows a dialog and a report, and the
project stays exactly as it was."""
import sys

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication, QMessageBox

_APP = QApplication.instance() or QApplication([])

from app.ui import commands as C
from app.ui import safety
from app.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("NETCANVAS_REPORTS", str(tmp_path / "reports"))


def test_a_failing_edit_leaves_the_project_as_it_was(qtbot, tmp_path, monkeypatch):
    w = MainWindow()
    qtbot.addWidget(w)
    before = w.doc.graph.to_dict()
    undo_count = w.doc.stack.count()
    real_apply = C.AddNode.apply

    def half_then_fail(self):
        real_apply(self)  # the node is in…
        raise RuntimeError("bug after a partial edit")  # …and then the edit breaks
    monkeypatch.setattr(C.AddNode, "apply", half_then_fail)
    seen = []
    monkeypatch.setattr(safety, "_installed_hook", None)
    monkeypatch.setattr(sys, "excepthook", lambda *a: seen.append(a[1]))
    safety._install_hook()  # ours, in front of one that records (as pytest-qt's would)
    assert w.doc.add_node("Conv2d", (0.0, 0.0)) is None  # refused, like any refused edit
    assert "internal error" in w.doc.last_error and "as it was" in w.doc.last_error
    assert w.doc.graph.to_dict() == before and w.doc.stack.count() == undo_count
    assert [str(e) for e in seen] == ["bug after a partial edit"]  # a harness still hears it
    reports = list((tmp_path / "reports").iterdir())
    assert len(reports) == 1 and "bug after a partial edit" in reports[0].read_text()
    boxes = [b for b in QApplication.topLevelWidgets() if isinstance(b, QMessageBox)
             and b.isVisible()]
    assert any("internal error: RuntimeError: bug after a partial edit" in b.text()
               for b in boxes)
    for b in boxes:
        b.close()


def test_pasted_text_from_another_program_is_checked_like_a_file():
    from PySide6.QtCore import QMimeData

    from app.ui.clipboard import from_mime
    m = QMimeData()
    m.setText('{"format":"netcanvas","version":1,"nodes":[{"id":"i","type":"Input"}]}')
    assert from_mime(m)["edges"] == []  # left out, as a file may: an empty list
    m.setText('"netcanvas"' + "[" * 100_000)  # was a RecursionError out of the paste
    assert from_mime(m) is None
    m.setText('{"format":"netcanvas","version":1,"nodes":[{"id":"i","type":[]}]}')
    assert from_mime(m) is None
