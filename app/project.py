"""Project files: JSON, checked completely on load (see project_check), saved atomically.

A project file is data: it is parsed with json and checked field by field against the
block registry; nothing in it is ever evaluated. Only regular files are read, and never
more than MAX_FILE_BYTES of them, whatever the file system says about their size.
"""
from __future__ import annotations

import contextlib
import gc
import glob
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from .graph import GraphError, NetGraph
from .graph.cost import MAX_MODULES
from .project_check import (
    FORMAT,
    VERSION,
    check_project,
    modules_after_expansion,
    normalised,
)
from .project_migrate import rename_catalogue_collisions

__all__ = [
    "FORMAT",
    "MAX_FILE_BYTES",
    "VERSION",
    "ProjectError",
    "atomic_write",
    "atomic_write_text",
    "check_project",
    "dumps_project",
    "load_project",
    "project_from_dict",
    "save_project",
]

MAX_FILE_BYTES = 64 * 1024 * 1024


class ProjectError(ValueError):
    """The file cannot be opened; `problems` says every reason, each with where it is."""

    def __init__(self, problems: list[str], path: str | os.PathLike | None = None):
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        head = f"{where}not a valid NetCanvas project"
        body = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{head} ({len(problems)} problem(s)):\n{body}{more}")


def project_from_dict(data: Any, path: str | os.PathLike | None = None) -> NetGraph:
    """A checked project as a graph. What was brought up to date on the way in (a block
    renamed because the catalogue took its name) is in `graph.load_notes`, one line each,
    for the caller to tell the user once."""
    data, notes = rename_catalogue_collisions(data)
    problems = check_project(data)
    if problems:
        raise ProjectError(problems, path)
    data = normalised(data)
    modules = modules_after_expansion(data)
    if modules > MAX_MODULES:  # refused before a single block is measured or built
        raise ProjectError([f"the network would build {modules:,} modules (repeats and "
                            f"blocks multiplied out); NetCanvas handles at most "
                            f"{MAX_MODULES:,} — lower the repeats"], path)
    graph = NetGraph(data.get("name") or (Path(path).stem if path else "Untitled"))
    try:
        graph.load_dict(data)
    except GraphError as exc:  # what only the model can judge: composite params, repeats
        raise ProjectError([str(exc)], path) from None
    graph.load_notes = notes
    return graph


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while a file becomes a graph: it makes tens of
    thousands of objects, and each full collection meanwhile walks the whole heap (in the
    editor that includes torch, loaded in the background): a tenth of the opening time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_project(path: str | os.PathLike) -> NetGraph:
    """Read and check a project file; raises ProjectError saying every problem."""
    with _gc_paused():
        return _load_project(path)


def _load_project(path: str | os.PathLike) -> NetGraph:
    try:
        text = read_text_bounded(Path(path), MAX_FILE_BYTES)
    except ValueError as exc:
        raise ProjectError([str(exc)], path) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectError([f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"],
                           path) from None
    except (ValueError, RecursionError) as exc:
        raise ProjectError([f"not valid JSON: {exc}"], path) from None
    return project_from_dict(data, path)


def read_text_bounded(p: Path, limit: int) -> str:
    """A regular file's UTF-8 text (a BOM is dropped), at most `limit` bytes; ValueError
    with the reason otherwise. Devices and FIFOs are refused without being opened (a FIFO
    would block, /dev/zero never ends) and the read stops at the limit, so a file whose
    size the file system reports wrongly cannot exhaust memory."""
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise ValueError("this is a folder, not a project file")
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("this is not a regular file (a device, pipe or socket); "
                             "only files are opened")
        with open(p, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped after the stat
                raise ValueError("this is not a regular file; only files are opened")
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise ValueError("the file does not exist") from None
    except IsADirectoryError:
        raise ValueError("this is a folder, not a project file") from None
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ValueError(f"the file is larger than {limit // 2 ** 20} MiB; projects are at "
                         f"most {limit // 2 ** 20} MiB")
    try:
        return raw.decode("utf-8-sig")  # Notepad writes a byte-order mark; it means nothing
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text (is it a project file?)") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a project file")


def dumps_project(graph: NetGraph) -> str:
    return json.dumps(graph.to_dict(), indent=1, ensure_ascii=False) + "\n"


def save_project(graph: NetGraph, path: str | os.PathLike) -> None:
    """Write atomically: a crash mid-save leaves the old file, never a broken one."""
    atomic_write_text(Path(path), dumps_project(graph))


def atomic_write_text(path: Path, text: str) -> None:
    # Text that UTF-8 cannot encode (a lone surrogate) is refused where it is typed and
    # where it is loaded; should some still arrive, it is written as "?" rather than
    # failing the save (an autosave that fails loses work).
    atomic_write(path, lambda f: f.write(text.encode("utf-8", "replace")))


def atomic_write(path: Path, write) -> Path:
    """Write a file through `write(binary_file)` so that a crash leaves the old file whole:
    a temporary file beside it, flushed to disk, then renamed over it.

    What the user had is kept: a symlink is written through (its target is replaced, the
    link stays), the file's permission bits stay (a private 0600 file stays private), and
    temporary files left by an earlier save that was killed are removed. Returns the path
    as given."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = _default_file_mode()
    folder = target.parent
    prefix = f".{target.name}.{os.getpid()}."
    _remove_stale_temps(folder, target.name)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; give what the file had, or what open() would
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Remove `.NAME.PID.*.tmp` files whose process is gone (a save killed mid-write)."""
    try:
        found = list(folder.glob(f".{glob.escape(name)}.*.tmp"))
    except OSError:
        return
    for tmp in found:
        pid = tmp.name[len(name) + 2:].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                tmp.unlink()
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep it
    return True


def _default_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
