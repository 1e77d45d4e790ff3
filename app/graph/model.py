"""The network being drawn: a directed graph (networkx's API, `digraph.py`) plus live validation.

Nodes carry `type`, `params` (complete, checked), `label` and `pos`; edges carry `port`,
the input slot at the target. Every operation either applies completely or raises
GraphError with a message for the user and changes nothing. After each one, only the
nodes whose inputs could have changed are re-measured (see `_revalidate`), and listeners
hear what changed so that a view can follow the model.
"""
from __future__ import annotations

import copy
import functools
import heapq
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blocks import REGISTRY
from blocks.spec import BlockSpec, Fix, Shape

from ..textsafe import text_problem

# networkx's names for the part of it we use, without its import time (see digraph.py)
from . import digraph as nx
from .analysis import NodeStats, fmt_shape, node_stats
from .composite import MAX_REPEAT, Definition, Definitions, arity, get_kind, measure
from .cost import would_exceed
from .cycles import describe_cycle, find_cycle
from .info_table import InfoTable


class GraphError(ValueError):
    """An edit that was refused; the message is for the user."""


@dataclass(frozen=True)
class Problem:
    node: str
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class NodeInfo:
    output_shape: Shape | None
    params: int = 0
    trainable_params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    problem: Problem | None = None
    blocked: bool = False  # an upstream node has an error, so this one cannot be measured


# Events sent to listeners: (kind, payload)
#   "node_added" id | "node_removed" id | "node_changed" id (params, label)
#   "node_moved" id | "edge_added" (src, dst, port) | "edge_removed" (src, dst, port)
#   "info_changed" set of ids | "reset" None
Listener = Callable[[str, Any], None]


