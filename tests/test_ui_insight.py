"""The editor shows what a design does: receptive fields and training memory in the
inspector, summary and status bar, and File ▸ Compare with… on the canvas."""
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from app.project import load_project  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from resources import templates  # noqa: E402

INCEPTION3 = Path(__file__).resolve().parents[1] / "examples" / "resnet18-inception3.json"


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def open_window(qtbot, path=None):
    w = MainWindow(load_project(path), path) if path else MainWindow()
    w.warned = []
    w.warn = lambda title, text: w.warned.append(text)
    qtbot.addWidget(w)
    return w


def test_status_bar_says_whether_training_fits_and_inspector_shows_field(qtbot):
    w = open_window(qtbot)  # the built-in example
    qtbot.waitUntil(lambda: "fits" in w.memory_status.text(), timeout=30_000)
    assert w.memory_status.text().startswith("Train ×") and "MiB" in w.memory_status.text()
    vgg2 = next(n for n in w.doc.graph.topological_order() if w.doc.graph.node(n)["label"] == "vgg2")
    w.scene.select_nodes([vgg2])
    w.inspector.set_node(vgg2)
    text = w.inspector.stats.text()
    assert "Receptive field <b>16×16</b>, stride 4" in text and "Training:" in text
    m = w.summary.model
    rows = {m.index(i, 0).data(): m.index(i, 5).data() for i in range(m.rowCount())}
    assert rows[f"{vgg2} (vgg2)"] == "16×16 /4"


def test_a_network_with_problems_gets_no_estimate(qtbot):
    w = open_window(qtbot)
    g = w.doc.graph
    g.add_node("Conv2d")  # unconnected: a problem
    w.doc.changed.emit()
    qtbot.waitUntil(lambda: "fix the problems" in w.memory_status.text(), timeout=10_000)
    assert w.memory_status.estimate is None


def test_compare_with_a_file_colours_the_canvas_and_lists_the_changes(qtbot):
    w = open_window(qtbot, str(templates()["resnet18"]))
    w.open_path = lambda *a: str(INCEPTION3)
    compare = next(a for a in w.menuBar().actions()[0].menu().actions()
                   if a.text() == "Compare with &File…")
    compare.trigger()
    p = w.diff_panel
    rows = [p.list.item(i).text() for i in range(p.list.count())]
    # the open file is ResNet-18: compared with the Inception version, n7/n8 are "added"
    assert "+ n7 Residual" in rows and "− n14 Inception (removed)" in rows
    assert set(p.ghosts) == {"n13", "n14", "n15"} and len(p.marks) == 2 + 3
    p.list.itemClicked.emit(p.list.item(rows.index("+ n7 Residual")))
    assert w.scene.selected_nodes() == ["n7"]  # a click on a row selects and centres it
    w.doc.graph.set_param("n9", "filters", 256)  # an edit: the comparison follows
    qtbot.waitUntil(lambda: any(p.list.item(i).text().startswith("~ n9 Residual: filters 512 → 256")
                                for i in range(p.list.count())), timeout=5000)
    p.clear()
    assert not p.marks and all(m.scene() is None for m in p.marks)


def test_compare_with_last_saved(qtbot, tmp_path):
    w = open_window(qtbot)
    w.diff_panel.window.show_status = lambda text, ms=0: setattr(w, "said", text)
    last_saved = next(a for a in w.menuBar().actions()[0].menu().actions()
                      if a.text() == "Compare with &Last Saved")
    last_saved.trigger()
    assert "not been saved" in w.said
    from app.project import save_project
    path = tmp_path / "net.json"
    save_project(w.doc.graph, path)
    w.doc.path = path
    last_saved.trigger()
    assert "The same network" in w.diff_panel.head.text()
    n = w.doc.graph.topological_order()[1]
    w.doc.graph.rename(n, "renamed")
    qtbot.waitUntil(lambda: w.diff_panel.list.count() > 0, timeout=5000)
    assert w.diff_panel.list.item(0).text().startswith(f"~ {n}")
