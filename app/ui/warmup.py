"""Loading torch after the window is up, in the background.

The editor itself never needs torch; training, export and the Train panel do. `gui` starts
`after_first_paint(window)`: once the canvas has painted, a thread imports torch and the
modules that use it, so that the first export or training starts without the wait. The
big shared libraries are opened first through libc's dlopen, called via ctypes, which
releases the GIL (Python's own import holds it for the ~0.2 s that libtorch_cpu takes to
load), so the editor keeps painting and editing meanwhile."""
from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import sys
import threading

from PySide6.QtCore import QEvent, QObject, QTimer

MODULES = ("torch", "app.compile", "app.ui.train_panel")
LIBRARIES = ("libc10.so", "libtorch_cpu.so", "libtorch.so", "libtorch_python.so")

_thread: threading.Thread | None = None


def _open_libraries() -> None:
    if not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return
    lib = os.path.join(os.path.dirname(spec.origin), "lib")
    dlopen = ctypes.CDLL(None).dlopen  # a CDLL function call releases the GIL
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for name in LIBRARIES:
        path = os.path.join(lib, name)
        if os.path.exists(path):
            dlopen(path.encode(), os.RTLD_NOW | os.RTLD_GLOBAL)


def _load() -> None:
    try:
        if "torch" not in sys.modules:
            _open_libraries()
        for name in MODULES:
            importlib.import_module(name)
    except Exception:  # noqa: BLE001 - whoever needs torch later reports the problem
        return


def start() -> threading.Thread | None:
    """Import torch and its users in a background thread (once per process)."""
    global _thread
    if _thread is None and not all(m in sys.modules for m in MODULES):
        from . import gc_guard
        _thread = gc_guard.start_thread(_load, name="netcanvas-warmup")
    return _thread


class _FirstPaint(QObject):
    def __init__(self, widget, delay_ms: int):
        super().__init__(widget)
        self.delay_ms = delay_ms
        widget.installEventFilter(self)

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(self.delay_ms, start)
        return False


def after_first_paint(widget, delay_ms: int = 300) -> None:
    """Start the background import delay_ms after `widget` first paints."""
    _FirstPaint(widget, delay_ms)
