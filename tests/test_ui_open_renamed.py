"""The editor opens a project whose block the catalogue has since named, and says once, in
the status bar, what it renamed (see app/project_migrate.py)."""
import json

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication

_APP = QApplication.instance() or QApplication([])  # before any QGuiApplication (see test_ui_files)

from test_project_migrate import old_project

from app.ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def test_open_renames_tells_in_the_status_bar_and_saves_the_new_name(qtbot, tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old_project()))
    w = MainWindow()
    qtbot.addWidget(w)
    warned = []
    w.warn = lambda title, text: warned.append(text)
    w.open_path = lambda *a: str(path)
    assert w.open_file() and not warned
    message = w.statusBar().currentMessage()
    assert f"Opened {path}" in message and "Fire → “Fire (mine)”" in message
    assert "Fire (mine)" in w.doc.graph.definitions and not w.doc.graph.problems()
    assert w.save()
    assert [d["name"] for d in json.loads(path.read_text())["definitions"]] == [
        "Upsample (mine)", "Fire (mine)"]


def test_a_file_given_at_start_says_it_too(qtbot, tmp_path):
    from app.project import load_project
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old_project()))
    w = MainWindow(load_project(path), path)
    qtbot.addWidget(w)
    assert "Upsample → “Upsample (mine)”" in w.statusBar().currentMessage()
