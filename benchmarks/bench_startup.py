"""Start-up: `netcanvas gui --screenshot` from process start to the saved first full paint,
against a bare PySide6 window grabbed the same way, measured in the same run.

Run: python benchmarks/bench_startup.py [--repeat 5]
Targets: <= 1.0 s and <= 4x the bare window. Also printed: what the core alone costs to
import (app.project: the block catalogue and validation, not the UI's doing), and which
heavy modules are loaded when the first paint is saved (none of torch, onnx, onnxruntime,
sklearn, safetensors should be, unless the core still needs them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "onnx", "onnxruntime", "onnxscript", "sklearn", "scipy", "safetensors",
         "sympy", "app.compile", "app.export.onnx_export", "app.train.loop",
         "app.ui.train_panel")

BARE = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([sys.argv[0]])
win = QMainWindow()
win.resize(1400, 850)
win.show()
for _ in range(3):
    app.processEvents()
app.processEvents()
win.grab().save(sys.argv[1])
"""

CORE = "import app.project, app.summary"

LOADED = """
import sys
from app.cli import main
code = main(["gui", "--screenshot", sys.argv[1]])
heavy = sys.argv[2].split(",")
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
"""


def wall(cmd: list[str], env: dict) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed:\n{r.stderr[-2000:]}")
    return dt, r.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               NETCANVAS_DATA_DIR=tempfile.mkdtemp(prefix="netcanvas-bench-"))
    png = str(Path(tempfile.mkdtemp()) / "shot.png")
    py = sys.executable
    runs = {"bare": [], "gui": [], "core": [], "python": []}
    cmds = {"bare": [py, "-c", BARE, png], "gui": [py, "-m", "app", "gui", "--screenshot", png],
            "core": [py, "-c", CORE], "python": [py, "-c", "pass"]}
    wall(cmds["gui"], env)  # warm the disk cache and the .pyc files
    for _ in range(args.repeat):  # interleaved, so that load on the machine hits all alike
        for k, cmd in cmds.items():
            runs[k].append(wall(cmd, env)[0])
    med = {k: statistics.median(v) for k, v in runs.items()}
    _, out = wall([py, "-c", LOADED, png, ",".join(HEAVY)], env)
    loaded = next((ln.split(" ", 1)[1] if " " in ln else "" for ln in out.splitlines()
                   if ln.startswith("LOADED")), "?")
    print(f"start-up, median of {args.repeat} (process start to the first full paint saved):")
    print(f"  python -c pass                      {med['python'] * 1000:7.0f} ms")
    print(f"  bare PySide6 window, grabbed        {med['bare'] * 1000:7.0f} ms   (baseline)")
    print(f"  netcanvas gui --screenshot          {med['gui'] * 1000:7.0f} ms   "
          f"= {med['gui'] / med['bare']:.1f}x the bare window   (target <= 1.0 s and <= 4x)")
    print(f"  of which the core alone (import app.project, app.summary: blocks, validation) "
          f"{med['core'] * 1000:.0f} ms")
    print(f"  heavy modules loaded at the first paint: {loaded or 'none'}")


if __name__ == "__main__":
    main()
