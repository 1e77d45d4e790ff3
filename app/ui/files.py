"""Where the editor keeps its own files: settings (recent files), and autosaves for crash
recovery in the user's data folder. NETCANVAS_DATA_DIR moves both (tests, portable use)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QStandardPaths

from app.project import atomic_write_text

MAX_RECENT = 10
AUTOSAVE_SECONDS = 30


def data_dir() -> Path:
    env = os.environ.get("NETCANVAS_DATA_DIR")
    if env:
        d = Path(env)
    else:
        # the generic folder + NetCanvas, as the block library does (AppDataLocation would
        # add organisation and application: …/NetCanvas/NetCanvas)
        loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericDataLocation)
        d = Path(loc) / "NetCanvas" if loc else Path.home() / ".netcanvas"
    d.mkdir(parents=True, exist_ok=True)
    return d


def settings() -> QSettings:
    if os.environ.get("NETCANVAS_DATA_DIR"):
        return QSettings(str(data_dir() / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings("NetCanvas", "NetCanvas")


# ---- recent files -------------------------------------------------------------------------
def recent_files() -> list[str]:
    value = settings().value("recent", [])
    if isinstance(value, str):
        value = [value]
    return [v for v in (value or []) if isinstance(v, str)]


def add_recent(path: str | Path) -> list[str]:
    p = str(Path(path).resolve())
    items = [p] + [r for r in recent_files() if r != p]
    items = items[:MAX_RECENT]
    s = settings()
    s.setValue("recent", items)
    s.sync()
    return items


def clear_recent() -> None:
    s = settings()
    s.setValue("recent", [])
    s.sync()


# ---- autosave -------------------------------------------------------------------------------
def autosave_dir() -> Path:
    d = data_dir() / "autosave"
    d.mkdir(parents=True, exist_ok=True)
    return d


class Autosave:
    """One window's autosave file: written atomically, removed when the work is saved or
    the window closes normally. A file left behind means the editor did not close well."""

    _serial = 0

    def __init__(self):
        Autosave._serial += 1
        self.path = autosave_dir() / f"autosave-{os.getpid()}-{Autosave._serial}.json"
        self.serial_written = -1

    def write(self, project: dict[str, Any], source: str | None) -> None:
        payload = {"netcanvas_autosave": 1, "saved_at": time.time(), "source": source,
                   "project": project}
        atomic_write_text(self.path, json.dumps(payload, ensure_ascii=False))

    @property
    def weights_path(self) -> Path:
        """The attached weights of the autosaved project, beside it (weights_ops writes it)."""
        return self.path.with_name(self.path.stem + ".weights.safetensors")

    def remove(self) -> None:
        for p in (self.path, self.weights_path):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


def leftover_autosaves(exclude: Path | None = None) -> list[Path]:
    """Autosaves of sessions that did not end well, newest first."""
    out = []
    for p in autosave_dir().glob("autosave-*.json"):
        if exclude is not None and p == exclude:
            continue
        try:
            pid = int(p.stem.split("-")[1])
        except (IndexError, ValueError):
            pid = -1
        if pid == os.getpid() or (pid > 0 and _alive(pid)):
            continue  # a window of this or another running editor
        out.append(p)
    return sorted(out, key=lambda p: p.stat().st_mtime, reverse=True)


def read_autosave(path: Path) -> tuple[dict[str, Any], str | None]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "project" not in data:
        raise ValueError("not an autosave file")
    return data["project"], data.get("source")


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end the process there; assume it is gone
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True
