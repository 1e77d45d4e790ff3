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
from blocks.spec import Param, Shape, resolve_params

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
            lo, hi, choices = inner.min, inner.max, inner.choices
            for tnode, tparam in targets[1:]:  # one value sets them all: it must fit each
                other = get_kind(self.body, self.body.type_of(tnode)).param_map[tparam]
                lo = other.min if lo is None else lo if other.min is None else max(lo, other.min)
                hi = other.max if hi is None else hi if other.max is None else min(hi, other.max)
                choices = tuple(c for c in choices if c in other.choices) if other.choices \
                    else choices
            out.append(Param(name, inner.kind, default, inner.doc or f"{pname} of {node}",
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
            for n in d.body.nodes():
                t = d.body.type_of(n)
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

    `epoch` changes whenever any body changes, so cached measurements of instances are
    never stale; `graphs` are told so that they re-measure their instances. Epochs come
    from one counter for all projects, so two projects with a block of the same name
    (two windows) never share a cached measurement.
    """

    def __init__(self):
        super().__init__()
        self.epoch = next(_EPOCHS)
        self.graphs: weakref.WeakSet = weakref.WeakSet()

    def changed(self, name: str) -> None:
        self.epoch = next(_EPOCHS)
        affected = {name} | {d.name for d in self.values() if name in d.uses()}
        for g in list(self.graphs):
            # only live graphs: a body replaced by a reload may still be referenced somewhere
            if g.owner is None or (g.owner in self and self[g.owner].body is g):
                g._instances_changed(affected)


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


_CACHE: dict[tuple, NodeStats] = {}


def measure(defs: Definitions, type_id: str, params: dict[str, Any], in_shapes: list[Shape],
            repeat: int = 1, _stack: tuple[str, ...] = ()) -> NodeStats:
    """Stats of one node (block or composite instance), repeated `repeat` times in a row."""
    total = NodeStats(None)
    shapes = in_shapes
    p = n_train = macs = act = 0
    for i in range(repeat):
        if type_id in REGISTRY:
            st = node_stats(type_id, params, shapes)
        else:
            st = measure_instance(defs, type_id, params, shapes, _stack)
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
        total = st
    return NodeStats(total.output_shape, p, n_train, macs, act)


def measure_instance(defs: Definitions, name: str, params: dict[str, Any],
                     in_shapes: list[Shape], _stack: tuple[str, ...] = ()) -> NodeStats:
    d = defs.get(name)
    if d is None:
        return NodeStats(None, error=f"{name}: no such block in this project")
    if name in _stack:
        return NodeStats(None, error=f"{name}: contains itself")
    key = (name, defs.epoch, freeze(params), tuple(in_shapes))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    if len(in_shapes) != len(d.inputs):
        st = NodeStats(None, error=f"{name} takes {len(d.inputs)} input(s) but has "
                                   f"{len(in_shapes)} — connect one block to each input port")
    else:
        st = _measure_body(defs, d, params, in_shapes, _stack + (name,))
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = st
    return st


def _measure_body(defs, d: Definition, params, in_shapes, stack) -> NodeStats:
    if d.output() is None:
        return NodeStats(None, error=f"{d.name}: its inside must end in exactly one output "
                                     f"— double-click it and connect or delete the open ends")
    p = n_train = macs = act = 0
    shape = None
    for n, t, st in walk_body(defs, d, params, in_shapes, stack):
        if st.error:
            return NodeStats(None, error=f"{d.name}: inside it, {n}: {st.error}")
        p, n_train, macs, act = (p + st.params, n_train + st.trainable_params,
                                 macs + st.macs, act + st.activation_bytes)
        if n == d.output():
            shape = st.output_shape
    return NodeStats(shape, p, n_train, macs, act)


def walk_body(defs, d: Definition, params, in_shapes, stack=()):
    """(node, type, stats) for each inner node of one instance, in order; stops at an error."""
    body = d.body
    shapes: dict[str, Shape] = {n: s for n, s in zip(d.inputs, in_shapes)}
    for n in body.topological_order():
        if n in d.inputs:
            continue
        t = body.type_of(n)
        ins = [shapes.get(s) for s, _ in body.inputs_of(n)]
        if not ins or any(s is None for s in ins):
            yield n, t, NodeStats(None, error=f"{t}: nothing is connected to its input")
            return
        st = measure(defs, t, d.body_params(n, params), ins, body.node(n).get("repeat", 1),
                     stack)
        yield n, t, st
        if st.error:
            return
        shapes[n] = st.output_shape


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
