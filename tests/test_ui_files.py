"""The editor's files: save/open, broken files, recent files, drops, autosave and recovery,
the prompt before closing, the Export menu and `netcanvas gui --screenshot`."""
import json
import os

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

# Widgets need a QApplication. Make it at collection time, before code elsewhere in the run
# can make a plain QGuiApplication (the diagram exporter does, for PDF), which no QWidget
# can live with (Qt aborts the process).
_APP = QApplication.instance() or QApplication([])

from app.project import load_project  # noqa: E402
from app.ui import files  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


class Dialogs:
    """Stands in for every dialog: answers from a queue, records what was said."""

    def __init__(self, answers=(), save_to=None, open_from=None):
        self.answers = list(answers)
        self.asked, self.warned, self.told = [], [], []
        self.save_to, self.open_from = save_to, open_from

    def install(self, w):
        w.ask = lambda title, text, buttons: (self.asked.append((title, text)) or
                                              (self.answers.pop(0) if self.answers else buttons[-1]))
        w.warn = lambda title, text: self.warned.append((title, text))
        w.info = lambda title, text: self.told.append((title, text))
        w.save_path = lambda *a: str(self.save_to) if self.save_to else ""
        w.open_path = lambda *a: str(self.open_from) if self.open_from else ""
        return w


def window(qtbot, dialogs, **kw):
    w = dialogs.install(MainWindow(**kw))
    qtbot.addWidget(w)
    return w


def test_save_open_round_trip(qtbot, tmp_path):
    d = Dialogs(save_to=tmp_path / "net")
    w = window(qtbot, d)
    w.doc.set_param("n2", "filters", 40)
    w.doc.rename("n3", "second")
    assert w.isWindowModified() and w.windowTitle().startswith("Hybrid CNN (example)[*]")
    assert w.save()  # no path yet: asks where (Save As), adds .json
    path = tmp_path / "net.json"
    assert path.exists() and not w.isWindowModified() and w.doc.path == path
    assert "net.json" in w.windowTitle()
    saved = w.doc.graph.to_dict()
    assert load_project(path).to_dict() == saved
    assert files.recent_files()[0] == str(path.resolve())
    w2 = window(qtbot, Dialogs(open_from=path))
    assert w2.open_file()
    assert w2.doc.graph.to_dict() == saved and w2.doc.path == path and not w2.isWindowModified()
    assert w2.recent_menu.actions()[0].text() == "net.json"
    # Save writes to the same file, without asking
    w2.doc.set_param("n2", "filters", 41)
    w2.save_path = lambda *a: pytest.fail("Save must not ask for a path")
    assert w2.save() and load_project(path).node("n2")["params"]["filters"] == 41


def test_broken_file_opens_nothing_and_says_why(qtbot, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "netcanvas", "version": 1, "nodes": [
        {"id": "a", "type": "Conv9d"}, {"id": "b", "type": "Conv2d", "params": {"filters": 0}}],
        "edges": []}))
    d = Dialogs()
    w = window(qtbot, d)
    w.doc.set_param("n2", "filters", 40)
    before = w.doc.graph.to_dict()
    assert not w.open_file(str(bad))
    assert len(d.warned) == 1
    text = d.warned[0][1]
    assert "Conv9d" in text and "filters must be at least 1" in text
    assert w.doc.graph.to_dict() == before and w.isWindowModified()
    assert not d.asked  # nothing to save: the current document stays
    assert not w.open_file(str(tmp_path / "missing.json")) and "does not exist" in d.warned[-1][1]


def test_new_asks_before_dropping_unsaved_work(qtbot):
    d = Dialogs(answers=["Cancel", "Discard"])
    w = window(qtbot, d)
    w.doc.set_param("n2", "filters", 40)
    assert not w.new_document()  # cancelled
    assert w.doc.graph.g.number_of_nodes() == 12 and len(d.asked) == 1
    assert w.new_document("resnet18")  # discard, then the template
    assert w.doc.graph.g.number_of_nodes() > 5 and w.doc.path is None
    assert not w.isWindowModified() and w.doc.stack.count() == 0


def test_close_prompts_for_unsaved_work(qtbot):
    d = Dialogs(answers=["Cancel"])
    w = window(qtbot, d)
    w.show()
    w.doc.set_param("n2", "filters", 40)
    assert not w.close() and w.isVisible() and d.asked
    d.answers = ["Discard"]
    assert w.close()


