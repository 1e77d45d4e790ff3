"""Python's cyclic GC runs on the GUI thread only while worker threads run.

A collection that starts in a worker (the training loop, the memory estimate, an import, an
export, torch's background import) can free Qt objects of the GUI thread there: ~QObject
then takes Qt's connection lock in the worker and waits for the GIL, while the GUI thread
holds the GIL's turn and waits for that lock — a freeze (seen in a test run: the memory
estimate's thread collecting a closed window's objects while a new window was being built),
or a segfault in a worker's "Garbage-collecting" frame. So while any worker runs, automatic
GC is off, and a timer on the GUI thread collects instead; when the last one has ended, the
timer turns automatic GC back on. `begin()` is called on the GUI thread, `end()` from
anywhere (a worker's own `finally`), so a window closed meanwhile never leaves GC off.
"""
from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QTimer

_lock = threading.Lock()
_running = 0
_timer: QTimer | None = None
TICK_MS = 1000


def begin() -> None:
    """A worker is about to start (GUI thread)."""
    global _running, _timer
    with _lock:
        _running += 1
    gc.disable()
    if _timer is None:
        _timer = QTimer()
        _timer.setInterval(TICK_MS)
        _timer.timeout.connect(_tick)
    if not _timer.isActive():
        _timer.start()


def end() -> None:
    """A worker has ended (any thread)."""
    global _running
    with _lock:
        _running = max(0, _running - 1)


def _tick() -> None:
    with _lock:
        running = _running
    if running:
        gc.collect()
        return
    _timer.stop()
    gc.enable()


def start_thread(target, *args, name: str) -> threading.Thread:
    """threading.Thread(target, args) as a daemon, with GC kept on the GUI thread meanwhile."""
    def body():
        try:
            target(*args)
        finally:
            end()
    begin()
    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread
