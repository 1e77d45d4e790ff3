"""Start-up stays light: the editor's first paint loads no torch, ONNX, scikit-learn or
exporter (each check in a fresh interpreter), the Train panel is made when its dock is
first shown, and torch is loaded in the background only after the first paint."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

ROOT = Path(__file__).resolve().parents[1]
NEVER = ["onnx", "onnxruntime", "onnxscript", "sklearn", "safetensors", "app.compile",
         "app.export.onnx_export", "app.export.python_source", "app.export.weights",
         "app.train.loop", "app.train.data", "app.ui.train_panel"]


def run_py(code: str, tmp_path) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", NETCANVAS_DATA_DIR=str(tmp_path / "data"),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_building_and_painting_the_main_window_imports_nothing_heavy(tmp_path):
    out = run_py(f"""
        import sys
        import app.project, app.summary  # the core (blocks, validation)
        core_torch = "torch" in sys.modules
        from PySide6.QtWidgets import QApplication
        qapp = QApplication([])
        from app.ui.main_window import MainWindow
        w = MainWindow(recover=False)
        w.show()
        for _ in range(5):
            qapp.processEvents()
        w.grab()
        heavy = [m for m in {NEVER!r} if m in sys.modules]
        if not core_torch and "torch" in sys.modules:
            heavy.append("torch")
        print("HEAVY", heavy, "CORE_TORCH", core_torch)
        print("TRAIN", w.train_panel)
        w.doc.stack.setClean()
    """, tmp_path)
    assert "HEAVY []" in out, out
    assert "TRAIN None" in out, out


def test_the_gui_command_parses_without_importing_other_features(tmp_path):
    out = run_py("""
        import sys
        from app.cli import build_parser
        args = build_parser(["gui", "x.json"]).parse_args(["gui", "x.json"])
        print("LOADED", [m for m in ("app.export.command", "app.train.command",
                                     "app.train.config") if m in sys.modules], args.file)
    """, tmp_path)
    assert "LOADED [] x.json" in out, out


def test_torch_is_loaded_in_the_background_after_the_first_paint(tmp_path):
    out = run_py("""
        import sys, time
        from PySide6.QtWidgets import QApplication, QWidget
        qapp = QApplication([])
        from app.ui import warmup
        w = QWidget()
        warmup.after_first_paint(w, delay_ms=0)
        assert warmup._thread is None  # nothing before the first paint
        w.show()
        deadline = time.monotonic() + 120
        while warmup._thread is None and time.monotonic() < deadline:
            qapp.processEvents()
        warmup._thread.join(120)
        print("LOADED", all(m in sys.modules for m in warmup.MODULES))
    """, tmp_path)
    assert "LOADED True" in out, out


def test_the_train_dock_makes_its_panel_when_first_shown(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QApplication
    QApplication.instance() or QApplication([])
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))
    from app.ui.main_window import MainWindow
    w = MainWindow(recover=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.train_panel is None
    w.train_dock.raise_()
    qtbot.waitUntil(lambda: w.train_panel is not None)
    assert w.train_dock.widget() is w.train_panel
    assert w.train_panel.graph is w.doc.graph
    w.doc.stack.setClean()
