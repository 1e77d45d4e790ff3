"""Undo commands. Every change to the graph is one of these, and each changes the model only
through NetGraph's public operations.

Protocol: `apply()` does the edit the first time (it may raise GraphError, and then nothing
changed and nothing is pushed); the stack's first `redo()` after the push is skipped.
Commands that take things away (delete, disconnect, fix) undo by restoring a snapshot of the
graph (`load_dict`), so that undo gives back exactly the graph before, ids, ports and the
order of nodes and edges included. The fix, Insert Block Here and dissolve commands are in
splice_commands.py.

Where: a command edits the graph shown when it was made, the top graph or the body of a
composite block. It keeps the path of definition names to that graph (`where`) and looks
the graph up by that path each time it runs, because reloading the project (a ProjectEdit's
undo) replaces the bodies: a command never keeps a NetGraph. Before undo or redo the
document shows the place of the edit again (`Document.show`).
"""
from __future__ import annotations

import time
from typing import Any

from PySide6.QtGui import QUndoCommand

from app.graph import GraphError, NetGraph
from app.project import check_project

from . import weights_ops

MOVE_ID, PARAM_ID, RENAME_ID, REPEAT_ID = 1001, 1002, 1003, 1004
MERGE_SECONDS = 1.5


class Command(QUndoCommand):
    def __init__(self, doc, text: str, trail: list[tuple[str, str]] | None = None):
        super().__init__(text)
        self.doc = doc
        self._skip = True
        # (definition, instance) levels down to the edited graph; `where` = their names
        self.trail = list(doc.trail if trail is None else trail)
        self.where = tuple(name for name, _ in self.trail)

    @property
    def graph(self) -> NetGraph:
        """The edited graph, found by its path now (never a stale body)."""
        return self.doc.graph_at(self.where)

    def apply(self) -> None:
        self.do()

    def redo(self) -> None:
        if self._skip:
            self._skip = False
            return
        self.doc.show(self.trail)
        self.do()
        weights_ops.after_apply(self.doc, self)

    def undo(self) -> None:
        self.doc.show(self.trail)
        self.revert()
        weights_ops.after_undo(self.doc, self)  # what the edit dropped comes back

    def do(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError


class SnapshotCommand(Command):
    """Undo = restore the graph as it was before apply()."""

    def apply(self) -> None:
        self.before = self.graph.to_dict()
        try:
            self.do()
        except GraphError:
            self.graph.load_dict(self.before)  # all-or-nothing, also for several steps
            raise

    def revert(self) -> None:
        self.graph.load_dict(self.before)
        if self.where:  # inside a block: its Input shapes are those of the use shown now
            self.doc.sync_inputs()


class ProjectEdit(Command):
    """An edit of the project's blocks (group, ungroup, expose, import from the library):
    `fn(graph, top)` runs once; undo and redo load the whole project as it was before or
    after (Document.load_state, which also re-finds the bodies being shown)."""

    def __init__(self, doc, text: str, fn):
        super().__init__(doc, text)
        self.fn = fn
        self.result: Any = None

    def apply(self) -> None:
        top = self.doc.graph
        self.before = top.to_dict()
        try:
            self.result = self.fn(self.graph, top)
            self.after = top.to_dict()
            problems = check_project(self.after)
            error = (f"{self.text()} would leave the project broken: {problems[0]}"
                     if problems else None)  # never leave a project that would not open again
        except GraphError as exc:
            error = str(exc)
        if error:  # restore outside the handler: its traceback holds bodies being replaced
            self.doc.load_state(self.before)  # all-or-nothing
            raise GraphError(error)

    def do(self) -> None:
        self.doc.load_state(self.after)

    def revert(self) -> None:
        self.doc.load_state(self.before)


class AddNode(Command):
    def __init__(self, doc, type_id: str, params: dict | None, label: str,
                 pos: tuple[float, float], connect_from: str | None = None):
        super().__init__(doc, f"Add {type_id}")
        self.type_id, self.params, self.label, self.pos = type_id, params, label, pos
        self.node_id: str | None = None
        self.connect_from = connect_from

    def do(self) -> None:
        g = self.graph
        with g.batch():
            self.node_id = g.add_node(self.type_id, self.params, self.label, self.pos, self.node_id)
            if self.connect_from:
                g.connect(self.connect_from, self.node_id)

    def apply(self) -> None:
        if self.connect_from and self.connect_from in self.graph.g:
            # refuse before adding anything, so nothing is half-applied
            self.node_id = self.graph.add_node(self.type_id, self.params, self.label, self.pos)
            reason = self.graph.can_connect(self.connect_from, self.node_id)
            if reason:
                self.graph.remove_node(self.node_id)
                raise GraphError(reason)
            self.graph.connect(self.connect_from, self.node_id)
        else:
            self.connect_from = None
            self.do()

    def revert(self) -> None:
        self.graph.remove_node(self.node_id)


class Delete(SnapshotCommand):
    def __init__(self, doc, nodes: list[str], edges: list[tuple[str, str]]):
        n, e = len(nodes), len(edges)
        what = (f"{n} node{'s' * (n != 1)}" if n else "") + (" and " if n and e else "") + \
               (f"{e} connection{'s' * (e != 1)}" if e else "")
        super().__init__(doc, f"Delete {what}")
        self.nodes, self.edges = list(nodes), list(edges)

    def do(self) -> None:
        g = self.graph
        with g.batch():
            for s, t in self.edges:
                if s not in self.nodes and t not in self.nodes and g.g.has_edge(s, t):
                    g.disconnect(s, t)
            for n in self.nodes:
                g.remove_node(n)


class Connect(Command):
    def __init__(self, doc, src: str, dst: str, port: int | None):
        super().__init__(doc, f"Connect {src} → {dst}")
        self.src, self.dst, self.port = src, dst, port

    def do(self) -> None:
        self.port = self.graph.connect(self.src, self.dst, self.port)

    def revert(self) -> None:
        self.graph.disconnect(self.src, self.dst)


class Disconnect(SnapshotCommand):
    def __init__(self, doc, src: str, dst: str):
        super().__init__(doc, f"Disconnect {src} → {dst}")
        self.src, self.dst = src, dst

    def do(self) -> None:
        self.graph.disconnect(self.src, self.dst)


class Reconnect(SnapshotCommand):
    """Pull an edge off an input port and drop it on another one."""

    def __init__(self, doc, old: tuple[str, str], src: str, dst: str, port: int | None):
        super().__init__(doc, f"Reconnect {src} → {dst}")
        self.old, self.src, self.dst, self.port = old, src, dst, port

    def do(self) -> None:
        g = self.graph
        with g.batch():
            g.disconnect(*self.old)
            reason = g.can_connect(self.src, self.dst, self.port)
            if reason:
                raise GraphError(reason)
            g.connect(self.src, self.dst, self.port)


class Move(Command):
    """Positions of several nodes; consecutive steps of one drag merge into one command."""

    def __init__(self, doc, new: dict[str, tuple[float, float]], gesture: Any = None,
                 text: str | None = None):
        n = len(new)
        super().__init__(doc, text or (f"Move {next(iter(new))}" if n == 1 else f"Move {n} nodes"))
        self.new = dict(new)
        self.old = {k: tuple(self.graph.node(k)["pos"]) for k in new}
        self.gesture = gesture

    def id(self) -> int:
        return MOVE_ID if self.gesture is not None else -1

    def mergeWith(self, other) -> bool:
        if not isinstance(other, Move) or other.gesture != self.gesture or other.where != self.where:
            return False
        for k, v in other.new.items():
            self.old.setdefault(k, other.old[k])
            self.new[k] = v
        return True

    def _set(self, positions) -> None:
        g = self.graph
        with g.batch():
            for k, v in positions.items():
                g.move(k, v)

    def do(self) -> None:
        self._set(self.new)

    def revert(self) -> None:
        self._set(self.old)


class SetParams(Command):
    def __init__(self, doc, node: str, values: dict[str, Any], merge: bool = True):
        name = ", ".join(values)
        super().__init__(doc, f"Set {node}.{name}")
        self.node = node
        self.new = dict(values)
        self.old = {k: self.graph.node(node)["params"].get(k) for k in values}
        self.merge = merge
        self.stamp = time.monotonic()

    def id(self) -> int:
        return PARAM_ID if self.merge else -1

    def mergeWith(self, other) -> bool:
        if (not isinstance(other, SetParams) or other.node != self.node
                or other.where != self.where
                or set(other.new) != set(self.new) or not other.merge
                or other.stamp - self.stamp > MERGE_SECONDS):
            return False
        self.new = dict(other.new)
        self.stamp = other.stamp
        return True

    def do(self) -> None:
        self.graph.set_params(self.node, self.new)

    def revert(self) -> None:
        self.graph.set_params(self.node, self.old)


class SetRepeat(Command):
    """Repeat ×N; consecutive spin box steps on one node merge into one undo step."""

    def __init__(self, doc, node: str, repeat: int, merge: bool = True):
        super().__init__(doc, f"Repeat {node} ×{repeat}")
        self.node, self.new = node, repeat
        self.old = self.graph.node(node).get("repeat", 1)
        self.merge = merge
        self.stamp = time.monotonic()

    def id(self) -> int:
        return REPEAT_ID if self.merge else -1

    def mergeWith(self, other) -> bool:
        if (not isinstance(other, SetRepeat) or other.node != self.node or not other.merge
                or other.where != self.where or other.stamp - self.stamp > MERGE_SECONDS):
            return False
        self.new, self.stamp = other.new, other.stamp
        self.setText(f"Repeat {self.node} ×{self.new}")
        return True

    def do(self) -> None:
        self.graph.set_repeat(self.node, self.new)

    def revert(self) -> None:
        self.graph.set_repeat(self.node, self.old)


class Rename(Command):
    def __init__(self, doc, node: str, label: str):
        super().__init__(doc, f"Rename {node}")
        self.node, self.label = node, label
        self.old = self.graph.node(node)["label"]

    def do(self) -> None:
        self.graph.rename(self.node, self.label)

    def revert(self) -> None:
        self.graph.rename(self.node, self.old)


class Paste(Command):
    """Add a piece of graph (clipboard dict) with new ids, offset; edges among them kept."""

    def __init__(self, doc, data: dict, offset: tuple[float, float], text: str = "Paste"):
        super().__init__(doc, text)
        self.data, self.offset = data, offset
        self.ids: dict[str, str] = {}

    def do(self) -> None:
        g = self.graph
        first = not self.ids
        dx, dy = self.offset
        with g.batch():
            for n in self.data["nodes"]:
                x, y = n.get("pos", (0, 0))
                new = g.add_node(n["type"], n.get("params"), n.get("label", ""), (x + dx, y + dy),
                                 None if first else self.ids[n["id"]], n.get("repeat", 1))
                self.ids[n["id"]] = new
            for e in self.data["edges"]:
                g.connect(self.ids[e["source"]], self.ids[e["target"]], e.get("port", 0))

    def apply(self) -> None:
        before = set(self.graph.g.nodes)
        try:
            self.do()
        except GraphError:
            with self.graph.batch():
                for n in set(self.graph.g.nodes) - before:
                    self.graph.remove_node(n)
            raise

    def revert(self) -> None:
        g = self.graph
        with g.batch():
            for n in reversed(list(self.ids.values())):
                g.remove_node(n)


class RenameProject(Command):
    """The project's name (file, Python docstring, diagram title, ONNX metadata)."""

    def __init__(self, doc, name: str):
        super().__init__(doc, f"Name the project {name}", trail=[])
        self.new, self.old = name, doc.graph.name

    def _set(self, name: str) -> None:
        self.doc.graph.name = name
        self.doc.nameChanged.emit(name)

    def do(self) -> None:
        self._set(self.new)

    def revert(self) -> None:
        self._set(self.old)


class Layout(Command):
    def __init__(self, doc, positions: dict[str, tuple[float, float]]):
        super().__init__(doc, "Auto-layout")
        self.move = Move(doc, positions)

    def do(self) -> None:
        self.move.do()

    def revert(self) -> None:
        self.move.undo()
