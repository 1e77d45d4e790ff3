"""The user's block library: composite definitions saved for reuse across projects.

A library file holds one block plus the blocks it contains. A project that uses a library
block gets its own copy of the definitions, so it opens on machines without the library.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from .graph import GraphError, NetGraph
from .graph.model import definition_from_dict
from .project import MAX_FILE_BYTES, atomic_write_text, check_project, read_text_bounded
from .project_migrate import catalogue_renames, with_renames

LIBRARY_FORMAT = "netcanvas-block"


def library_dir() -> Path:
    """$NETCANVAS_LIBRARY, else the platform's per-user data folder + /NetCanvas/blocks."""
    env = os.environ.get("NETCANVAS_LIBRARY")
    if env:
        return Path(env)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home()))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "NetCanvas" / "blocks"


def _with_dependencies(graph: NetGraph, name: str) -> list[dict[str, Any]]:
    d = graph.definitions[name]
    needed = [graph.definitions[u] for u in d.uses()] + [d]
    return [x.to_dict() for x in needed]


def save_block(graph: NetGraph, name: str, folder: Path | None = None) -> Path:
    folder = Path(folder or library_dir())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_stem(name)}.json"
    data = {"format": LIBRARY_FORMAT, "version": 2, "block": name,
            "definitions": _with_dependencies(graph, name)}
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def file_stem(name: str) -> str:
    """A block name as a file name in the library folder: a name from a project file may
    hold "/" or "..", which must not write outside the folder."""
    stem = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip(" .")
    return stem[:100] or "block"


def read_block(path: Path) -> dict[str, Any]:
    """A checked library file; raises ValueError saying what is wrong."""
    try:
        data = json.loads(read_text_bounded(Path(path), MAX_FILE_BYTES))
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: cannot read this block: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != LIBRARY_FORMAT:
        raise ValueError(f"{path}: not a NetCanvas library block")
    renamed = catalogue_renames(data.get("definitions"))
    if renamed:  # a block saved before the catalogue took its name (see project_migrate)
        data = with_renames(data, renamed)
        if isinstance(data.get("block"), str):
            data["block"] = renamed.get(data["block"], data["block"])
    as_project = {"format": "netcanvas", "version": 2, "name": str(data.get("block")),
                  "definitions": data.get("definitions"), "nodes": [], "edges": []}
    problems = check_project(as_project)
    names = [d.get("name") for d in data.get("definitions") or [] if isinstance(d, dict)]
    if data.get("block") not in names:
        problems.append("\"block\" must name one of its definitions")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:5]))
    return data


def list_blocks(folder: Path | None = None) -> dict[str, Path]:
    """Readable library blocks by name (unreadable files are left out)."""
    folder = Path(folder or library_dir())
    found = {}
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            found[read_block(p)["block"]] = p
        except ValueError:
            continue
    return found


def import_block(graph: NetGraph, path: Path) -> str:
    """Copy a library block (and the blocks inside it) into the project; returns its name.

    A definition of the same name already in the project is kept as it is.
    """
    data = read_block(path)
    with graph.batch():
        for d in data["definitions"]:
            if d["name"] in graph.definitions:
                continue
            try:
                graph.add_definition(definition_from_dict(d, graph.definitions))
            except GraphError as exc:
                raise ValueError(f"{path}: {exc}") from None
    return data["block"]
