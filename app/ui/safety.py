"""The editor's safety net: a bug shows a dialog, never takes the work with it.

`install(window)` does two things:
- every edit goes through `Document.run`; it is wrapped so that an unexpected exception
  while an edit applies puts the project back exactly as it was before the edit (from a
  snapshot taken just before; moves are skipped: they only change positions), reports
  the edit as refused and hands the exception to the hook below;
- `sys.excepthook` (where PySide sends exceptions escaping slots) writes the traceback to
  a report file and shows the one line the CLI prints ("internal error: … — please
  report; details in FILE") in a dialog, instead of a traceback on stderr. A hook that
  was there before (a test harness, a debugger; not Python's default) still hears of it.
"""
from __future__ import annotations

import sys
from typing import Any

from app.crash import one_line, write_report
from app.graph import GraphError

from . import commands as C

_installed_hook = None
_dialogs: list = []


def install(window) -> None:
    _guard_edits(window.doc)
    _install_hook()


def report(exc: BaseException, parent=None, context: str = "") -> str:
    """Write the report, show the dialog (when there is a window system), return the line."""
    line = one_line(exc, write_report(exc, context))
    print(f"netcanvas: {line}", file=sys.stderr)
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox
        if QApplication.instance() is not None:
            box = QMessageBox(QMessageBox.Icon.Critical, "NetCanvas: internal error",
                              line + "\n\nYour project was not changed by it.",
                              QMessageBox.StandardButton.Ok, parent)
            box.setModal(False)  # never block the event loop (tests, autosave)
            _dialogs.append(box)  # a parentless box would be collected at once
            box.finished.connect(lambda _=0, b=box: _dialogs.remove(b))
            box.show()
    except Exception:  # the report was written and printed; the dialog is a courtesy
        pass
    return line


def _guard_edits(doc) -> None:
    unguarded = doc.run

    def run(cmd: Any) -> str | None:
        snapshot = None if isinstance(cmd, C.Move) else doc.graph.to_dict()
        try:
            return unguarded(cmd)
        except GraphError:
            raise
        except Exception as exc:
            if snapshot is not None:
                try:
                    doc.load_state(snapshot)
                except Exception:  # noqa: S110  the report below says what happened
                    pass
            sys.excepthook(type(exc), exc, exc.__traceback__)  # the dialog and the report
            return doc._refuse(f"{type(cmd).__name__} failed with an internal error; the "
                               f"project is as it was before it")

    doc.run = run


def _install_hook() -> None:
    global _installed_hook
    if _installed_hook is not None and sys.excepthook is _installed_hook:
        return
    previous = sys.excepthook

    def hook(kind, exc, tb):
        if not issubclass(kind, Exception):  # KeyboardInterrupt, SystemExit: as before
            previous(kind, exc, tb)
            return
        report(exc.with_traceback(tb), context="editor")
        if previous is not sys.__excepthook__:  # a test harness or debugger listening: tell it
            previous(kind, exc, tb)

    sys.excepthook = _installed_hook = hook
