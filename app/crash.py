"""The one safety net for the unexpected: a bug gets one line and a report file, never a
traceback on screen, and the user's work is never touched by the report.

The CLI exits with INTERNAL_ERROR (3), distinct from 1 (the graph has errors) and 2 (the file
cannot be read), so scripts can tell a NetCanvas bug from a problem with their input; the
editor shows the same line in a dialog (app/ui/safety.py).
"""
from __future__ import annotations

import os
import platform
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

INTERNAL_ERROR = 3


def report_dir() -> Path:
    """$NETCANVAS_REPORTS, else the system's temporary folder."""
    return Path(os.environ.get("NETCANVAS_REPORTS") or tempfile.gettempdir())


def write_report(exc: BaseException, context: str = "") -> Path | None:
    """Write the traceback and versions to a new report file; None if it cannot be written."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        folder = report_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"netcanvas-error-{stamp}-", suffix=".txt",
                                    dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
            f.write(f"NetCanvas internal error, {datetime.now().isoformat()}\n")
            f.write(f"context: {context}\n" if context else "")
            f.write(f"python {sys.version.split()[0]}, {platform.platform()}\n")
            try:
                import torch
                f.write(f"torch {torch.__version__}\n")
            except Exception:  # the report must not fail on what it only reports
                pass
            f.write("\n" + "".join(traceback.format_exception(exc)))
        return Path(name)
    except OSError:
        return None


def one_line(exc: BaseException, report: Path | None) -> str:
    """"internal error: …  — please report; details in FILE" (text escaped for terminals)."""
    from .textsafe import term_safe
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = f"{type(exc).__name__}: {what}" if what else type(exc).__name__
    where = f"details in {report}" if report else "no report could be written"
    return term_safe(f"internal error: {what[:300]} — please report; {where}")
