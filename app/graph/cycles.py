"""A linear cycle search (networkx's find_cycle is quadratic on a long chain listed
target-first: 65 s for 1,500 nodes)."""
from __future__ import annotations

from collections.abc import Hashable, Iterable


def find_cycle(edges: Iterable[tuple[Hashable, Hashable]]) -> list | None:
    """The nodes of one cycle in order (u → … → u, u given once), or None: an iterative
    depth-first search, O(nodes + edges)."""
    succ: dict = {}
    for u, v in edges:
        succ.setdefault(u, []).append(v)
        succ.setdefault(v, [])
    state: dict = {}  # 1: on the current path, 2: finished
    for root in succ:
        if root in state:
            continue
        path, its = [root], [iter(succ[root])]
        state[root] = 1
        while path:
            nxt = next(its[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                its.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                its.append(iter(succ[nxt]))
    return None


def describe_cycle(cycle: list) -> str:
    """'a → b → c → a', shortened for long cycles: '… (9,999 nodes) …'."""
    if len(cycle) <= 8:
        return " → ".join(map(str, cycle + cycle[:1]))
    head = " → ".join(map(str, cycle[:4]))
    return f"{head} → … ({len(cycle):,} nodes) → {cycle[-1]} → {cycle[0]}"