def test_drop_a_json_file_opens_it(qtbot, tmp_path):
    from resources import templates
    d = Dialogs()
    w = window(qtbot, d)
    w.open_dropped([str(templates()["vgg16"])])
    assert w.doc.graph.g.number_of_nodes() == load_project(templates()["vgg16"]).g.number_of_nodes()


def test_autosave_and_recovery_after_a_crash(qtbot):
    d = Dialogs()
    w = window(qtbot, d)
    w.doc.set_param("n2", "filters", 44)
    w.doc.rename("n12", "head")
    assert w.autosave_now() and w.autosave.path.exists()
    assert not w.autosave_now()  # nothing new since
    crashed = w.doc.graph.to_dict()
    # the "crash": this window's autosave is left behind under a dead process's id
    dead = files.autosave_dir() / "autosave-999999999-1.json"
    os.replace(w.autosave.path, dead)
    w.doc.stack.setClean()
    d2 = Dialogs(answers=["Recover"])
    w2 = d2.install(MainWindow.__new__(MainWindow))
    MainWindow.__init__(w2, recover=True)
    qtbot.addWidget(w2)
    assert len(d2.asked) == 1 and "Recover" in d2.asked[0][0]
    assert "12 nodes" in d2.asked[0][1]
    assert w2.doc.graph.to_dict() == crashed
    assert w2.isWindowModified() and not dead.exists()
    # declining discards it; no autosave left → no offer
    dead.write_text(json.dumps({"project": crashed, "source": None}))
    d3 = Dialogs(answers=["Discard"])
    w3 = d3.install(MainWindow.__new__(MainWindow))
    MainWindow.__init__(w3, recover=True)
    qtbot.addWidget(w3)
    assert len(d3.asked) == 1 and w3.doc.graph.name == "Hybrid CNN (example)"
    assert not w3.isWindowModified() and not dead.exists()
    assert not w3.offer_recovery()


def test_saving_removes_the_autosave(qtbot, tmp_path):
    w = window(qtbot, Dialogs(save_to=tmp_path / "x.json"))
    w.doc.set_param("n2", "filters", 44)
    w.autosave_now()
    assert w.autosave.path.exists()
    w.save()
    assert not w.autosave.path.exists()


def test_export_menu_calls_the_exporter(qtbot, tmp_path, monkeypatch):
    ex = pytest.importorskip("app.export")
    calls = []
    monkeypatch.setattr(ex, "export_python", lambda g, p: calls.append(("py", p)))
    monkeypatch.setattr(ex, "export_diagram", lambda g, p, fmt=None, expanded=False:
                        calls.append((fmt, p)))

    class Report:
        max_abs_diff, seconds = 3.2e-7, 0.5

    monkeypatch.setattr(ex, "export_onnx", lambda g, p, opset=None: calls.append(("onnx", p)) or Report())
    d = Dialogs(save_to=tmp_path / "model")
    w = window(qtbot, d)
    w.export_python()
    d.save_to = tmp_path / "net.png"
    w.export_diagram()
    d.save_to = tmp_path / "net.onnx"
    w.export_onnx(wait=True)
    qtbot.waitUntil(lambda: len(d.told) == 3, timeout=5000)
    assert calls == [("py", str(tmp_path / "model.py")), ("png", str(tmp_path / "net.png")),
                     ("onnx", str(tmp_path / "net.onnx"))]
    # every export confirms the same way: a message and the status bar, with the path
    assert [t for t, _ in d.told] == ["Python export", "Diagram export", "ONNX export"]
    assert str(tmp_path / "model.py") in d.told[0][1] and str(tmp_path / "net.png") in d.told[1][1]
    assert "3.20e-07" in d.told[2][1] and "3.20e-07" in w.statusBar().currentMessage()
    assert QApplication.overrideCursor() is None


def test_export_without_exporter_says_so(qtbot, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_export(name, *a, **k):
        if name == "app.export":
            raise ImportError("No module named 'app.export'")
        return real(name, *a, **k)

    d = Dialogs()
    w = window(qtbot, d)
    monkeypatch.setattr(builtins, "__import__", no_export)
    w.export_python()
    assert d.warned and "not available" in d.warned[0][0]


def test_gui_command_screenshot(tmp_path):
    from app.cli import main
    png = tmp_path / "shot.png"
    assert main(["gui", "--screenshot", str(png), "--size", "900x600"]) == 0
    from PySide6.QtGui import QImage
    img = QImage(str(png))
    assert img.width() >= 900 and img.height() >= 600
