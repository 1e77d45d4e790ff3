"""Composite blocks: a part of a drawing turned into a block of its own.

A Definition owns a body (a NetGraph whose Input nodes are the composite's input ports, in
`inputs` order, and whose single open end is its output). Every node whose type is the
definition's name is an instance: it measures and compiles the body with its own values
for the exposed parameters. One definition, many instances: an edit inside the body
reaches every instance, because instances read the body each time they are measured.
"""
from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blocks import REGISTRY, get_spec
from blocks.spec import Param, Shape, resolve_params, shared_kind

from .analysis import NodeStats, freeze, node_stats
from .cost import MAX_ACTIVATION_BYTES, MAX_PARAMS

if TYPE_CHECKING:
    from .model import NetGraph

COMPOSITE_CATEGORY = "Composite"
DEFAULT_COLOR = "#8e7cc3"
MAX_REPEAT = 64


@dataclass(eq=False)
class Definition:
    name: str
    body: "NetGraph"
    inputs: list[str]  # body Input node ids, in port order
    exposed: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name → [(node, param)]
    color: str = DEFAULT_COLOR
    doc: str = ""

    # --- the BlockSpec-like face that NetGraph reads -------------------------------
    @property
    def type_id(self) -> str:
        return self.name

    @property
    def category(self) -> str:
        return COMPOSITE_CATEGORY

    @property
    def inputs_kind(self) -> str:
        return "one" if len(self.inputs) == 1 else "many"

    @property
    def key_params(self) -> tuple[str, ...]:
        return tuple(self.exposed)[:3]

    @property
    def params(self) -> tuple[Param, ...]:
        out = []
        for name, targets in self.exposed.items():
            node, pname = targets[0]
            inner = get_kind(self.body, self.body.type_of(node)).param_map[pname]
            default = self.body.node(node)["params"][pname]
            lo, hi, choices, kind = inner.min, inner.max, inner.choices, inner.kind
            for tnode, tparam in targets[1:]:  # one value sets them all: it must fit each
                other = get_kind(self.body, self.body.type_of(tnode)).param_map[tparam]
                kind = shared_kind(kind, other.kind) or kind
                lo = other.min if lo is None else lo if other.min is None else max(lo, other.min)
                hi = other.max if hi is None else hi if other.max is None else min(hi, other.max)
                choices = tuple(c for c in choices if c in other.choices) if other.choices \
                    else choices
            out.append(Param(name, kind, default, inner.doc or f"{pname} of {node}",
                             lo, hi, choices))
        return tuple(out)

    @property
    def param_map(self) -> dict[str, Param]:
        return {p.name: p for p in self.params}

    def resolve(self, params: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        return resolve_params(self.name, self.param_map, params, known_as="exposed")

    # --- the body ---------------------------------------------------------------
    def output(self) -> str | None:
        outs = self.body.output_nodes()
        return outs[0] if len(outs) == 1 else None

    def body_params(self, node: str, instance_params: dict[str, Any]) -> dict[str, Any]:
        """An inner node's params with the instance's exposed values applied."""
        p = dict(self.body.node(node)["params"])
        for name, targets in self.exposed.items():
            if name in instance_params:
                for tnode, tparam in targets:
                    if tnode == node:
                        p[tparam] = instance_params[name]
        return p

    def uses(self) -> set[str]:
        """Names of the definitions this body contains, directly or through others."""
        found: set[str] = set()
        todo = [self]
        while todo:
            d = todo.pop()
            nodes = d.body.g.nodes
            for n in nodes:
                t = nodes[n]["type"]
                if t not in REGISTRY and t not in found:
                    found.add(t)
                    inner = d.body.definitions.get(t)
                    if inner is not None:
                        todo.append(inner)
        return found

    def to_dict(self) -> dict[str, Any]:
        body = self.body.to_dict(with_definitions=False)
        return {"name": self.name, "color": self.color, "doc": self.doc,
                "inputs": list(self.inputs),
                "exposed": [{"name": k, "node": n, "param": p}
                            for k, targets in self.exposed.items() for n, p in targets],
                "nodes": body["nodes"], "edges": body["edges"]}


_EPOCHS = itertools.count(1)


class Definitions(dict):
    """The definitions of one project, shared by the top graph and every body in it.

    `epoch` changes whenever any body changes; `version(name)` changes when that
    definition's body, or the body of one it uses, changes — it keys the cache of measured
    instances, so an edit re-measures only the blocks that contain it. Both come from one
    counter for all projects, so two projects with a block of the same name (two windows)
    never share a cached measurement. `graphs` are told so that they re-measure instances.
    """

    def __init__(self):
        super().__init__()
        self.epoch = next(_EPOCHS)
        self.versions: dict[str, int] = {}
        self._propagating = False
        self.graphs: weakref.WeakSet = weakref.WeakSet()

    def version(self, name: str) -> int:
        v = self.versions.get(name)
        if v is None:
            v = self.versions[name] = next(_EPOCHS)
        return v

    def users(self, name: str) -> list[str]:
        """The definitions that contain `name`, directly or through others, each after
        every one of them it contains (one pass over the bodies, then Kahn's algorithm
        up the reverse edges: linear in the project's size)."""
        used_by: dict[str, set[str]] = {}
        for d in self.values():
            nodes = d.body.g.nodes
            for n in nodes:
                t = nodes[n]["type"]
                if t in self:
                    used_by.setdefault(t, set()).add(d.name)
        found: set[str] = set()
        todo = [name]
        while todo:
            for user in used_by.get(todo.pop(), ()):
                if user not in found:
                    found.add(user)
                    todo.append(user)
        waiting = {u: 0 for u in found}
        for inner in found | {name}:
            for user in used_by.get(inner, ()):
                if inner != name:
                    waiting[user] += 1
        ready = [u for u in used_by.get(name, ()) if waiting[u] == 0]
        order = []
        while ready:
            u = ready.pop()
            order.append(u)
            for user in used_by.get(u, ()):
                waiting[user] -= 1
                if waiting[user] == 0:
                    ready.append(user)
        return order

    def added(self, name: str) -> None:
        """A new definition: no graph can contain it yet, so nothing is re-measured (which
        keeps loading n nested definitions linear)."""
        self.epoch = next(_EPOCHS)
        self.versions[name] = next(_EPOCHS)

    def changed(self, name: str) -> None:
        if self._propagating:
            # a body re-measured below reports its own change; its users are already in
            # `affected` and are being re-measured in order, so there is nothing to add
            return
        self._propagating = True
        try:
            self._changed(name)
        finally:
            self._propagating = False

    def _changed(self, name: str) -> None:
        self.epoch = next(_EPOCHS)
        affected = [name] + self.users(name)
        for a in affected:
            self.versions[a] = next(_EPOCHS)
        # Re-measure inside out (the changed body first, the top graphs last), so that each
        # graph finds the blocks it contains already measured: one pass, however deep.
        rank = {a: i for i, a in enumerate(affected)}
        live = [g for g in list(self.graphs)
                # only live graphs: a body replaced by a reload may still be referenced
                if g.owner is None or (g.owner in self and self[g.owner].body is g)]
        live.sort(key=lambda g: rank.get(g.owner, len(rank)) if g.owner else len(rank))
        hit = set(affected)
        for g in live:
            g._instances_changed(hit)


def get_kind(graph: "NetGraph", type_id: str):
    """The BlockSpec or Definition behind a node type (KeyError if neither)."""
    spec = REGISTRY.get(type_id)
    if spec is not None:
        return spec
    d = graph.definitions.get(type_id)
    if d is None:
        raise KeyError(f"unknown block type {type_id!r}")
    return d


def arity(kind) -> str:
    return kind.inputs_kind if isinstance(kind, Definition) else kind.inputs


# Measured instances by (definition, its version, exposed params, input shapes): each is
# measured once, however deep it is nested and however many instances share it.
_CACHE: dict[tuple, NodeStats] = {}
_CACHE_SIZE = 16384


def clear_instance_cache() -> None:
    _CACHE.clear()


def measure(defs: Definitions, type_id: str, params: dict[str, Any], in_shapes: list[Shape],
            repeat: int = 1) -> NodeStats:
    """Stats of one node (block or composite instance), repeated `repeat` times in a row."""
    if repeat == 1 and type_id in REGISTRY:  # the common case, without the driver
        return node_stats(type_id, params, in_shapes)
    return _drive(defs, _node(type_id, params, in_shapes, repeat))


def measure_instance(defs: Definitions, name: str, params: dict[str, Any],
                     in_shapes: list[Shape]) -> NodeStats:
    return measure(defs, name, params, in_shapes)


def walk_body(defs, d: Definition, params, in_shapes):
    """(node, type, stats) for each inner node of one instance, in order; stops at an error."""
    seen: list[tuple[str, str, NodeStats]] = []
    _drive(defs, _body(d, params, in_shapes, seen))
    yield from seen


# Measuring is written as generators that *ask* for each composite instance they meet
# (`yield (name, params, shapes)`) and get its NodeStats sent back; `_drive` answers from
# the cache or runs the instance's own generator on an explicit stack. So nesting depth
# costs no Python recursion, and a 200-deep chain of blocks is measured in one pass.

def _node(type_id, params, in_shapes, repeat):
    """One node, `repeat` copies in a row, each fed the shape the one before it gives."""
    shapes = [tuple(s) for s in in_shapes]
    p = n_train = macs = act = 0
    st = NodeStats(None)
    for i in range(repeat):
        if type_id in REGISTRY:
            st = node_stats(type_id, params, shapes)
        else:
            st = yield (type_id, params, tuple(shapes))
        if st.error:
            where = f" (repetition {i + 1} of {repeat}, input {_fmt(shapes)})" if i else ""
            return NodeStats(None, error=st.error + where, fix=st.fix if i == 0 else None)
        p, n_train, macs, act = (p + st.params, n_train + st.trainable_params,
                                 macs + st.macs, act + st.activation_bytes)
        if i + 1 < repeat and (p > MAX_PARAMS or act > MAX_ACTIVATION_BYTES):
            # past a limit already: measuring the other copies would only cost time
            first = "the first copy already has" if i == 0 else \
                f"the first {i + 1} copies already have"
            return NodeStats(None, error=f"{type_id} ×{repeat}: {first} {p:,} parameters and "
                                         f"{act:,} bytes of activations; the limits are "
                                         f"{MAX_PARAMS:,} and {MAX_ACTIVATION_BYTES:,} — "
                                         f"lower the repeat")
        shapes = [st.output_shape]
    return NodeStats(st.output_shape, p, n_train, macs, act)


def _body(d: Definition, params, in_shapes, seen: list):
    """Measure an instance's inner nodes in order into `seen`; stops at an error."""
    body = d.body
    shapes: dict[str, Shape] = {n: tuple(s) for n, s in zip(d.inputs, in_shapes)}
    for n in body.topological_order():
        if n in d.inputs:
            continue
        t = body.type_of(n)
        ins = [shapes.get(s) for s, _ in body.inputs_of(n)]
        if not ins or any(s is None for s in ins):
            seen.append((n, t, NodeStats(None, error=f"{t}: nothing is connected to its input")))
            return
        st = yield from _node(t, d.body_params(n, params), ins, body.node(n).get("repeat", 1))
        seen.append((n, t, st))
        if st.error:
            return
        shapes[n] = st.output_shape


def _instance(d: Definition, params, in_shapes):
    if len(in_shapes) != len(d.inputs):
        return NodeStats(None, error=f"{d.name} takes {len(d.inputs)} input(s) but has "
                                     f"{len(in_shapes)} — connect one block to each input port")
    out = d.output()
    if out is None:
        return NodeStats(None, error=f"{d.name}: its inside must end in exactly one output "
                                     f"— double-click it and connect or delete the open ends")
    seen: list[tuple[str, str, NodeStats]] = []
    yield from _body(d, params, in_shapes, seen)
    p = n_train = macs = act = 0
    shape = None
    for n, _, st in seen:
        if st.error:
            return NodeStats(None, error=f"{d.name}: inside it, {n}: {st.error}")
        p, n_train, macs, act = (p + st.params, n_train + st.trainable_params,
                                 macs + st.macs, act + st.activation_bytes)
        if n == out:
            shape = st.output_shape
    return NodeStats(shape, p, n_train, macs, act)


def _drive(defs: Definitions, gen):
    """Run a measuring generator to its result, measuring the instances it asks for."""
    stack, keys, active = [gen], [None], []
    value = None
    while True:
        try:
            name, params, shapes = stack[-1].send(value)
        except StopIteration as stop:
            value = stop.value
            stack.pop()
            key = keys.pop()
            if key is not None:
                active.pop()
                if len(_CACHE) >= _CACHE_SIZE:
                    del _CACHE[next(iter(_CACHE))]
                _CACHE[key] = value
            if not stack:
                return value
            continue
        d = defs.get(name)
        if d is None:
            value = NodeStats(None, error=f"{name}: no such block in this project")
            continue
        if name in active:
            value = NodeStats(None, error=f"{name}: contains itself")
            continue
        key = (name, defs.version(name), freeze(params), shapes)
        value = _CACHE.get(key)
        if value is None:
            stack.append(_instance(d, params, shapes))
            keys.append(key)
            active.append(name)


def _fmt(shapes) -> str:
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shapes)


def check_color(value: Any) -> bool:
    return (isinstance(value, str) and len(value) == 7 and value[0] == "#"
            and all(c in "0123456789abcdefABCDEF" for c in value[1:]))


def spec_param(graph: "NetGraph", node: str, param: str) -> Param | None:
    try:
        kind = get_kind(graph, graph.type_of(node))
    except KeyError:
        return None
    return kind.param_map.get(param)


__all__ = ["Definition", "Definitions", "get_kind", "measure", "measure_instance",
           "COMPOSITE_CATEGORY", "MAX_REPEAT", "get_spec"]
