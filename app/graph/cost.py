"""What a network will cost, known before it is built, and the limits past which it is refused.

A 700-byte file can ask for 64 repeats of a block that holds 64 repeats of a block that…:
sixteen million modules. Building that (for an export, a training run) would take all the
memory there is, so every place that builds a model asks `cost_problems` first. The module
count comes from the drawing alone (nodes × repeats, through the definitions); parameters and
activation memory come from the numbers validation has already measured for each node
(`graph.info`). Every walk is iterative, so no nesting depth can exhaust the stack; nesting
itself is limited to MAX_NESTING levels, which the loader and the editor enforce.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import NetGraph

MAX_MODULES = 100_000  # blocks after repeats and nesting
MAX_PARAMS = 2 ** 31
MAX_ACTIVATION_BYTES = 2 ** 34  # 16 GiB of activations for one sample
MAX_NESTING = 100  # blocks inside blocks …: compiled modules nest as deep, and torch's forward recurses

Body = list[tuple[str, int]]  # (type, repeat) of each node


@dataclass(frozen=True)
class Costs:
    modules: int
    params: int
    activation_bytes: int  # at batch size 1, float32
    depth: int  # nesting levels of composite blocks (0: none)


def _post_order(roots: Iterable[str], bodies: dict[str, Body]) -> list[str]:
    """Definitions reachable from `roots`, each after those inside it (iterative DFS). A
    block that contains itself (refused elsewhere) is skipped, never looped on."""
    order, done, visiting = [], set(), set()
    stack = [(r, False) for r in roots]
    while stack:
        name, expanded = stack.pop()
        if name in done or name not in bodies:
            continue
        if expanded:
            done.add(name)
            order.append(name)
            continue
        if name in visiting:  # a cycle: never loop on it
            continue
        visiting.add(name)
        stack.append((name, True))
        stack += [(t, False) for t, _ in bodies[name] if t in bodies and t not in done]
    return order


def block_count(top: Body, bodies: dict[str, Body]) -> int:
    """Catalogue blocks the compiled network holds: repeats and nesting multiplied out."""
    count: dict[str, int] = {"Input": 0}  # an Input builds nothing
    for name in _post_order({t for t, _ in top}, bodies):
        count[name] = sum(r * count.get(t, 1) for t, r in bodies[name])
    return sum(r * count.get(t, 1) for t, r in top)


def nesting_depth(top: Body, bodies: dict[str, Body]) -> tuple[int, list[str]]:
    """(levels of blocks inside blocks, the deepest path of block names)."""
    deepest: dict[str, list[str]] = {}
    for name in _post_order({t for t, _ in top}, bodies):
        inner = max((deepest[t] for t, _ in bodies[name] if t in deepest), key=len, default=[])
        deepest[name] = [name] + inner
    path = max((deepest[t] for t, _ in top if t in deepest), key=len, default=[])
    return len(path), path


def bodies_of(graph: NetGraph) -> dict[str, Body]:
    return {name: [(d.body.type_of(n), d.body.node(n).get("repeat", 1)) for n in d.body.nodes()]
            for name, d in graph.definitions.items()}


def _top_body(graph: NetGraph) -> Body:
    return [(graph.type_of(n), graph.node(n).get("repeat", 1)) for n in graph.nodes()]


def costs(graph: NetGraph) -> Costs:
    bodies = bodies_of(graph)
    top = _top_body(graph)
    t = graph.totals()
    return Costs(block_count(top, bodies), t["total_params"], t["activation_bytes"],
                 nesting_depth(top, bodies)[0])


def cost_problems(graph: NetGraph) -> list[str]:
    """Why the network is too big to build (empty when it is not), with the numbers."""
    c = costs(graph)
    out = []
    if c.modules > MAX_MODULES:
        out.append(f"the network would build {c.modules:,} modules (repeats and blocks "
                   f"multiplied out); the limit is {MAX_MODULES:,} — lower the repeats")
    if c.params > MAX_PARAMS:
        out.append(f"the network has {c.params:,} parameters; the limit is {MAX_PARAMS:,} "
                   f"(2³¹) — use fewer filters or units")
    if c.activation_bytes > MAX_ACTIVATION_BYTES:
        out.append(f"one sample needs {c.activation_bytes / 2 ** 30:,.1f} GiB of activations; "
                   f"the limit is {MAX_ACTIVATION_BYTES // 2 ** 30} GiB — use a smaller Input "
                   f"or downsample earlier")
    if c.depth > MAX_NESTING:
        out.append(f"blocks are nested {c.depth} deep; the limit is {MAX_NESTING} levels")
    return out


def build_problems(graph: NetGraph) -> list[tuple[str, str]]:
    """(node, message) for what stops a graph without node errors from being built: limits
    past which it is refused, and a network that is nothing but its Input."""
    where = (graph.input_nodes() or graph.nodes() or ["network"])[0]
    out = [(where, p) for p in cost_problems(graph)]
    if graph.g.number_of_nodes() and not graph.output_nodes() and not graph.problems():
        out.append((where, "the network is only an Input — add layers after it to have "
                           "something to train or export"))
    return out


def would_exceed(graph: NetGraph, type_id: str, repeat: int, replacing: int = 0) -> str | None:
    """Why adding `repeat` × `type_id` to `graph` (a body or the top graph) would build too
    many modules or nest too deep, else None; `replacing` is a repeat being changed."""
    bodies = bodies_of(graph)
    owner = graph.owner
    extra = [(type_id, repeat)] + ([(type_id, -replacing)] if replacing else [])
    if owner is not None:
        bodies[owner] = bodies.get(owner, []) + extra
    tops = [g for g in list(graph.definitions.graphs) if g.owner is None]
    for top_graph in tops or [graph]:
        top = _top_body(top_graph) + (extra if top_graph is graph else [])
        n = block_count(top, bodies)
        if n > MAX_MODULES:
            return (f"that would make the network build {n:,} modules (repeats and blocks "
                    f"multiplied out); the limit is {MAX_MODULES:,}")
        depth, _ = nesting_depth(top, bodies)
        if depth > MAX_NESTING:
            return (f"that would nest blocks {depth} deep; the limit is {MAX_NESTING} levels")
    return None
