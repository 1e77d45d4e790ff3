"""What changed between two versions of a network: `netcanvas diff A.json B.json`.

Nodes are matched by id first (ids are a node's identity in a file); nodes left over on
both sides are matched by structure — same type, already-matched neighbours in the same
places, params, and place in the topological order — in rounds, so that each match gives
evidence for the next. The rest are added or removed. Positions are layout, not
architecture, and are ignored. Composite definitions are diffed once each (their bodies
like a graph), with the nodes that use them, since one edit inside reaches every instance.

Exit codes: 0 the same, 1 different, 2 a file cannot be read.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

from .graph import NetGraph, fmt_shape
from .graph.receptive import receptive_fields
from .summary import human

NUMBERS = ("output_shape", "params", "macs")  # from NodeInfo; and the receptive field


@dataclass
class GraphDiff:
    """The difference between graph `a` and graph `b`; node ids are b's where matched."""
    matched: dict[str, str] = field(default_factory=dict)  # a id → b id
    renamed: dict[str, str] = field(default_factory=dict)  # a id → b id, matched by structure
    added: list[str] = field(default_factory=list)  # b ids
    removed: list[str] = field(default_factory=list)  # a ids
    changed: dict[str, dict[str, list]] = field(default_factory=dict)  # b id → what: [old, new]
    edges_added: list[tuple[str, str, int]] = field(default_factory=list)  # b ids
    edges_removed: list[tuple[str, str, int]] = field(default_factory=list)  # a ids
    numbers: dict[str, dict[str, list]] = field(default_factory=dict)  # b id → number: [old, new]

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed or self.edges_added
                    or self.edges_removed)


@dataclass
class ProjectDiff:
    graph: GraphDiff
    a: NetGraph
    b: NetGraph
    definitions: dict[str, dict[str, Any]]  # name → {"status", …}
    totals: dict[str, list]  # name → [old, new]

    @property
    def same(self) -> bool:
        return self.graph.same and not self.definitions and self.a.name == self.b.name


# --- matching --------------------------------------------------------------------------

def match_nodes(a: NetGraph, b: NetGraph) -> dict[str, str]:
    """a id → b id: same id, then by structure (module doc). Each round scores only pairs
    with evidence — neighbours of matched nodes, or the only node of a type on each side —
    so that a long renumbered chain costs rounds × edges, not rounds × nodes²."""
    # an id now on a block of another type is a new node: its params cannot be compared
    m = {n: n for n in a.nodes() if n in b.g and a.type_of(n) == b.type_of(n)}
    rank_a = _ranks(a)
    rank_b = _ranks(b)
    while True:
        taken = set(m.values())
        left_a = [n for n in a.topological_order() if n not in m]
        left_b = [n for n in b.topological_order() if n not in taken]
        by_type_a: dict[str, list[str]] = {}
        by_type_b: dict[str, list[str]] = {}
        for n in left_a:
            by_type_a.setdefault(a.type_of(n), []).append(n)
        for n in left_b:
            by_type_b.setdefault(b.type_of(n), []).append(n)
        pairs = {(xs[0], by_type_b[t][0]) for t, xs in by_type_a.items()
                 if len(xs) == 1 and len(by_type_b.get(t, ())) == 1}
        for x in left_a:
            for p in _neighbours(a, x):
                if p in m:
                    pairs.update((x, y) for y in _neighbours(b, m[p])
                                 if y not in taken and b.type_of(y) == a.type_of(x))
        scored = []
        for x, y in pairs:
            t = a.type_of(x)
            # the only one of its type on each side (e.g. the Input): half a point
            unique = len(by_type_a[t]) == len(by_type_b[t]) == 1
            s = _score(a, b, m, x, y) + 0.5 * unique - abs(rank_a[x] - rank_b[y])
            if s >= 1:
                scored.append((-s, rank_a[x], x, y))
        if not scored:
            return m
        used_b: set[str] = set()
        for _, _, x, y in sorted(scored):
            if x not in m and y not in used_b:
                m[x] = y
                used_b.add(y)


def _neighbours(g: NetGraph, n: str):
    yield from g.g.predecessors(n)
    yield from g.g.successors(n)


def _ranks(g: NetGraph) -> dict[str, float]:
    order = g.topological_order()
    return {n: i / max(len(order) - 1, 1) for i, n in enumerate(order)}


def _score(a: NetGraph, b: NetGraph, m: dict[str, str], x: str, y: str) -> float:
    """Evidence that a's x is b's y: matched inputs into the same ports, matched outputs,
    and equal params (half a point: equal params alone are not enough)."""
    ins_b = {(s, p) for s, p in b.inputs_of(y)}
    outs_b = set(b.g.successors(y))
    s = sum((m[src], p) in ins_b for src, p in a.inputs_of(x) if src in m)
    s += sum(m[t] in outs_b for t in a.g.successors(x) if t in m)
    if a.node(x)["params"] == b.node(y)["params"]:
        s += 0.5
    return s


# --- diffing ---------------------------------------------------------------------------

