"""The open document: one NetGraph, its undo stack and its file. Every edit the UI makes goes
through a method here, which builds an undo command, applies it and pushes it.

`graph` is always the project's top graph (files, exports, summary, problems, training).
The canvas shows `current`: the top graph, or, after entering composite blocks, the body
of the innermost one. `trail` says how it got there: (definition name, instance id) per
level, the instance being the one entered in the graph above. Edits go to `current`; they
all land on the one undo stack."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from app import library
from app.graph import GraphError, NetGraph, Problem, grouping
from app.graph.model import definition_from_dict
from app.weights_store import AttachedWeights

from . import commands as C
from . import splice_commands as S
from . import weights_ops

STRUCTURE_EVENTS = {"node_added", "node_removed", "node_changed", "edge_added",
                    "edge_removed", "info_changed", "reset"}


class Document(QObject):
    graphReplaced = Signal(object)  # the new NetGraph (New, Open, recover)
    viewChanged = Signal(object)  # the graph the canvas shows now (entered, left, reloaded)
    changed = Signal()  # after edits that change structure or measurements (coalesced)
    message = Signal(str)  # a line for the status bar (refusals, results)
    modifiedChanged = Signal(bool)
    nameChanged = Signal(str)  # the project's name

    def __init__(self, graph: NetGraph | None = None, parent=None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(0)
        self.graph = graph or NetGraph()
        self.weights = AttachedWeights()  # imported/saved tensors per node (usually none)
        self.trail: list[tuple[str, str]] = []
        self._view = self.graph
        self.last_error: str | None = None
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

    def replace(self, graph: NetGraph, path: str | Path | None = None, modified: bool = False,
                weights: AttachedWeights | None = None) -> None:
        """A new graph for this document (New, Open, recover, Import), with the weights
        attached to it (default none): the undo history starts over."""
        if self._view is not self.graph:
            self._view.unsubscribe(self._on_view_event)
        self.trail = []
        self.graph.unsubscribe(self._on_event)
        self.graph = graph
        self.weights = weights if weights is not None else AttachedWeights()
        graph.subscribe(self._on_event)
        self._view = graph
        self.path = Path(path) if path else None
        self.stack.clear()
        self.stack.setClean()
        self._forced_modified = modified
        self.edit_serial += 1
        self.viewChanged.emit(graph)
        self.graphReplaced.emit(graph)
        self.modifiedChanged.emit(self.is_modified())
        self.changed.emit()

    def _on_event(self, kind: str, payload: Any) -> None:
        self.edit_serial += 1
        if kind in STRUCTURE_EVENTS and not self._pending:
            self._pending = True
            self._timer.start()
        if kind == "reset" and self.trail and not self._loading:
            self.go_to(self.trail)  # the bodies were replaced: show the new ones

    def _on_view_event(self, kind: str, payload: Any) -> None:
        """Events of the body on the canvas (what they change at the top comes as well)."""
        self.edit_serial += 1
        if kind in STRUCTURE_EVENTS and not self._pending:
            self._pending = True
            self._timer.start()

    # ---- where the canvas is: the top graph or inside composite blocks -------------------------
    _loading = False

    @property
    def current(self) -> NetGraph:
        """The graph the canvas shows and edits go to."""
        return self._view

    @property
    def where(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.trail)

    def graph_at(self, where) -> NetGraph:
        """The graph at a path of definition names (the top graph for ()), looked up now."""
        if not where:
            return self.graph
        d = self.graph.definitions.get(where[-1])
        if d is None:
            raise GraphError(f"there is no block {where[-1]!r} in this project any more")
        return d.body

    def definition(self):
        """The Definition being edited, or None at the top."""
        return self.graph.definitions.get(self.trail[-1][0]) if self.trail else None

    def enter(self, instance: str) -> str | None:
        """Show the inside of a composite instance of the current graph."""
        g = self._view
        if instance not in g.g or g.type_of(instance) not in g.definitions:
            return self._refuse(f"{instance} is not a composite block: only blocks made with "
                                f"Group can be opened")
        self.go_to(self.trail + [(g.type_of(instance), instance)])
        return None

    def up(self, levels: int = 1) -> str | None:
        """Leave `levels` composite blocks; returns the instance left (in the new view)."""
        if not self.trail:
            return None
        left = self.trail[max(0, len(self.trail) - levels)][1]
        self.go_to(self.trail[:max(0, len(self.trail) - levels)])
        return left

    def show(self, trail: list[tuple[str, str]]) -> None:
        """Show the place of an edit (before its undo or redo), if it is elsewhere."""
        if tuple(name for name, _ in trail) != self.where:
            self.go_to(trail)

    def go_to(self, trail: list[tuple[str, str]]) -> None:
        self._set_view(self._valid(trail))

    def _valid(self, trail) -> list[tuple[str, str]]:
        """The levels of `trail` that still exist (an instance that is gone is replaced by
        another instance of the same block, when there is one)."""
        out, g = [], self.graph
        for name, inst in trail:
            d = g.definitions.get(name)
            if d is None:
                break
            if inst not in g.g or g.type_of(inst) != name:
                inst = next((n for n in g.topological_order() if g.type_of(n) == name), None)
                if inst is None:
                    break
            out.append((name, inst))
            g = d.body
        return out

    def _set_view(self, trail: list[tuple[str, str]]) -> None:
        self.trail = list(trail)
        self.sync_inputs()
        view = self.graph_at(self.where)
        if view is not self._view:
            if self._view is not self.graph:
                self._view.unsubscribe(self._on_view_event)
            self._view = view
            if view is not self.graph:
                view.subscribe(self._on_view_event)
        self.viewChanged.emit(view)
        self.changed.emit()

    def sync_inputs(self) -> None:
        """Give each entered body's Input nodes the shapes that flow into the instance it was
        entered from, so that the shapes inside are the real ones. Not an undo step: it
        changes what the inside shows, not what the network computes."""
        g = self.graph
        for name, inst in self.trail:
            d = g.definitions[name]
            shapes = {p: g.info[s].output_shape for s, p in g.inputs_of(inst)
                      if g.info.get(s) is not None and g.info[s].output_shape is not None}
            with d.body.batch():
                for port, node in enumerate(d.inputs):
                    shape = shapes.get(port)
                    if shape is not None and node in d.body.g and \
                            list(d.body.node(node)["params"].get("shape", [])) != list(shape):
                        try:
                            d.body.set_param(node, "shape", list(shape))
                        except GraphError:  # a shape an Input cannot hold: keep its own
                            pass
            g = d.body

    def load_state(self, data: dict) -> None:
        """Load a whole-project snapshot (ProjectEdit undo/redo): the canvas leaves the
        bodies first (they are replaced), then shows the new ones at the same place."""
        trail = list(self.trail)
        self._loading = True
        try:
            if trail:
                self._set_view([])
            self.graph.load_dict(data)
        finally:
            self._loading = False
        if trail:
            self.go_to(trail)

    def uses_of(self, name: str) -> int:
        """How many instances of a block the project has (at the top and inside blocks)."""
        graphs = [self.graph] + [d.body for d in self.graph.definitions.values()]
        return sum(1 for g in graphs for n in g.g.nodes if g.g.nodes[n]["type"] == name)

    def _refuse(self, text: str) -> str:
        self.last_error = text
        self.message.emit(text)
        return text

    def flush(self) -> None:
        """Send the coalesced `changed` now (the panels refresh on it)."""
        self._timer.stop()
        if self._pending:
            self._pending = False
            self.changed.emit()

    # ---- edits -----------------------------------------------------------------------
    def run(self, cmd: C.Command) -> str | None:
        """Apply and push; returns the refusal message (nothing changed) or None."""
        self.last_error = None
        try:
            cmd.apply()
        except GraphError as exc:
            return self._refuse(str(exc))
        weights_ops.after_apply(self, cmd)  # the weights this edit drops travel with it
        self.stack.push(cmd)
        weights_ops.after_push(self, cmd)
        return None

    def inside_refusal(self, types=(), nodes=(), doing: str = "delete") -> str | None:
        """Why an edit inside the open block would break it, or None. A block's input ports
        are the Input nodes it was made with, and an exposed parameter needs its node."""
        d = self.definition()
        if d is None:
            return None
        if "Input" in types:
            return (f"a block's inputs are the Input nodes it was made with: no Input can be "
                    f"added inside {d.name} (ungroup it and group again for other inputs)")
        for n in nodes:
            if n in d.inputs and doing == "delete":
                return (f"{n} is input port {d.inputs.index(n) + 1} of {d.name}: a block keeps "
                        f"its input ports — delete what it feeds instead")
            for as_name, targets in d.exposed.items():
                for tn, tp in targets:
                    if tn == n:
                        return (f"{n}.{tp} is exposed as {d.name}.{as_name}: stop exposing it "
                                f"first (the arrow button next to it in the inspector), then "
                                f"{doing} {n}")
        return None

    def add_node(self, type_id: str, pos: tuple[float, float], params: dict | None = None,
                 label: str = "", connect_from: str | None = None) -> str | None:
        reason = self.inside_refusal(types=[type_id])
        if reason:
            self._refuse(reason)
            return None
        cmd = C.AddNode(self, type_id, params, label, pos, connect_from)
        return None if self.run(cmd) else cmd.node_id

    def delete(self, nodes: list[str], edges: list[tuple[str, str]] = ()) -> str | None:
        nodes = [n for n in nodes if n in self.current.g]
        edges = [e for e in edges if self.current.g.has_edge(*e)]
        if not nodes and not edges:
            return None
        reason = self.inside_refusal(nodes=nodes)
        if reason:
            return self._refuse(reason)
        return self.run(C.Delete(self, nodes, edges))

    def dissolve(self, nodes: list[str]) -> str | None:
        """Delete nodes and reconnect their neighbours where the shapes allow (one step)."""
        nodes = [n for n in nodes if n in self.current.g]
        if not nodes:
            return None
        reason = self.inside_refusal(nodes=nodes, doing="dissolve")
        if reason:
            return self._refuse(reason)
        cmd = S.Dissolve(self, nodes)
        err = self.run(cmd)
        if err is None:
            said = [f"joined {s} → {t}" for s, t in cmd.joined]
            said += [f"left {s} → {t} open ({why})" for s, t, why in cmd.refused]
            self.message.emit(f"Dissolved {', '.join(nodes)}" + (": " + "; ".join(said) if said else ""))
        return err

    def connect(self, src: str, dst: str, port: int | None = None) -> str | None:
        g = self.current
        d = g.definitions.get(g.type_of(dst)) if dst in g.g else None
        if d is not None and port is None:  # a composite has a fixed number of input ports
            taken = {p for _, p in g.inputs_of(dst)}
            port = next((i for i in range(len(d.inputs)) if i not in taken), None)
            if port is None:
                return self._refuse(f"all {len(d.inputs)} input(s) of {dst} ({d.name}) are "
                                    f"connected — disconnect one first")
        reason = g.can_connect(src, dst, port)
        if reason:
            return self._refuse(reason)
        return self.run(C.Connect(self, src, dst, port))

    def disconnect(self, src: str, dst: str) -> str | None:
        return self.run(C.Disconnect(self, src, dst))

    def reconnect(self, old: tuple[str, str], src: str, dst: str, port: int | None) -> str | None:
        if old == (src, dst):
            return None
        return self.run(C.Reconnect(self, old, src, dst, port))

    def move(self, positions: dict[str, tuple[float, float]], gesture: Any = None) -> None:
        positions = {k: (float(v[0]), float(v[1])) for k, v in positions.items()
                     if k in self.current.g and tuple(self.current.node(k)["pos"]) != tuple(v)}
        if positions:
            self.run(C.Move(self, positions, gesture))

    def set_param(self, node: str, name: str, value: Any, merge: bool = True) -> str | None:
        if self.current.node(node)["params"].get(name) == value:
            return None
        return self.run(C.SetParams(self, node, {name: value}, merge))

    def rename_project(self, name: str) -> str | None:
        name = name.strip()
        if not name:
            return self._refuse("a project needs a name")
        if len(name) > 200:
            return self._refuse("a project name has at most 200 characters")
        if name == self.graph.name:
            return None
        return self.run(C.RenameProject(self, name))

    def rename(self, node: str, label: str) -> str | None:
        if self.current.node(node)["label"] == label:
            return None
        return self.run(C.Rename(self, node, label))

    def paste(self, data: dict, offset: tuple[float, float] = (30.0, 30.0),
              text: str = "Paste") -> list[str]:
        reason = self.inside_refusal(types=[n["type"] for n in data["nodes"]])
        if reason:
            self._refuse(reason)
            return []
        missing = [d for d in data.get("definitions", [])
                   if d["name"] not in self.graph.definitions]
        if missing:  # a piece from another project brings its blocks along
            def fn(g, top):
                with top.batch():
                    for d in missing:
                        top.add_definition(definition_from_dict(d, top.definitions))
                paste = C.Paste(self, data, offset, text)
                paste.do()
                return list(paste.ids.values())
            cmd = C.ProjectEdit(self, text, fn)
            return [] if self.run(cmd) else cmd.result
        cmd = C.Paste(self, data, offset, text)
        return [] if self.run(cmd) else list(cmd.ids.values())

    def apply_fix(self, problem: Problem, trail: list[tuple[str, str]] | None = None) -> str | None:
        """Carry out a problem's fix; `trail` says where the problem is (default: here)."""
        if problem.fix is None:
            return "this problem has no automatic fix"
        if trail is not None:
            self.show(trail)
        cmd = S.ApplyFix(self, problem)
        err = self.run(cmd)
        if not err:
            self.message.emit(f"Fixed: {problem.fix.description}")
        return err

    def insert_on_edge(self, src: str, dst: str, type_id: str) -> str | None:
        reason = self.inside_refusal(types=[type_id])
        if reason:
            self._refuse(reason)
            return None
        cmd = S.InsertOnEdge(self, src, dst, type_id)
        return None if self.run(cmd) else cmd.node_id

    def layout(self, positions: dict[str, tuple[float, float]]) -> None:
        positions = {k: (float(x), float(y)) for k, (x, y) in positions.items() if k in self.current.g}
        if any(tuple(self.current.node(k)["pos"]) != v for k, v in positions.items()):
            self.run(C.Layout(self, positions))

    def set_repeat(self, node: str, repeat: int, merge: bool = True) -> str | None:
        if self.current.node(node).get("repeat", 1) == repeat:
            return None
        return self.run(C.SetRepeat(self, node, repeat, merge))

    # ---- composite blocks (each one undo step: a whole-project snapshot) -----------------------
    def group(self, nodes: list[str], name: str, color: str, doc: str = "") -> str | None:
        """Group nodes of the current graph into a new block; returns the instance id."""
        reason = self.inside_refusal(nodes=nodes, doing="group")
        if reason:
            self._refuse(reason)
            return None
        cmd = C.ProjectEdit(self, f"Group into {name.strip()}",
                            lambda g, top: grouping.group(g, list(nodes), name, color, doc))
        if self.run(cmd):
            return None
        weights_ops.carry_into_group(self, cmd, nodes)  # their weights go into the block
        return cmd.result

    def ungroup(self, instance: str) -> list[str] | None:
        """Put an instance's inside back in its place; returns the ids of those nodes."""
        reason = self.inside_refusal(nodes=[instance], doing="ungroup")
        if reason:
            self._refuse(reason)
            return None
        t = self.current.type_of(instance) if instance in self.current.g else instance
        plan = weights_ops.before_ungroup(self, instance) if instance in self.current.g else None
        cmd = C.ProjectEdit(self, f"Ungroup {t}", lambda g, top: grouping.ungroup(g, instance))
        if self.run(cmd):
            return None
        weights_ops.carry_out_of_group(self, cmd, plan)  # the block's weights go to its nodes
        return cmd.result

    def expose(self, node: str, param: str, as_name: str | None = None) -> str | None:
        """Make a parameter of a node inside the current block a parameter of the block."""
        d = self.definition()
        if d is None:
            return self._refuse("open a block first: only a parameter inside a block can be "
                                "exposed")
        cmd = C.ProjectEdit(self, f"Expose {node}.{param} of {d.name}",
                            lambda g, top: grouping.expose(top, d.name, node, param, as_name))
        return None if self.run(cmd) else cmd.result

    def unexpose(self, as_name: str) -> str | None:
        d = self.definition()
        if d is None or as_name not in d.exposed:
            return None
        name = d.name
        return self.run(C.ProjectEdit(self, f"Stop exposing {name}.{as_name}",
                                      lambda g, top: grouping.unexpose(top, name, as_name)))

    def add_library_block(self, path: str | Path, pos: tuple[float, float],
                          connect_from: str | None = None) -> str | None:
        """Copy a library block into the project and add an instance: one undo step."""
        path = Path(path)
        had = set(self.graph.definitions)

        def fn(g, top):
            try:
                name = library.import_block(top, path)
            except ValueError as exc:
                raise GraphError(str(exc)) from None
            n = g.add_node(name, None, "", pos)
            if connect_from and connect_from in g.g:
                g.connect(connect_from, n)
            return n

        cmd = C.ProjectEdit(self, f"Add {path.stem} from the library", fn)
        if self.run(cmd):
            return None
        name = self.current.type_of(cmd.result)
        if name in had:
            self.message.emit(f"This project already has a block {name}: the new node uses "
                              f"the project's own (the library's is not copied over it)")
        return cmd.result
