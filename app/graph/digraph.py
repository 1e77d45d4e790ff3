"""The small part of networkx's DiGraph API that NetGraph and the editor use, in plain dicts.

networkx takes ~0.2 s to import (more than the whole `netcanvas summary` may take) and
adds overhead to every edit of a large graph; NetGraph needs only nodes and edges with
attribute dicts, neighbours, one path query and a topological sort. Names and behaviour
follow networkx (`g.nodes[n]`, `g.edges(data=True)`, `g.in_edges(n, data=True)`, …), so
code written against a networkx DiGraph keeps working.
"""
from __future__ import annotations

import heapq
from typing import Any, Callable, Iterator


class _NodeView:
    __slots__ = ("_g",)

    def __init__(self, g: "DiGraph"):
        self._g = g

    def __iter__(self) -> Iterator[str]:
        return iter(self._g._attrs)

    def __len__(self) -> int:
        return len(self._g._attrs)

    def __contains__(self, n) -> bool:
        return n in self._g._attrs

    def __getitem__(self, n) -> dict[str, Any]:
        return self._g._attrs[n]

    def __call__(self, data: bool = False):
        return iter(self._g._attrs.items()) if data else iter(self._g._attrs)


class _EdgeView:
    __slots__ = ("_g",)

    def __init__(self, g: "DiGraph"):
        self._g = g

    def __iter__(self):
        return self()

    def __len__(self) -> int:
        return self._g.number_of_edges()

    def __getitem__(self, edge) -> dict[str, Any]:
        s, t = edge
        return self._g._succ[s][t]

    def __call__(self, data: bool = False):
        for s, nbrs in self._g._succ.items():
            for t, d in nbrs.items():
                yield (s, t, d) if data else (s, t)


class DiGraph:
    def __init__(self):
        self._attrs: dict[str, dict[str, Any]] = {}
        self._succ: dict[str, dict[str, dict[str, Any]]] = {}
        self._pred: dict[str, dict[str, dict[str, Any]]] = {}
        self.nodes = _NodeView(self)
        self.edges = _EdgeView(self)

    def __contains__(self, n) -> bool:
        try:
            return n in self._attrs
        except TypeError:  # unhashable: never a node (as in networkx)
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)

    def add_node(self, n, **attr) -> None:
        if n in self._attrs:
            self._attrs[n].update(attr)
        else:
            self._attrs[n] = attr  # a new dict already (** makes one)
            self._succ[n] = {}
            self._pred[n] = {}

    def add_edge(self, s, t, **attr) -> None:
        if s not in self._attrs:
            self.add_node(s)
        if t not in self._attrs:
            self.add_node(t)
        d = self._succ[s].get(t)
        if d is None:
            self._succ[s][t] = self._pred[t][s] = attr
        else:
            d.update(attr)

    def remove_node(self, n) -> None:
        for t in self._succ.pop(n):
            del self._pred[t][n]
        for s in self._pred.pop(n):
            del self._succ[s][n]
        del self._attrs[n]

    def remove_edge(self, s, t) -> None:
        del self._succ[s][t]
        del self._pred[t][s]

    @property
    def pred(self) -> dict:
        """n → {predecessor: edge attributes}, as networkx's `G.pred` (read it, never edit)."""
        return self._pred

    @property
    def succ(self) -> dict:
        """n → {successor: edge attributes}, as networkx's `G.succ` (read it, never edit)."""
        return self._succ

    def has_edge(self, s, t) -> bool:
        return s in self._succ and t in self._succ[s]

    def successors(self, n) -> Iterator[str]:
        return iter(self._succ[n])

    def predecessors(self, n) -> Iterator[str]:
        return iter(self._pred[n])

    def in_edges(self, n, data: bool = False):
        return [(s, n, d) if data else (s, n) for s, d in self._pred[n].items()]

    def out_edges(self, n, data: bool = False):
        return [(n, t, d) if data else (n, t) for t, d in self._succ[n].items()]

    def in_degree(self, n) -> int:
        return len(self._pred[n])

    def out_degree(self, n) -> int:
        return len(self._succ[n])

    def number_of_nodes(self) -> int:
        return len(self._attrs)

    def edge_values(self, key: str) -> list[tuple[Any, Any, Any]]:
        """(source, target, data[key]) of every edge, in one pass (no generator per edge:
        a 10,000-node graph is listed on every undo snapshot)."""
        return [(s, t, d[key]) for s, nbrs in self._succ.items() for t, d in nbrs.items()]

    def number_of_edges(self) -> int:
        return sum(len(v) for v in self._succ.values())

    def clear(self) -> None:
        self._attrs.clear()
        self._succ.clear()
        self._pred.clear()


def has_path(g: DiGraph, source, target) -> bool:
    """Is target reachable from source? Searches forward from source and backward from
    target, always on the side that has seen fewer nodes, and stops when either side runs
    out: the cost is about twice the smaller of the two searches, so asking about a node
    with nothing upstream (an edge list read target-first) or downstream costs O(1)."""
    if source == target:
        return True
    fwd, bwd = {source}, {target}
    fwd_front, bwd_front = [source], [target]
    while fwd_front and bwd_front:
        if len(fwd) <= len(bwd):
            fwd_front = _expand(fwd_front, g._succ, fwd, bwd)
        else:
            bwd_front = _expand(bwd_front, g._pred, bwd, fwd)
        if fwd_front is None or bwd_front is None:
            return True
    return False


def descendants(g: DiGraph, source) -> set:
    """Every node reachable from source (source itself excluded), like networkx's."""
    return _reach(g._succ, source)


def ancestors(g: DiGraph, source) -> set:
    """Every node from which source is reachable (source itself excluded)."""
    return _reach(g._pred, source)


def _reach(neighbours, source) -> set:
    seen, stack = set(), [source]
    while stack:
        for m in neighbours[stack.pop()]:
            if m not in seen:
                seen.add(m)
                stack.append(m)
    seen.discard(source)
    return seen


def _expand(front, neighbours, seen: set, other: set):
    """One level of a breadth-first search: the next front, or None if it meets `other`."""
    nxt = []
    for n in front:
        for m in neighbours[n]:
            if m in other:
                return None
            if m not in seen:
                seen.add(m)
                nxt.append(m)
    return nxt


def lexicographical_topological_sort(g: DiGraph, key: Callable[[Any], Any] | None = None
                                     ) -> Iterator[str]:
    """Kahn's algorithm taking, among the ready nodes, the smallest by `key` first."""
    key = key or (lambda n: n)
    indeg = {n: len(p) for n, p in g._pred.items()}
    ready = [(key(n), i, n) for i, (n, d) in enumerate(indeg.items()) if d == 0]
    heapq.heapify(ready)
    order = {n: i for i, n in enumerate(indeg)}
    seen = 0
    while ready:
        _, _, n = heapq.heappop(ready)
        seen += 1
        yield n
        for t in g._succ[n]:
            indeg[t] -= 1
            if indeg[t] == 0:
                heapq.heappush(ready, (key(t), order[t], t))
    if seen != len(indeg):
        raise ValueError("the graph has a cycle")


def topological_sort(g: DiGraph) -> Iterator[str]:
    return lexicographical_topological_sort(g, key=lambda n: 0)

