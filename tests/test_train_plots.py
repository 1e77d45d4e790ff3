"""The Train dock's pyqtgraph plots: hover values, overlaid runs, PNG/SVG export, and the
list of the project's runs."""
import pytest

pytest.importorskip("pytestqt")

from helpers import tiny_net
from PySide6.QtCore import QPointF, Qt

from app.train.config import TrainConfig
from app.train.runs import recording
from app.ui.train_plots import ConfusionMatrixWidget, CurvesWidget
from app.ui.train_runs import RunsList


def scene_pos(plot, x, y):
    return plot.vb.mapViewToScene(QPointF(x, y))


def test_curves_hover_and_export(qtbot, tmp_path):
    w = CurvesWidget()
    qtbot.addWidget(w)
    w.resize(500, 250)
    w.show()
    w.clear(epochs=2)
    for i in range(1, 5):
        w.add_train(i / 2, 2.0 / i, 0.2 * i)
    w.add_val(1, 1.5, 0.7)
    w.add_val(2, 0.9, 0.85)
    qtbot.waitExposed(w)
    text = w.hover_text(scene_pos(w.acc_plot, 1.05, 0.5))
    assert "validation accuracy 70.0% at epoch 1.00" in text and "train accuracy 40.0%" in text
    assert "validation loss 0.9000 at epoch 2.00" in w.hover_text(scene_pos(w.loss_plot, 1.9, 1))
    assert w.hover_text(QPointF(-50, -50)) == ""
    w.set_overlays({"run-a": [{"epoch": 1, "val_loss": 1.2, "val_acc": 0.6},
                              {"epoch": 2, "val_loss": 0.7, "val_acc": 0.9},
                              {"epoch": 3, "val_loss": 0.5, "val_acc": 0.95}]})
    assert "run-a 90.0%" in w.hover_text(scene_pos(w.acc_plot, 2, 0.5))
    assert w.acc_plot.vb.viewRange()[0][1] >= 3  # the longer run fits in view
    png, svg = w.export(tmp_path / "c.png"), w.export(tmp_path / "c.svg")
    assert png.stat().st_size > 1000 and "<svg" in svg.read_text()
    with pytest.raises(ValueError, match=".png or .svg"):
        w.export(tmp_path / "c.jpg")
    w.set_overlays({})
    assert "run-a" not in w.hover_text(scene_pos(w.acc_plot, 2, 0.5))


def test_confusion_matrix_hover_and_export(qtbot, tmp_path):
    w = ConfusionMatrixWidget()
    qtbot.addWidget(w)
    w.resize(400, 400)
    w.show()
    qtbot.waitExposed(w)
    w.set_matrix([[8, 2, 0], [0, 7, 3], [1, 0, 9]], ["cat", "dog", "fox"])
    assert w.hover_text(scene_pos(w.plot, 2.5, 1.5)) == \
        "true dog predicted as fox: 3 of 10 (30% of class dog)"
    assert w.hover_text(scene_pos(w.plot, 0.5, 0.5)).startswith("correct: 8 of 10")
    assert w.hover_text(scene_pos(w.plot, 5.5, 0.5)) == ""
    assert w.export(tmp_path / "cm.png").stat().st_size > 1000
    w.clear()
    assert w.hover_text(scene_pos(w.plot, 0.5, 0.5)) == ""


def write_run(folder, project, graph, val_accs):
    cb = recording(None, str(folder), graph, TrainConfig(lr=0.01), project=str(project))
    cb("start", {"device": "cpu", "data": "digits", "classes": ["0", "1"], "start_epoch": 0})
    for i, acc in enumerate(val_accs, 1):
        cb("epoch_end", {"epoch": i, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0,
                         "val_acc": acc, "seconds": 1.0, "confusion_matrix": [[1, 0], [0, 1]],
                         "classes": ["0", "1"]})
    cb("end", {"status": "finished", "best_val_acc": max(val_accs)})


def test_runs_list_overlays_ticked_runs(qtbot, tmp_path):
    project = tmp_path / "net.json"
    project.write_text("{}")
    write_run(tmp_path / "runs" / "net-1", project, tiny_net(), [0.5, 0.8])
    write_run(tmp_path / "runs" / "net-2", project, tiny_net(filters=16), [0.9])
    runs, curves = RunsList(), CurvesWidget()
    qtbot.addWidget(runs)
    qtbot.addWidget(curves)
    runs.overlaysChanged.connect(curves.set_overlays)
    runs.set_project(project)
    items = [runs.list.item(i) for i in range(runs.list.count())]
    assert [i.text().split(" · ")[:3] for i in items] == [["net-1", "80.0%", "2 ep"],
                                                         ["net-2", "90.0%", "1 ep"]]
    assert "n2.filters 8→16" in items[1].text()
    items[0].setCheckState(Qt.CheckState.Checked)
    assert list(curves.overlays) == ["net-1"] and len(curves.overlays["net-1"]) == 2
    write_run(tmp_path / "runs" / "net-3", project, tiny_net(), [0.7])
    runs.refresh()  # a new run appears; the tick stays
    assert runs.list.count() == 3 and list(curves.overlays) == ["net-1"]
    runs.set_project(None)
    assert curves.overlays == {} and "save the project" in runs.list.item(0).text()


def test_a_dock_run_is_kept_beside_the_project_and_listed(qtbot, tmp_path):
    from types import SimpleNamespace

    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from app.ui.train_panel import TrainPanel
    project = tmp_path / "net.json"
    project.write_text("{}")
    window = QWidget()  # stands in for the editor: the panel reads window().doc.path
    window.doc = SimpleNamespace(path=project)
    qtbot.addWidget(window)
    panel = TrainPanel(window)
    QVBoxLayout(window).addWidget(panel)
    panel.set_graph(tiny_net())
    panel.set_config(TrainConfig(epochs=1, batch_size=64, device="cpu"))
    assert "no runs yet" in panel.runs.list.item(0).text()
    with qtbot.waitSignal(panel.finished, timeout=120_000) as done:
        assert panel.start()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    result = done.args[0]
    assert result.status == "finished" and result.last_checkpoint.startswith(
        str(tmp_path / "runs" / "net-"))
    item = panel.runs.list.item(0)
    assert item.text().startswith("net-") and f"{result.best_val_acc:.1%}" in item.text()
    panel.shutdown()
