"""The open document: one NetGraph, its undo stack and its file. Every edit the UI makes goes
through a method here, which builds an undo command, applies it and pushes it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from app.graph import GraphError, NetGraph, Problem

from . import commands as C

STRUCTURE_EVENTS = {"node_added", "node_removed", "node_changed", "edge_added",
                    "edge_removed", "info_changed", "reset"}


class Document(QObject):
    graphReplaced = Signal(object)  # the new NetGraph (New, Open, recover)
    changed = Signal()  # after edits that change structure or measurements (coalesced)
    message = Signal(str)  # a line for the status bar (refusals, results)
    modifiedChanged = Signal(bool)

    def __init__(self, graph: NetGraph | None = None, parent=None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(0)
        self.graph = graph or NetGraph()
        self.path: Path | None = None
        self._forced_modified = False
        self._pending = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        self.graph.subscribe(self._on_event)
        self.stack.cleanChanged.connect(self._clean_changed)
        self.edit_serial = 0  # bumps on every change, for autosave

    # ---- state ---------------------------------------------------------------------
    def is_modified(self) -> bool:
        return self._forced_modified or not self.stack.isClean()

    def _clean_changed(self, _clean: bool) -> None:
        try:
            self.modifiedChanged.emit(self.is_modified())
        except RuntimeError:  # the stack is going away with the window
            pass

    def set_forced_modified(self, value: bool) -> None:
        self._forced_modified = value
        self.modifiedChanged.emit(self.is_modified())

    def mark_saved(self, path: str | Path) -> None:
        self.path = Path(path)
        self._forced_modified = False
        self.stack.setClean()
        self.modifiedChanged.emit(self.is_modified())

    def replace(self, graph: NetGraph, path: str | Path | None = None, modified: bool = False) -> None:
        """A new graph for this document (New, Open, recover): the undo history starts over."""
        self.graph.unsubscribe(self._on_event)
        self.graph = graph
        graph.subscribe(self._on_event)
        self.path = Path(path) if path else None
        self.stack.clear()
        self.stack.setClean()
        self._forced_modified = modified
        self.edit_serial += 1
        self.graphReplaced.emit(graph)
        self.modifiedChanged.emit(self.is_modified())
        self.changed.emit()

    def _on_event(self, kind: str, payload: Any) -> None:
        self.edit_serial += 1
        if kind in STRUCTURE_EVENTS and not self._pending:
            self._pending = True
            self._timer.start()

    def flush(self) -> None:
        """Send the coalesced `changed` now (the panels refresh on it)."""
        self._timer.stop()
        if self._pending:
            self._pending = False
            self.changed.emit()

    # ---- edits -----------------------------------------------------------------------
    def run(self, cmd: C.Command) -> str | None:
        """Apply and push; returns the refusal message (nothing changed) or None."""
        try:
            cmd.apply()
        except GraphError as exc:
            self.message.emit(str(exc))
            return str(exc)
        self.stack.push(cmd)
        return None

    def add_node(self, type_id: str, pos: tuple[float, float], params: dict | None = None,
                 label: str = "", connect_from: str | None = None) -> str | None:
        cmd = C.AddNode(self, type_id, params, label, pos, connect_from)
        return None if self.run(cmd) else cmd.node_id

    def delete(self, nodes: list[str], edges: list[tuple[str, str]] = ()) -> str | None:
        nodes = [n for n in nodes if n in self.graph.g]
        edges = [e for e in edges if self.graph.g.has_edge(*e)]
        if not nodes and not edges:
            return None
        return self.run(C.Delete(self, nodes, edges))

    def connect(self, src: str, dst: str, port: int | None = None) -> str | None:
        reason = self.graph.can_connect(src, dst, port)
        if reason:
            self.message.emit(reason)
            return reason
        return self.run(C.Connect(self, src, dst, port))

    def disconnect(self, src: str, dst: str) -> str | None:
        return self.run(C.Disconnect(self, src, dst))

    def reconnect(self, old: tuple[str, str], src: str, dst: str, port: int | None) -> str | None:
        if old == (src, dst):
            return None
        return self.run(C.Reconnect(self, old, src, dst, port))

    def move(self, positions: dict[str, tuple[float, float]], gesture: Any = None) -> None:
        positions = {k: (float(v[0]), float(v[1])) for k, v in positions.items()
                     if k in self.graph.g and tuple(self.graph.node(k)["pos"]) != tuple(v)}
        if positions:
            self.run(C.Move(self, positions, gesture))

    def set_param(self, node: str, name: str, value: Any, merge: bool = True) -> str | None:
        if self.graph.node(node)["params"].get(name) == value:
            return None
        return self.run(C.SetParams(self, node, {name: value}, merge))

    def rename(self, node: str, label: str) -> str | None:
        if self.graph.node(node)["label"] == label:
            return None
        return self.run(C.Rename(self, node, label))

    def paste(self, data: dict, offset: tuple[float, float] = (30.0, 30.0),
              text: str = "Paste") -> list[str]:
        cmd = C.Paste(self, data, offset, text)
        return [] if self.run(cmd) else list(cmd.ids.values())

    def apply_fix(self, problem: Problem) -> str | None:
        if problem.fix is None:
            return "this problem has no automatic fix"
        cmd = C.ApplyFix(self, problem)
        err = self.run(cmd)
        if not err:
            self.message.emit(f"Fixed: {problem.fix.description}")
        return err

    def insert_on_edge(self, src: str, dst: str, type_id: str) -> str | None:
        cmd = C.InsertOnEdge(self, src, dst, type_id)
        return None if self.run(cmd) else cmd.node_id

    def layout(self, positions: dict[str, tuple[float, float]]) -> None:
        positions = {k: (float(x), float(y)) for k, (x, y) in positions.items() if k in self.graph.g}
        if any(tuple(self.graph.node(k)["pos"]) != v for k, v in positions.items()):
            self.run(C.Layout(self, positions))
