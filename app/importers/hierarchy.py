"""The module hierarchy → a project: composite definitions, repeats, layout, weight names.

Walking the model top-down, each child module becomes, in this order of preference: one
catalogue block (recognised by construction, see recognise.py); its input passed through (an
Identity); the single node it simplifies to (a BasicConv2d is one Conv2d); or an instance of
a composite definition made from its fragment. Definitions are keyed by the class (or the
container's attribute name) and the body they hold, so every instance of the same class and
configuration shares one definition, and a different configuration gets its own
(`Inception`, `Inception2`…). Bodies are written inner first: dependency order.
"""
from __future__ import annotations

import json
import re
from typing import Any

import torch.nn as nn

from blocks import REGISTRY

from .fragment import Fragment, Node, Port
from .primitives import pshape
from .recognise import finish, fold, fuse, match_module, merge_repeats
from .torch_trace import convert, describe

DX, DY = 230.0, 130.0
CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


class Hierarchy:
    def __init__(self, max_repeat: int):
        self.definitions: list[dict[str, Any]] = []
        self.arity: dict[str, int] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self.max_repeat = max_repeat

    # -- the walk ---------------------------------------------------------------------------
    def embed(self, child: nn.Module, path: str, attr: str, ins: list, out) -> Node | Port:
        node = match_module(child, ins, out)
        if node is not None:
            node.label, node.where = attr, describe(path, child)
            return node
        frag = convert(child, path, [i.value for i in ins], self.embed)
        self.simplify(frag)
        if isinstance(frag.output, Port):
            return ins[frag.output.index]
        if len(frag.nodes) == 1:
            n = frag.nodes[0]
            n.inputs = [ins[i.index] if isinstance(i, Port) else i for i in n.inputs]
            n.label = attr
            return n
        name, tree = self.definition(frag, base_name(child, attr), type(child).__name__)
        return Node(name, {}, list(ins), frag.output.value, label=attr, weights=tree,
                    squeezed=frag.output.squeezed, where=describe(path, child))

    def simplify(self, frag: Fragment) -> None:
        fuse(frag)
        fold(frag)
        merge_repeats(frag, self._one_input, self.max_repeat)

    def _one_input(self, type_id: str) -> bool:
        spec = REGISTRY.get(type_id)
        return spec.inputs == "one" if spec else self.arity.get(type_id) == 1

    # -- definitions ------------------------------------------------------------------------
    def definition(self, frag: Fragment, base: str, cls: str) -> tuple[str, dict]:
        finish(frag)
        ids, nodes, edges = graph_parts(frag, [f"in{i + 1}" for i in range(len(frag.inputs))])
        sig = json.dumps([[n["type"], n["params"], n.get("repeat", 1)] for n in nodes]
                         + [[e["source"], e["target"], e["port"]] for e in edges],
                         sort_keys=True, default=str)
        key = (base, sig)
        name = self._by_key.get(key)
        if name is None:
            name = self._fresh(base)
            self._by_key[key] = name
            self.arity[name] = len(frag.inputs)
            self.definitions.append({
                "name": name, "doc": f"Imported from {cls}.",
                "inputs": [ids[p] for p in frag.inputs], "exposed": [],
                "nodes": nodes, "edges": edges})
        return name, weight_tree(frag, ids)

    def _fresh(self, base: str) -> str:
        taken = {d["name"] for d in self.definitions}
        name, i = base, 2
        while name in taken or name in REGISTRY:
            name, i = f"{base}{i}", i + 1
        return name

    # -- the top ----------------------------------------------------------------------------
    def project(self, frag: Fragment, name: str) -> tuple[dict, dict]:
        """(project dict, weight tree of the top graph) for the root module's fragment."""
        self.simplify(frag)
        finish(frag)
        ids, nodes, edges = graph_parts(frag, ["n1"], first=2)
        data = {"format": "netcanvas", "version": 2, "name": name, "nodes": nodes,
                "edges": edges}
        if self.definitions:
            data["definitions"] = self.definitions
        return data, weight_tree(frag, ids)


def graph_parts(frag: Fragment, input_ids: list[str], first: int = 1):
    """(ids, node dicts, edge dicts) of a fragment, laid out left to right."""
    ids: dict[Any, str] = dict(zip(frag.inputs, input_ids))
    for j, n in enumerate(frag.nodes):
        ids[n] = f"n{j + first}"
    pos = layout(frag)
    nodes = [{"id": ids[p], "type": "Input", "params": {"shape": list(pshape(p.value))},
              "pos": list(pos[p])} for p in frag.inputs]
    edges = []
    for n in frag.nodes:
        d = {"id": ids[n], "type": n.type, "params": n.params, "pos": list(pos[n])}
        if n.label:
            d["label"] = n.label
        if n.repeat > 1:
            d["repeat"] = n.repeat
        nodes.append(d)
        for port, src in enumerate(n.inputs):
            edges.append({"source": ids[src], "target": ids[n], "port": port})
    return ids, nodes, edges


def weight_tree(frag: Fragment, ids: dict) -> dict[str, tuple[str, int, Any]]:
    return {ids[n]: (n.type, n.repeat, n.weights) for n in frag.nodes}


def layout(frag: Fragment) -> dict[Any, tuple[float, float]]:
    """Columns by longest path from the inputs, rows spread around the main line."""
    col: dict[Any, int] = {p: 0 for p in frag.inputs}
    for n in frag.nodes:
        col[n] = 1 + max((col[i] for i in n.inputs), default=0)
    by_col: dict[int, list[Any]] = {}
    for v in list(frag.inputs) + frag.nodes:
        by_col.setdefault(col[v], []).append(v)
    pos = {}
    for c, vs in by_col.items():
        for k, v in enumerate(vs):
            pos[v] = (c * DX, (k - (len(vs) - 1) / 2) * DY)
    return pos


def base_name(m: nn.Module, attr: str) -> str:
    if type(m) in CONTAINERS:
        words = re.findall(r"[A-Za-z0-9]+", attr)
        name = "".join(w[:1].upper() + w[1:] for w in words) or "Block"
        name = f"Block{name}" if name[0].isdigit() else name
    else:
        name = type(m).__name__.lstrip("_") or "Block"
    if name in REGISTRY:
        name += "Block"
    return name[:90]
