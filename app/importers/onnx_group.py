"""Torch module scopes in an exported file → composite block definitions and repeats.

torch.onnx names every node after the module it came from ("/layer1/layer1.0/conv1/Conv",
or name_scopes metadata with class names). Nodes sharing a scope become one composite
instance when the group has one input and one output (anything else stays flat, and its
inner scopes are tried); identical bodies share one definition, named after the module
class where the file says it, and consecutive identical instances become one node with
repeat ×N. Every node's place in the compiled model (its "chain" of node ids and repeat
copies) is returned so that weights find their state_dict names.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from blocks import REGISTRY

from ..graph.composite import MAX_REPEAT
from .onnx_graph import Pending

DX, DY = 230.0, 140.0
CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
Chain = list[tuple[str, int | None]]  # (node id in its graph, repeat copy or None), outside in


@dataclass(eq=False)
class Unit:
    """One node of a graph being built: a pending node, or a composite instance."""
    members: list[str]  # pending ids inside (every copy, for a repeat)
    output: str  # the pending id whose value leaves it
    inputs: list[str]  # pending ids feeding it, in port order
    type: str
    params: dict
    label: str
    repeat: int = 1
    chains: list[dict[str, Chain]] = field(default_factory=list)  # per copy, inside its body


class Grouper:
    def __init__(self, nodes: dict[str, Pending], output: str):
        self.nodes = nodes
        self.output = output
        self.index = {pid: k for k, pid in enumerate(nodes)}  # creation order: topological
        self.readers: dict[str, list[str]] = {}
        for p in nodes.values():
            for s in p.inputs:
                self.readers.setdefault(s, []).append(p.id)
        self.definitions: list[dict] = []
        self._by_signature: dict[str, str] = {}

    def project(self, name: str) -> tuple[dict, dict[str, Chain]]:
        source = next(pid for pid, p in self.nodes.items() if p.type == "Input")
        units = self.level([pid for pid in self.nodes if pid != source], 0)
        nodes, edges, chains = self.graph(units, {source: "n1"}, first=2)
        first = {"id": "n1", "type": "Input", "params": self.nodes[source].params,
                 "label": "input", "pos": [0.0, 0.0]}
        data = {"format": "netcanvas", "version": 2, "name": name, "nodes": [first, *nodes],
                "edges": edges}
        _layout(data["nodes"], edges)
        if self.definitions:
            data["definitions"] = self.definitions
        chains[source] = [("n1", None)]
        return data, chains

    # ---- one level of the hierarchy -------------------------------------------------------
    def level(self, members: list[str], depth: int, outer: tuple | None = None) -> list[Unit]:
        """The units of one graph: `members` grouped by their scope at `depth`. `outer` is
        the enclosing group's (scope, depth): a group that is all of it takes its name
        (torchvision's InvertedResidual holds one Sequential: the block is the former)."""
        groups: dict[tuple, list[str]] = {}
        order: list[tuple[str, object]] = []
        for pid in members:
            path = self.nodes[pid].scope[0]
            if len(path) <= depth:
                order.append(("node", pid))
                continue
            key = path[:depth + 1]
            if key not in groups:
                groups[key] = []
                order.append(("group", key))
            groups[key].append(pid)
        units: list[Unit] = []
        for kind, x in order:
            if kind == "node":
                units.append(self.plain(x))
                continue
            ms = groups[x]
            if len(ms) == 1 or all(len(self.nodes[m].scope[0]) == depth + 1 for m in ms):
                units.extend(self.plain(m) for m in ms)  # one module, e.g. a pad and its conv
            elif self.closed(ms):
                name_at = outer if outer is not None and len(ms) == len(members) else (x, depth)
                inner = self.level(ms, depth + 1, name_at)
                if len(inner) == 1:
                    inner[0].label = x[-1][:100]
                    units.append(inner[0])
                else:
                    units.append(self.composite(inner, ms, *name_at))
            else:
                units.extend(self.level(ms, depth + 1))
        return self.repeats(self.sorted(units))

    def plain(self, pid: str) -> Unit:
        p = self.nodes[pid]
        return Unit([pid], pid, list(p.inputs), p.type, p.params, p.label,
                    chains=[{pid: []}])

    def closed(self, ms: list[str]) -> bool:
        """One input from outside, one output read outside, and no path out and back in."""
        inside = set(ms)
        sources = {s for m in ms for s in self.nodes[m].inputs if s not in inside}
        outs = [m for m in ms if m == self.output
                or any(r not in inside for r in self.readers.get(m, ()))]
        if len(sources) != 1 or len(outs) != 1:
            return False
        # a member upstream of the source would make a cycle; nodes are in topological
        # order, so only nodes created after the group's first member need looking at
        first = min(self.index[m] for m in ms)
        todo, seen = [next(iter(sources))], set()
        while todo:
            for s in self.nodes[todo.pop()].inputs:
                if s in inside:
                    return False
                if s not in seen and self.index[s] > first:
                    seen.add(s)
                    todo.append(s)
        return True

    def sorted(self, units: list[Unit]) -> list[Unit]:
        """Topological order of the units, earliest first among the ready ones."""
        owner = {m: u for u in units for m in u.members}
        deps = {u: {owner[s] for s in u.inputs if s in owner} for u in units}
        done: list[Unit] = []
        placed: set = set()
        rest = sorted(units, key=lambda u: min(self.index[m] for m in u.members))
        while rest:
            u = next(u for u in rest if deps[u] <= placed)
            rest.remove(u)
            placed.add(u)
            done.append(u)
        return done

    def repeats(self, units: list[Unit]) -> list[Unit]:
        """Consecutive instances of one definition, each reading only the one before: ×N."""
        out: list[Unit] = []
        for u in units:
            prev = out[-1] if out else None
            if (prev is not None and u.type == prev.type and u.type not in REGISTRY
                    and u.params == prev.params and u.inputs == [prev.output]
                    and prev.output != self.output and prev.repeat < MAX_REPEAT
                    and set(self.readers.get(prev.output, ())) <= set(u.members)):
                prev.members += u.members
                prev.output = u.output
                prev.repeat += 1
                prev.chains += u.chains
                continue
            out.append(u)
        return out

    # ---- definitions ----------------------------------------------------------------------
    def composite(self, inner: list[Unit], ms: list[str], key: tuple, depth: int) -> Unit:
        inside = set(ms)
        source = next(s for m in ms for s in self.nodes[m].inputs if s not in inside)
        out = next(m for m in ms if m == self.output
                   or any(r not in inside for r in self.readers.get(m, ())))
        nodes, edges, chains = self.graph(inner, {source: "in1"}, first=1)
        signature = json.dumps([[n["id"], n["type"], n["params"], n.get("repeat", 1)]
                                for n in nodes] + [sorted(e.items()) for e in edges],
                               sort_keys=True, default=str)
        name = self._by_signature.get(signature)
        if name is None:
            name = self._fresh(self._base_name(ms, key, depth))
            self._by_signature[signature] = name
            body = [{"id": "in1", "type": "Input",
                     "params": {"shape": list(self.nodes[source].shape)}, "pos": [0.0, 0.0]},
                    *nodes]
            _layout(body, edges)
            self.definitions.append({"name": name, "doc": f"Imported from {key[-1]}.",
                                     "inputs": ["in1"], "exposed": [], "nodes": body,
                                     "edges": edges})
        return Unit(list(ms), out, [source], name, {}, key[-1][:100], chains=[chains])

    def _base_name(self, ms: list[str], key: tuple, depth: int) -> str:
        classes = self.nodes[ms[0]].scope[1]
        cls = classes[depth] if len(classes) > depth else ""
        if cls and cls not in CONTAINERS and re.fullmatch(r"[A-Za-z_]\w{0,60}", cls):
            return cls.lstrip("_") or "Block"
        words = re.findall(r"[A-Za-z0-9]+", key[-1])
        name = "_".join(w[:1].upper() + w[1:] for w in words)[:60] or "Block"
        return f"Block{name}" if name[0].isdigit() else name

    def _fresh(self, base: str) -> str:
        taken = {d["name"] for d in self.definitions}
        name, i = base, 2
        while name in taken or name in REGISTRY:
            name, i = f"{base}{i}", i + 1
        return name

    # ---- a graph's nodes and edges --------------------------------------------------------
    def graph(self, units: list[Unit], placed: dict[str, str], first: int):
        ids = dict(placed)
        nodes, edges, chains = [], [], {}
        for k, u in enumerate(units):
            uid = f"n{first + k}"
            entry = {"id": uid, "type": u.type, "params": u.params}
            if u.label:
                entry["label"] = u.label
            if u.repeat > 1:
                entry["repeat"] = u.repeat
            nodes.append(entry)
            edges += [{"source": ids[s], "target": uid, "port": j}
                      for j, s in enumerate(u.inputs)]
            ids[u.output] = uid
            for copy, inner in enumerate(u.chains):
                for pid, chain in inner.items():
                    chains[pid] = [(uid, copy if u.repeat > 1 else None), *chain]
        return nodes, edges, chains


def _layout(nodes: list[dict], edges: list[dict]) -> None:
    """Left to right by longest path from the input; a column's nodes centred on the line."""
    into: dict[str, list[str]] = {}
    for e in edges:
        into.setdefault(e["target"], []).append(e["source"])
    column: dict[str, int] = {}
    for n in nodes:  # in topological order
        column[n["id"]] = 1 + max((column[s] for s in into.get(n["id"], ())), default=-1)
    by_column: dict[int, list[dict]] = {}
    for n in nodes:
        by_column.setdefault(column[n["id"]], []).append(n)
    for c, ns in by_column.items():
        for k, n in enumerate(ns):
            n["pos"] = [c * DX, (k - (len(ns) - 1) / 2) * DY]