def diff_graphs(a: NetGraph, b: NetGraph, numbers: bool = True) -> GraphDiff:
    """numbers: also compare each matched node's shape, params, MACs and receptive field
    (off for composite bodies, whose numbers depend on each instance's input)."""
    m = match_nodes(a, b)
    fa, fb = (receptive_fields(a), receptive_fields(b)) if numbers else ({}, {})
    d = GraphDiff(matched=m)
    d.removed = [n for n in a.topological_order() if n not in m]
    mapped = set(m.values())
    d.added = [n for n in b.topological_order() if n not in mapped]
    for x, y in m.items():
        what = _node_changes(a.node(x), b.node(y))
        if x != y:  # an id is not architecture: a renumbered copy is the same network
            d.renamed[x] = y
        if what:
            d.changed[y] = what
        if numbers:
            nums = _number_changes(a.info.get(x), b.info.get(y))
            rf = [f.receptive_field if f else None for f in (fa.get(x), fb.get(y))]
            if rf[0] != rf[1]:
                nums["receptive_field"] = rf
            if nums:
                d.numbers[y] = nums
    edges_a = {(m.get(s), m.get(t), p) for s, t, p in a.edges()}
    edges_b = set(b.edges())
    d.edges_added = _in_order(b, [e for e in edges_b if e not in edges_a])
    d.edges_removed = _in_order(a, [(s, t, p) for s, t, p in a.edges()
                                     if (m.get(s), m.get(t), p) not in edges_b])
    return d


def _in_order(g: NetGraph, edges: list) -> list:
    rank = {n: i for i, n in enumerate(g.topological_order())}
    return sorted(edges, key=lambda e: (rank[e[1]], e[2]))


def _node_changes(old: dict, new: dict) -> dict[str, list]:
    what: dict[str, list] = {}
    if old["label"] != new["label"]:
        what["label"] = [old["label"], new["label"]]
    if old.get("repeat", 1) != new.get("repeat", 1):
        what["repeat"] = [old.get("repeat", 1), new.get("repeat", 1)]
    po, pn = old["params"], new["params"]
    params = {k: [po.get(k), pn.get(k)] for k in sorted(set(po) | set(pn))
              if po.get(k) != pn.get(k)}
    if params:
        what["params"] = params
    return what


def _number_changes(old, new) -> dict[str, list]:
    if old is None or new is None:
        return {}
    out = {}
    for k in NUMBERS:
        vo, vn = getattr(old, k), getattr(new, k)
        if vo != vn:
            out[k] = [list(vo) if isinstance(vo, tuple) else vo,
                      list(vn) if isinstance(vn, tuple) else vn]
    return out


def diff_projects(a: NetGraph, b: NetGraph) -> ProjectDiff:
    ta, tb = a.totals(), b.totals()
    totals = {k: [ta[k], tb[k]] for k in ("total_params", "trainable_params", "total_macs",
                                          "activation_bytes", "output_shape")}
    return ProjectDiff(diff_graphs(a, b), a, b, _diff_definitions(a, b), totals)


def _diff_definitions(a: NetGraph, b: NetGraph) -> dict[str, dict[str, Any]]:
    da, db = a.definitions, b.definitions
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(da) | set(db)):
        if name not in db:
            out[name] = {"status": "removed"}
            continue
        users = _users(b, name)
        if name not in da:
            out[name] = {"status": "added", "used_by": users}
            continue
        old, new = da[name], db[name]
        body = diff_graphs(old.body, new.body, numbers=False)
        meta = {k: [getattr(old, k), getattr(new, k)] for k in ("inputs", "exposed", "color", "doc")
                if getattr(old, k) != getattr(new, k)}
        if not body.same or meta:
            out[name] = {"status": "changed", "body": body, "meta": meta, "used_by": users}
    return out


def _users(g: NetGraph, name: str) -> list[str]:
    """Nodes that use a block: in the network, and (as "Block/node") inside other blocks."""
    users = [n for n in g.topological_order() if g.type_of(n) == name]
    for other, d in sorted(g.definitions.items()):
        users += [f"{other}/{n}" for n in d.body.topological_order()
                  if d.body.type_of(n) == name]
    return users


# --- output ------------------------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, list) and all(isinstance(x, int) for x in v):
        return fmt_shape(tuple(v))
    return json.dumps(v) if not isinstance(v, str) else v


def _graph_dict(d: GraphDiff, a: NetGraph, b: NetGraph) -> dict[str, Any]:
    return {
        "added": [{"id": n, "type": b.type_of(n), "params": b.node(n)["params"]} for n in d.added],
        "removed": [{"id": n, "type": a.type_of(n), "params": a.node(n)["params"]}
                    for n in d.removed],
        "changed": [{"id": n, **what} for n, what in d.changed.items()],
        "renamed": d.renamed,
        "edges_added": [list(e) for e in d.edges_added],
        "edges_removed": [list(e) for e in d.edges_removed],
    }