class NetGraph:
    def __init__(self, name: str = "Untitled", definitions: Definitions | None = None,
                 owner: str | None = None):
        self.name = name
        # Composite block definitions, shared with the bodies of those definitions.
        self.definitions = definitions if definitions is not None else Definitions()
        self.definitions.graphs.add(self)
        self.owner = owner  # the definition whose body this graph is, or None at the top
        self.g = nx.DiGraph()
        self.info: dict[str, NodeInfo] = InfoTable()  # with running totals
        self.graph_problems: list[Problem] = []  # problems of the whole graph (outputs, inputs)
        self._listeners: list[Listener] = []
        # Structure caches, dropped whenever a node or an edge comes or goes (not when a
        # parameter changes): topological order, each node's place in it, inputs, open ends.
        self._order: list[str] | None = None
        self._pos: dict[str, int] | None = None
        self._ends: tuple[list[str], list[str]] | None = None
        self._structure_changed = True  # graph_problems must be recomputed
        self._faulty: set[str] = set()  # nodes whose info has a problem
        self._batch = 0
        self._dirty: set[str] = set()
        self._events: list[tuple[str, Any]] = []
        self._loading = False  # load_dict: the loader has checked cycles and limits once
        self.load_notes: list[str] = []  # what the project loader changed, to tell the user

    # ---- listeners -------------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Listener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _emit(self, kind: str, payload: Any) -> None:
        self._events.append((kind, payload))

    def batch(self) -> _Batch:
        """`with graph.batch():` runs several edits and re-validates once at the end."""
        return _Batch(self)

    def _done(self) -> None:
        if self._batch:
            return
        changed = self._revalidate()
        events, self._events = self._events, []
        if changed:
            events.append(("info_changed", changed))
        for kind, payload in events:
            for fn in list(self._listeners):
                fn(kind, payload)

    # ---- queries ---------------------------------------------------------------
    def nodes(self) -> list[str]:
        return list(self.g.nodes)

    def node(self, node_id: str) -> dict[str, Any]:
        self._need(node_id)
        return self.g.nodes[node_id]

    def type_of(self, node_id: str) -> str:
        return self.node(node_id)["type"]

    def inputs_of(self, node_id: str) -> list[tuple[str, int]]:
        """(source, port) of every edge into node_id, in port order."""
        edges = [(s, d["port"]) for s, _, d in self.g.in_edges(node_id, data=True)]
        if len(edges) > 1:
            edges.sort(key=lambda e: e[1])
        return edges

    def edges(self) -> list[tuple[str, str, int]]:
        return self.g.edge_values("port")

    def topological_order(self) -> list[str]:
        if self._order is None:
            self._order = list(nx.lexicographical_topological_sort(self.g, key=_natural_key))
        return self._order

    def _positions(self) -> dict[str, int]:
        if self._pos is None:
            self._pos = {n: i for i, n in enumerate(self.topological_order())}
        return self._pos

    def _open_ends(self) -> tuple[list[str], list[str]]:
        if self._ends is None:
            nodes, order = self.g.nodes, self.topological_order()
            self._ends = ([n for n in order if nodes[n]["type"] == "Input"],
                          [n for n in order if self.g.out_degree(n) == 0
                           and nodes[n]["type"] != "Input"])
        return self._ends

    def _structure_edited(self) -> None:
        self._order = self._pos = self._ends = None
        self._structure_changed = True

    def input_nodes(self) -> list[str]:
        return list(self._open_ends()[0])

    def output_nodes(self) -> list[str]:
        return list(self._open_ends()[1])

    def problems(self) -> list[Problem]:
        """Every root problem: nodes' own errors first (in graph order), then the graph's."""
        pos = self._positions()
        own = [self.info[n].problem for n in sorted(self._faulty, key=pos.__getitem__)]
        return own + self.graph_problems

    def free_port(self, node_id: str) -> int:
        taken = {p for _, p in self.inputs_of(node_id)}
        return next(i for i in itertools.count() if i not in taken)

    # ---- edits -----------------------------------------------------------------
    def kind(self, type_id: str):
        """The BlockSpec, or the composite Definition, behind a node type."""
        try:
            return get_kind(self, type_id)
        except KeyError:
            raise GraphError(f"unknown block type {type_id!r}") from None

    def add_node(self, type_id: str, params: dict[str, Any] | None = None, label: str = "",
                 pos: tuple[float, float] = (0.0, 0.0), node_id: str | None = None,
                 repeat: int = 1) -> str:
        kind = REGISTRY.get(type_id) or self.kind(type_id)
        if isinstance(kind, Definition) and self.owner and (
                type_id == self.owner or self.owner in kind.uses()):
            raise GraphError(f"{type_id} contains {self.owner}, so it cannot go inside "
                             f"{self.owner}: a block cannot contain itself")
        full, errors = kind.resolve(params)
        if errors:
            raise GraphError("; ".join(errors))
        label = str(label or "")
        if label and text_problem("the label", label):
            raise GraphError(text_problem("the label", label))
        if repeat.__class__ is not int or repeat != 1 or kind.__class__ is not BlockSpec:
            self._check_repeat(type_id, repeat)  # (a single built-in block always passes)
        if node_id is None:
            node_id = self._new_id()
        elif node_id in self.g:  # (False for an unhashable id, refused below)
            raise GraphError(f"a node with id {node_id!r} already exists")
        if not isinstance(node_id, str) or not node_id:
            raise GraphError("a node id must be a non-empty string")
        self.g.add_node(node_id, type=type_id, params=full, label=label,
                        pos=(float(pos[0]), float(pos[1])), repeat=repeat)
        self._structure_edited()
        self._dirty.add(node_id)
        self._events.append(("node_added", node_id))
        if not self._batch:
            self._done()
        return node_id

    def remove_node(self, node_id: str) -> None:
        self._need(node_id)
        for s, t, d in list(self.g.in_edges(node_id, data=True)) + list(
                self.g.out_edges(node_id, data=True)):
            self._emit("edge_removed", (s, t, d["port"]))
        self._dirty.update(self.g.successors(node_id))
        self.g.remove_node(node_id)
        self.info.pop(node_id, None)
        self._faulty.discard(node_id)
        self._structure_edited()
        self._emit("node_removed", node_id)
        self._done()

    def can_connect(self, src: str, dst: str, port: int | None = None) -> str | None:
        """Why src → dst (into port) is refused, or None when it is allowed."""
        if src not in self.g or dst not in self.g:  # (a node id can be anything hashable)
            return "both ends must be nodes of this graph"
        if src == dst:
            return "a node cannot feed itself"
        t = self.g._attrs[dst]["type"]
        spec = REGISTRY.get(t) or self.kind(t)
        inputs = arity(spec)
        if inputs == "none":
            return f"{dst} is an Input: it takes no incoming connection"
        if dst in self.g._succ[src]:
            return f"{src} is already connected to {dst}"
        if not self._loading and nx.has_path(self.g, dst, src):
            return f"connecting {src} → {dst} would make a cycle ({dst} already feeds {src})"
        if port is not None:
            if not isinstance(port, int) or isinstance(port, bool) or port < 0:
                return f"port must be a whole number ≥ 0, not {port!r}"
            if inputs == "one" and port != 0:
                return f"{dst} ({spec.type_id}) has a single input, port 0"
            if isinstance(spec, Definition) and port >= len(spec.inputs):
                return f"{dst} ({spec.type_id}) has {len(spec.inputs)} inputs"
            if any(d["port"] == port for d in self.g._pred[dst].values()):
                return f"input {port + 1} of {dst} is already connected"
        elif inputs == "one" and self.g.in_degree(dst):
            return f"the input of {dst} is already connected — disconnect it first"
        return None

    def connect(self, src: str, dst: str, port: int | None = None) -> int:
        reason = self.can_connect(src, dst, port)
        if reason:
            raise GraphError(reason)
        if port is None:
            port = self.free_port(dst) if self.g._pred[dst] else 0
        self.g.add_edge(src, dst, port=port)
        self._structure_edited()
        self._dirty.add(dst)
        self._events.append(("edge_added", (src, dst, port)))
        if not self._batch:
            self._done()
        return port

    def disconnect(self, src: str, dst: str) -> int:
        if not self.g.has_edge(src, dst):
            raise GraphError(f"{src} is not connected to {dst}")
        port = self.g.edges[src, dst]["port"]
        self.g.remove_edge(src, dst)
        self._structure_edited()
        self._dirty.add(dst)
        self._emit("edge_removed", (src, dst, port))
        self._done()
        return port

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self.set_params(node_id, {name: value})

    def set_params(self, node_id: str, values: dict[str, Any]) -> None:
        data = self.node(node_id)
        spec = self.kind(data["type"])
        new = dict(data["params"])
        for name, value in values.items():
            p = spec.param_map.get(name)
            if p is None:
                raise GraphError(f"{spec.type_id} has no parameter {name!r}")
            v, err = p.check(value)
            if err:
                raise GraphError(err)
            new[name] = v
        if new == data["params"]:
            return
        data["params"] = new
        self._dirty.add(node_id)
        self._emit("node_changed", node_id)
        self._done()

    def set_repeat(self, node_id: str, repeat: int) -> None:
        """Run the node's block `repeat` times in a row (N independent copies)."""
        data = self.node(node_id)
        self._check_repeat(data["type"], repeat, data.get("repeat", 1))
        if data.get("repeat", 1) != repeat:
            data["repeat"] = repeat
            self._dirty.add(node_id)
            self._emit("node_changed", node_id)
            self._done()

    def _check_repeat(self, type_id: str, repeat: Any, replacing: int = 0) -> None:
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_REPEAT:
            raise GraphError(f"repeat must be a whole number 1..{MAX_REPEAT}, not {repeat!r}")
        if repeat > 1 and arity(self.kind(type_id)) != "one":
            raise GraphError(f"{type_id} cannot repeat: only a block with one input can feed "
                             f"its own output back in")
        if not self._loading and (repeat > 1 or type_id in self.definitions):
            too_big = would_exceed(self, type_id, repeat, replacing)
            if too_big:
                raise GraphError(too_big)

    # ---- composite definitions -------------------------------------------------
    def add_definition(self, d: Definition) -> None:
        for what, text in (("the block's name", d.name), ("its description", d.doc)):
            if text_problem(what, text):
                raise GraphError(text_problem(what, text))
        if d.name in REGISTRY or d.name in self.definitions:
            raise GraphError(f"a block named {d.name!r} already exists — choose another name")
        self.definitions[d.name] = d
        d.body.subscribe(lambda kind, payload, name=d.name: self._body_changed(name, kind))
        self.definitions.added(d.name)

    def remove_definition(self, name: str) -> Definition:
        users = [n for g in list(self.definitions.graphs) for n in g.nodes() if g.type_of(n) == name]
        if users:
            raise GraphError(f"{name} is still used by {', '.join(users[:5])}")
        d = self.definitions.pop(name)
        self.definitions.changed(name)
        return d

    def _body_changed(self, name: str, kind: str) -> None:
        if kind not in ("node_moved",):  # a move inside changes no instance
            self.definitions.changed(name)

    def _instances_changed(self, affected: set[str]) -> None:
        hit = [n for n in self.g.nodes if self.g.nodes[n]["type"] in affected]
        if hit:
            self._dirty.update(hit)
            for n in hit:
                self._emit("node_changed", n)
            self._done()

    def rename(self, node_id: str, label: str) -> None:
        data = self.node(node_id)
        if text_problem("the label", str(label)):
            raise GraphError(text_problem("the label", str(label)))
        if data["label"] != label:
            data["label"] = str(label)
            self._emit("node_changed", node_id)
            self._done()

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        self.node(node_id)["pos"] = (float(pos[0]), float(pos[1]))
        self._emit("node_moved", node_id)
        self._done()

    def insert_on_edge(self, src: str, dst: str, type_id: str,
                       params: dict[str, Any] | None = None) -> str:
        """Put a new node between src and dst, keeping dst's port; one validation pass."""
        if not self.g.has_edge(src, dst):
            raise GraphError(f"{src} is not connected to {dst}")
        _, errors = self.kind(type_id).resolve(params)
        if errors:  # refuse before touching the graph, so nothing is half-applied
            raise GraphError("; ".join(errors))
        a, b = self.node(src)["pos"], self.node(dst)["pos"]
        with self.batch():
            port = self.disconnect(src, dst)
            new = self.add_node(type_id, params, pos=((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
            self.connect(src, new, 0)
            self.connect(new, dst, port)
        return new

    def apply_fix(self, problem: Problem) -> str:
        """Carry out a problem's suggested fix; returns the id of the inserted node."""
        if problem.fix is None:
            raise GraphError("this problem has no automatic fix")
        src = next((s for s, p in self.inputs_of(problem.node) if p == problem.fix.port), None)
        if src is None:
            raise GraphError(f"input {problem.fix.port + 1} of {problem.node} is not connected")
        return self.insert_on_edge(src, problem.node, problem.fix.type_id, problem.fix.params)

    # ---- whole-graph copies (undo snapshots, copy/paste, files) ---------------------
    def to_dict(self, with_definitions: bool = True) -> dict[str, Any]:
        nodes = []
        repeats = False
        for n, d in self.g.nodes(data=True):
            entry = {"id": n, "type": d["type"], "params": _copied(d["params"])}
            if d["label"]:
                entry["label"] = d["label"]
            pos = d["pos"]
            entry["pos"] = [pos[0], pos[1]]
            if d.get("repeat", 1) != 1:
                entry["repeat"] = d["repeat"]
                repeats = True
            nodes.append(entry)
        edges = [{"source": s, "target": t, "port": p} for s, t, p in self.edges()]
        out = {"format": "netcanvas", "version": 1, "name": self.name,
               "nodes": nodes, "edges": edges}
        if with_definitions and self.definitions:
            out["definitions"] = [d.to_dict() for d in self.definitions.values()]
        if "definitions" in out or repeats or any(
                "repeat" in n for d in out.get("definitions", ()) for n in d["nodes"]):
            out["version"] = 2  # only files that use composites or repeats need v2
        return out

    def load_dict(self, data: dict[str, Any]) -> None:
        """Replace the whole graph with an already-checked project dict (see app.project)."""
        with self.batch():
            self.g.clear()
            self.info.clear()
            self._faulty.clear()
            self._structure_edited()
            self._events.clear()
            self.name = data.get("name", self.name)
            # The loader has checked limits once, and a cycle is checked once, linearly,
            # below: a path search per edge was quadratic (a 10,000-node chain listed
            # target-first took minutes), and telling every block about every block added
            # was too (1,000 blocks: 20 s).
            self._loading = True
            try:
                if self.owner is None:
                    self.definitions.clear()
                    self.definitions.changed("")  # a new epoch: no old measurement is reused
                    for d in _definitions_in_dependency_order(data.get("definitions", [])):
                        self.add_definition(definition_from_dict(d, self.definitions))
                for n in data["nodes"]:
                    self.add_node(n["type"], n.get("params"), n.get("label", ""),
                                  tuple(n.get("pos", (0, 0))), n["id"], n.get("repeat", 1))
                for e in data["edges"]:
                    self.connect(e["source"], e["target"], e.get("port", 0))
            finally:
                self._loading = False
            try:  # the order, needed next anyway, is found only without a cycle
                self.topological_order()
            except ValueError:
                cycle = find_cycle(self.g.edge_values("port"))
                raise GraphError(f"the graph has a cycle: {describe_cycle(cycle)}") from None
            self._events = [("reset", None)]

    # ---- validation ------------------------------------------------------------
    def _revalidate(self) -> set[str]:
        """Re-measure dirty nodes, then their successors only while outputs change.

        Work is proportional to the nodes re-measured, not to the graph: they are taken in
        topological order from a heap, and an edit that changes no output shape stops at
        the node edited. The whole-graph problems (inputs, open ends) are recomputed only
        when the structure changed or an open end's info did."""
        changed: set[str] = set()
        if self._dirty:
            dirty, self._dirty = self._dirty, set()
            pos = self._positions()
            if len(dirty) * 8 >= len(pos):
                # much of the graph (a load, a new Input shape): walk the whole order once,
                # cheaper than a heap; a successor always comes later in it
                queued = dirty
                for n in self.topological_order():
                    if n in queued:
                        self._remeasure(n, changed, queued, None, pos)
            else:
                heap = [(pos[n], n) for n in dirty if n in pos]
                heapq.heapify(heap)
                queued = {n for _, n in heap}
                while heap:
                    self._remeasure(heapq.heappop(heap)[1], changed, queued, heap, pos)
        if self._structure_changed or not changed.isdisjoint(self._open_ends()[1]):
            self._structure_changed = False
            self._check_whole_graph()
        return changed

    def _remeasure(self, n: str, changed: set[str], queued: set[str], heap: list | None,
                   pos: dict[str, int]) -> None:
        """Measure n; when its output (or error state) changed, queue its successors (on
        the heap, or for the walk in order when heap is None)."""
        new = self._measure(n)
        old = self.info.get(n)
        if new == old:
            return
        self.info[n] = new
        changed.add(n)
        if new.problem:
            self._faulty.add(n)
        else:
            self._faulty.discard(n)
        if old is None or (old.output_shape, old.blocked or old.problem is not None) != (
                new.output_shape, new.blocked or new.problem is not None):
            for s in self.g._succ[n]:
                if s not in queued:
                    queued.add(s)
                    if heap is not None:
                        heapq.heappush(heap, (pos[s], s))

    def _measure(self, n: str) -> NodeInfo:
        d = self.g._attrs[n]
        spec = REGISTRY.get(d["type"]) or self.kind(d["type"])
        if arity(spec) == "none":
            return self._measure_input(n, d)
        pred = self.g._pred[n]
        if not pred:
            return NodeInfo(None, problem=Problem(
                n, f"{spec.type_id}: nothing is connected to its input — "
                   f"connect an output to it or delete it"))
        info = self.info
        shapes = []
        for src, _ in (self.inputs_of(n) if len(pred) > 1 else ((next(iter(pred)), 0),)):
            si = info.get(src)
            if si is None or si.output_shape is None:
                return NodeInfo(None, blocked=True)
            shapes.append(si.output_shape)
        repeat = d.get("repeat", 1)
        st: NodeStats = (node_stats(spec.type_id, d["params"], shapes)  # the common case
                         if repeat == 1 and spec.__class__ is BlockSpec else
                         measure(self.definitions, spec.type_id, d["params"], shapes, repeat))
        if st.error:
            return NodeInfo(None, problem=Problem(n, st.error, st.fix))
        return NodeInfo(st.output_shape, st.params, st.trainable_params, st.macs,
                        st.activation_bytes)

    def _measure_input(self, n: str, d: dict[str, Any]) -> NodeInfo:
        shape = tuple(d["params"]["shape"])
        size = 4
        for s in shape:
            size *= s
        return NodeInfo(shape, activation_bytes=size)

    def _check_whole_graph(self) -> None:
        problems = []
        inputs = self.input_nodes()
        for extra in inputs[1:] if self.owner is None else []:  # a body has one per port
            problems.append(Problem(extra, f"Input: a network has one Input for now, and "
                                           f"{inputs[0]} is already one — delete this one"))
        outs = [n for n in self.output_nodes() if self.info.get(n) and self.info[n].output_shape]
        if len(outs) > 1:
            names = ", ".join(outs)
            for n in outs[:-1]:
                problems.append(Problem(n, f"{self.g.nodes[n]['type']}: its output goes nowhere, "
                                           f"but a network has one output (open ends: {names}) — "
                                           f"connect it onward or delete it"))
        if self.g.number_of_nodes() and not inputs:
            first = self.topological_order()[0]
            problems.append(Problem(first, "the network has no Input node — add one from the palette"))
        self.graph_problems = problems

    # ---- helpers ---------------------------------------------------------------
    def _need(self, node_id: str) -> None:
        if node_id not in self.g:
            raise GraphError(f"there is no node {node_id!r}")

    def _new_id(self) -> str:
        nodes = self.g._attrs
        i = len(nodes) + 1
        while f"n{i}" in nodes:
            i += 1
        return f"n{i}"

    # ---- totals ----------------------------------------------------------------
    def totals(self) -> dict[str, Any]:
        sums = self.info.sums  # kept as nodes are measured (info_table.py)
        outs = self.output_nodes()
        out_shape = self.info[outs[-1]].output_shape if len(outs) == 1 and outs[-1] in self.info else None
        ins = self.input_nodes()
        return {
            "input_shape": list(self.info[ins[0]].output_shape) if ins else None,
            "output_shape": list(out_shape) if out_shape else None,
            "total_params": sums["params"],
            "trainable_params": sums["trainable_params"],
            "total_macs": sums["macs"],
            "activation_bytes": sums["activation_bytes"],
        }

    def describe(self, node_id: str) -> str:
        d = self.node(node_id)
        return f"{node_id} ({d['type']}{': ' + d['label'] if d['label'] else ''}) → " \
               f"{fmt_shape(self.info[node_id].output_shape) if node_id in self.info else '?'}"


class _Batch:
    def __init__(self, graph: NetGraph):
        self.graph = graph

    def __enter__(self):
        self.graph._batch += 1
        return self.graph

    def __exit__(self, *exc):
        self.graph._batch -= 1
        self.graph._done()
        return False


_DIGITS = re.compile(r"(\d+)")


_IMMUTABLE = (int, float, str, bool, type(None))


def _copied(params: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a params dict (numbers and strings shared: they cannot change, and
    copy.deepcopy's bookkeeping for them made a 10,000-node snapshot cost 0.1 s)."""
    return {k: v if v.__class__ in _IMMUTABLE else copy.deepcopy(v) for k, v in params.items()}


@functools.lru_cache(maxsize=1 << 16)  # the same ids (n1, n2, …) recur in every graph
def _natural_key(node_id: str) -> tuple:
    """Sort ids like n2 < n10, so that tables and errors read in drawing order."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in _DIGITS.split(node_id) if t)


def definition_from_dict(d: dict[str, Any], defs: Definitions) -> Definition:
    """A Definition from its checked file form; its body shares `defs`."""
    body = NetGraph(d["name"], defs, owner=d["name"])
    body.load_dict({"name": d["name"], "nodes": d["nodes"], "edges": d["edges"]})
    exposed: dict[str, list[tuple[str, str]]] = {}
    for e in d.get("exposed", []):
        exposed.setdefault(e["name"], []).append((e["node"], e["param"]))
    return Definition(d["name"], body, list(d["inputs"]), exposed,
                      d.get("color") or "#8e7cc3", d.get("doc", ""))


def _definitions_in_dependency_order(defs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {d["name"] for d in defs}
    dg = nx.DiGraph()
    for d in defs:
        dg.add_node(d["name"])
        for n in d["nodes"]:
            if n["type"] in names:
                dg.add_edge(n["type"], d["name"])  # used before user
    by_name = {d["name"]: d for d in defs}
    return [by_name[n] for n in nx.topological_sort(dg)]
