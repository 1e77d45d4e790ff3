"""The Train dock: a run on digits with live curves, cancel, errors in the panel."""
import pytest

pytest.importorskip("pytestqt")

from helpers import chain
from PySide6.QtCore import Qt

from app.train import TrainConfig
from app.ui.train_panel import TrainPanel


def tiny(units=10):
    g, _ = chain(("Conv2d", {"filters": 8, "batch_norm": True}), "GlobalAvgPool",
                 ("Linear", {"units": units}), shape=(1, 8, 8), name="tiny")
    return g


@pytest.fixture
def panel(qtbot):
    p = TrainPanel()
    qtbot.addWidget(p)
    p.resize(360, 1000)
    p.show()
    yield p
    p.shutdown()


def test_trains_on_digits_with_live_curves_and_saves_weights(panel, qtbot, tmp_path):
    panel.set_graph(tiny())
    panel.set_config(TrainConfig(epochs=2, batch_size=16, lr=0.01, optimizer="adam",
                                 device="cpu", out_dir=str(tmp_path / "ck")))
    assert not panel.save_button.isEnabled()
    shown = []  # what the progress bar said while it moved (the run may end quickly)
    panel.progress.valueChanged.connect(lambda _: shown.append(panel.progress.format()))
    with qtbot.waitSignal(panel.finished, timeout=120_000) as done:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert panel.is_running() and not panel.start_button.isEnabled()
        qtbot.waitUntil(lambda: len(panel.curves.train_loss) >= 2, timeout=60_000)
    assert any("epoch" in f for f in shown), shown
    result = done.args[0]
    assert result.status == "finished", panel.error_label.text()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    assert len(panel.curves.val_acc) == 2 and panel.progress.value() == 1000
    assert len(panel.confusion.matrix) == 10 and panel.confusion.classes[3] == "3"
    assert "Validation accuracy" in panel.result_label.text()
    assert panel.memory_label.text().startswith("Memory: about")
    assert not panel.error_label.isVisible()
    assert (tmp_path / "ck" / "last.pt").exists()
    assert panel.save_button.isEnabled()
    panel.save_weights(str(tmp_path / "w.safetensors"))
    from safetensors.torch import load_file
    assert set(load_file(str(tmp_path / "w.safetensors"))) == set(result.model.state_dict())
    assert panel.grab().save(str(tmp_path / "panel.png"))


def test_cancel(panel, qtbot):
    panel.set_graph(tiny())
    panel.set_config(TrainConfig(epochs=200, batch_size=8, device="cpu"))
    with qtbot.waitSignal(panel.finished, timeout=60_000) as done:
        assert panel.start()
        qtbot.waitUntil(lambda: len(panel.curves.train_loss) >= 1, timeout=60_000)
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert done.args[0].status == "cancelled"
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    assert panel.start_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.progress.format() == "cancelled"


def test_errors_show_in_the_panel(panel, qtbot, tmp_path):
    assert not panel.start()  # no graph
    panel.set_graph(tiny(units=5))
    panel.set_config(TrainConfig(epochs=1, device="cpu"))
    with qtbot.waitSignal(panel.finished, timeout=60_000) as done:
        assert panel.start()
    assert done.args[0] is None
    assert "set the last Linear's units to 10" in panel.error_label.text()
    assert panel.error_label.isVisible()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    g, _ = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 10}), shape=(1, 8, 8))
    panel.set_graph(g)
    assert not panel.start() and "problem" in panel.error_label.text()
    panel.set_graph(tiny())
    panel.lr_edit.setText("fast")
    assert not panel.start() and "learning rate" in panel.error_label.text()
    panel.lr_edit.setText("0.01")
    panel.source_combo.setCurrentIndex(1)  # image folder, but no path
    assert not panel.start() and "image folder" in panel.error_label.text()
    panel.path_edit.setText(str(tmp_path / "missing"))
    with qtbot.waitSignal(panel.finished, timeout=60_000):
        assert panel.start()
    assert "no such file" in panel.error_label.text()


def test_garbage_is_collected_on_the_gui_thread_during_a_run(panel, qtbot):
    """Automatic GC is off while the worker runs (a collection on the worker thread can free
    GUI-thread Qt objects and crash) and back on afterwards."""
    import gc
    panel.set_graph(tiny())
    panel.set_config(TrainConfig(epochs=1, batch_size=64, device="cpu"))
    with qtbot.waitSignal(panel.finished, timeout=60_000):
        assert panel.start()
        assert not gc.isenabled()
    qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
    qtbot.waitUntil(gc.isenabled, timeout=3_000)  # at the GUI thread's next collection tick
