"""Worker threads never run Python's cyclic GC (it could free GUI-thread Qt objects there and
freeze the editor); automatic GC comes back once the last worker has ended."""
import gc
import threading

import pytest

pytest.importorskip("pytestqt")

from app.ui import gc_guard  # noqa: E402


def test_gc_is_off_while_a_worker_runs_and_back_after(qtbot):
    qtbot.waitUntil(gc.isenabled, timeout=30000)  # workers of earlier tests have ended
    release = threading.Event()
    seen = []
    t = gc_guard.start_thread(lambda: (seen.append(gc.isenabled()), release.wait(10)),
                              name="test-worker")
    try:
        qtbot.waitUntil(lambda: bool(seen), timeout=5000)
        assert seen == [False]  # no collection can start in the worker
        qtbot.wait(gc_guard.TICK_MS + 200)
        assert not gc.isenabled()  # still running: the GUI thread collects on its timer
    finally:
        release.set()
        t.join(5)
    qtbot.waitUntil(gc.isenabled, timeout=gc_guard.TICK_MS * 3)


def test_a_worker_that_fails_still_gives_gc_back(qtbot, monkeypatch):
    monkeypatch.setattr(threading, "excepthook", lambda args: None)

    def boom():
        raise RuntimeError("worker bug")
    t = gc_guard.start_thread(boom, name="test-failing-worker")
    t.join(5)
    qtbot.waitUntil(gc.isenabled, timeout=gc_guard.TICK_MS * 3)
