"""Copy/paste through the system clipboard: JSON under a NetCanvas MIME type, plus the same
JSON as text, so that pieces travel between windows (and into a text editor and back)."""
from __future__ import annotations

import atexit
import json
from typing import Any

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QGuiApplication

from app.project import FORMAT, VERSION, check_project
from app.project_check import normalised

MIME = "application/x-netcanvas-graph"


def piece(graph, node_ids) -> dict[str, Any]:
    """The selected nodes and the edges among them, as a small project dict; the composite
    blocks they use come along as definitions, so that they paste into another project."""
    ids = [n for n in graph.g.nodes if n in set(node_ids)]
    keep = set(ids)
    full = graph.to_dict(with_definitions=False)
    nodes = [n for n in full["nodes"] if n["id"] in keep]
    edges = [e for e in full["edges"] if e["source"] in keep and e["target"] in keep]
    out = {"format": FORMAT, "version": VERSION, "name": "clipboard", "nodes": nodes, "edges": edges}
    defs = graph.definitions
    used = [n["type"] for n in nodes if n["type"] in defs]
    if used:
        out["definitions"] = [defs[n].to_dict() for n in _deps_first(defs, used)]
    return out


def _deps_first(defs, names: list[str]) -> list[str]:
    """The blocks `names` and the blocks inside them, each after the blocks it contains."""
    done: list[str] = []

    def visit(n):
        if n in done:
            return
        for u in sorted(defs[n].uses()):
            if u in defs:
                visit(u)
        done.append(n)
    for n in names:
        visit(n)
    return done


def to_mime(data: dict[str, Any]) -> QMimeData:
    text = json.dumps(data, indent=1, ensure_ascii=False)
    mime = QMimeData()
    mime.setData(MIME, text.encode("utf-8"))
    mime.setText(text)
    return mime


def from_mime(mime: QMimeData | None) -> dict[str, Any] | None:
    """The checked piece on the clipboard, or None when there is none (or it is broken)."""
    if mime is None:
        return None
    if mime.hasFormat(MIME):
        raw = bytes(mime.data(MIME)).decode("utf-8", "replace")
    elif mime.hasText():
        raw = mime.text()
        if '"netcanvas"' not in raw:
            return None
    else:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # another program's text: anything can be in it
        return None
    if not isinstance(data, dict) or check_project(data) or not data.get("nodes"):
        return None
    return normalised(data)  # "edges" may be left out, as in a file


def copy(graph, node_ids) -> dict[str, Any] | None:
    if not node_ids:
        return None
    data = piece(graph, node_ids)
    QGuiApplication.clipboard().setMimeData(to_mime(data))
    _hook_exit()
    return data


_hooked = False


def _hook_exit() -> None:
    """Empty the clipboard before Python shuts down: PySide6 otherwise frees the QMimeData
    twice on the way out (a segfault at exit, seen with 6.11 on the offscreen platform)."""
    global _hooked
    if not _hooked:
        _hooked = True
        atexit.register(_clear_at_exit)


def _clear_at_exit() -> None:
    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()


def clipboard_piece() -> dict[str, Any] | None:
    return from_mime(QGuiApplication.clipboard().mimeData())