def to_dict(p: ProjectDiff) -> dict[str, Any]:
    out = {"same": p.same, "name": [p.a.name, p.b.name], **_graph_dict(p.graph, p.a, p.b)}
    out["numbers"] = [{"id": n, **nums} for n, nums in p.graph.numbers.items()]
    out["totals"] = {k: {"old": o, "new": n, "delta": (n - o) if isinstance(o, int)
                         and isinstance(n, int) else None} for k, (o, n) in p.totals.items()}
    defs = {}
    for name, info in p.definitions.items():
        row = {"status": info["status"]}
        if "used_by" in info:
            row["used_by"] = info["used_by"]
        if info["status"] == "changed":
            row.update(_graph_dict(info["body"], p.a.definitions[name].body,
                                   p.b.definitions[name].body))
            row["meta"] = info["meta"]
        defs[name] = row
    out["definitions"] = defs
    return out


def change_text(what: dict[str, Any]) -> str:
    """One changed node's changes: "kernel_size 3 → 5, label  → stage 2"."""
    parts = [f"{k} {_fmt(ov[0])} → {_fmt(ov[1])}" for k, ov in what.items() if k != "params"]
    parts += [f"{k} {_fmt(o)} → {_fmt(v)}" for k, (o, v) in what.get("params", {}).items()]
    return ", ".join(parts)


def numbers_text(nums: dict[str, list]) -> str:
    """"output shape [256, 14, 14] → [128, 14, 14]; params 1,180,672 → 295,424"."""
    return "; ".join(f"{k.replace('_', ' ')} {_fmt(o)} → {_fmt(v)}" for k, (o, v) in nums.items())


def _graph_lines(d: GraphDiff, a: NetGraph, b: NetGraph, indent: str = "") -> list[str]:
    lines = []
    for n in d.removed:
        lines.append(f"{indent}- {n} {a.type_of(n)}{_params_brief(a, n)}")
    for n in d.added:
        lines.append(f"{indent}+ {n} {b.type_of(n)}{_params_brief(b, n)}")
    for n, what in d.changed.items():
        old = next((x for x, y in d.renamed.items() if y == n), None)
        lines.append(f"{indent}~ {n}{f' (was {old})' if old else ''} {b.type_of(n)}: "
                     + change_text(what))
    for s, t, p in d.edges_removed:
        lines.append(f"{indent}- edge {s} → {t}" + (f" (input {p + 1})" if p else ""))
    for s, t, p in d.edges_added:
        lines.append(f"{indent}+ edge {s} → {t}" + (f" (input {p + 1})" if p else ""))
    return lines


def _params_brief(g: NetGraph, n: str) -> str:
    ps = g.node(n)["params"]
    return " (" + ", ".join(f"{k}={_fmt(v)}" for k, v in ps.items()) + ")" if ps else ""


def to_text(p: ProjectDiff, name_a: str = "A", name_b: str = "B") -> str:
    if p.same:
        return f"{name_a} and {name_b}: the same network"
    out = [f"--- {name_a}", f"+++ {name_b}"]
    if p.a.name != p.b.name:
        out.append(f"~ name {p.a.name!r} → {p.b.name!r}")
    out += _graph_lines(p.graph, p.a, p.b)
    for name, info in p.definitions.items():
        users = info.get("used_by", [])
        uses = f" — used by {len(users)} node(s): {', '.join(users[:6])}" if users else ""
        out.append(f"{'+-~'[['added', 'removed', 'changed'].index(info['status'])]} "
                   f"block {name} {info['status']}{uses}")
        if info["status"] == "changed":
            out += _graph_lines(info["body"], p.a.definitions[name].body,
                                p.b.definitions[name].body, "    ")
            out += [f"    ~ {k} {_fmt(o)} → {_fmt(v)}" for k, (o, v) in info["meta"].items()]
    if p.graph.numbers:
        out.append("Numbers that changed:")
        for n, nums in p.graph.numbers.items():
            out.append(f"  {n} {p.b.type_of(n)}: " + numbers_text(nums))
    out.append("Totals:")
    for k, (o, v) in p.totals.items():
        if o == v:
            out.append(f"  {k.replace('_', ' ')}: {_fmt(o) if not isinstance(o, int) else f'{o:,}'}"
                       f" (same)")
        elif isinstance(o, int) and isinstance(v, int):
            short = f", {'+' if v > o else ''}{human(v - o)}" if abs(v - o) >= 1000 else ""
            out.append(f"  {k.replace('_', ' ')}: {o:,} → {v:,} ({v - o:+,}{short})")
        else:
            out.append(f"  {k.replace('_', ' ')}: {_fmt(o)} → {_fmt(v)}")
    return "\n".join(out)


# --- the command ---------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("old", help="the project before (A.json)")
    parser.add_argument("new", help="the project after (B.json)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args) -> int:
    from .cli import tell_load_notes
    from .project import ProjectError, load_project
    graphs = []
    for path in (args.old, args.new):
        try:
            graphs.append(load_project(path))
        except ProjectError as exc:
            print(f"netcanvas: {exc}", file=sys.stderr)
            if args.json:
                print(json.dumps({"error": f"cannot open {path}"}))
            return 2
        tell_load_notes(graphs[-1], path)
    p = diff_projects(*graphs)
    print(json.dumps(to_dict(p)) if args.json else to_text(p, args.old, args.new))
    return 0 if p.same else 1
