"""Undo commands that put nodes into edges or take them out: a quick fix, Insert Block Here
(both make room: the nodes after the insert move right, in the same step) and dissolve
(delete and join the neighbours where the shapes allow). Snapshot commands: undo gives back
the graph exactly, positions included."""
from __future__ import annotations

from app.graph import NetGraph, Problem
from app.graph.digraph import descendants

from .commands import SnapshotCommand
from .layout import room_for_insert


def make_room(g: NetGraph, src: str, dst: str, new: str) -> None:
    """Move the node inserted on src → dst, and what is in its way, so that nothing overlaps
    (part of the insert's undo step: the snapshot before it restores the positions)."""
    with g.batch():
        for n, p in room_for_insert(g, new, src, dst).items():
            g.move(n, p)


class ApplyFix(SnapshotCommand):
    def __init__(self, doc, problem: Problem):
        super().__init__(doc, f"Fix: {problem.fix.description}")
        self.problem = problem
        self.new_id: str | None = None
        self.edge: tuple[str, str] | None = None

    def do(self) -> None:
        g = self.graph
        if self.new_id is None:
            src = next((s for s, p in g.inputs_of(self.problem.node) if p == self.problem.fix.port), None)
            self.edge = (src, self.problem.node)
            with g.batch():
                self.new_id = g.apply_fix(self.problem)
                make_room(g, *self.edge, self.new_id)
        else:  # redo: the graph is as it was the first time, so the same id comes back
            fix = self.problem.fix
            with g.batch():
                g.insert_on_edge(self.edge[0], self.edge[1], fix.type_id, fix.params)
                make_room(g, *self.edge, self.new_id)


class InsertOnEdge(SnapshotCommand):
    def __init__(self, doc, src: str, dst: str, type_id: str, params: dict | None = None):
        super().__init__(doc, f"Insert {type_id}")
        self.src, self.dst, self.type_id, self.params = src, dst, type_id, params
        self.node_id: str | None = None

    def do(self) -> None:
        g = self.graph
        with g.batch():
            self.node_id = g.insert_on_edge(self.src, self.dst, self.type_id, self.params)
            make_room(g, self.src, self.dst, self.node_id)


class Dissolve(SnapshotCommand):
    """Delete nodes and join what fed each one (its first input) to what it fed, where the
    shapes allow; a join that would give its target a new problem is left open."""

    def __init__(self, doc, nodes: list[str]):
        n = len(nodes)
        super().__init__(doc, f"Dissolve {nodes[0]}" if n == 1 else f"Dissolve {n} nodes")
        self.nodes = list(nodes)
        self.joined: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str, str]] = []  # src, dst, why

    def do(self) -> None:
        g = self.graph
        gone = set(self.nodes)

        def feeder(n):  # through a chain of dissolved nodes to the first one kept
            while n in gone:
                ins = sorted(g.inputs_of(n), key=lambda sp: sp[1])
                n = ins[0][0] if ins else None
            return n

        plan = [(feeder(n), t, g.g.edges[n, t]["port"]) for n in self.nodes
                for t in g.g.successors(n) if t not in gone]
        plan = [(s, t, p) for s, t, p in plan if s is not None]
        had = {n for n, i in g.info.items() if i.problem}
        with g.batch():
            for n in self.nodes:
                g.remove_node(n)
            for s, t, p in plan:
                if g.can_connect(s, t, p) is None:
                    g.connect(s, t, p)
        # a join whose target, or anything after it, now has a problem it did not have
        new = {n: i.problem.message for n, i in g.info.items() if i.problem and n not in had}
        self.joined, self.refused = [], []
        for s, t, _p in plan:
            if not g.g.has_edge(s, t):
                continue
            hit = next((new[n] for n in [t, *descendants(g.g, t)] if n in new), None)
            if hit:
                self.refused.append((s, t, hit))
            else:
                self.joined.append((s, t))
        if self.refused:
            with g.batch():
                for s, t, _ in self.refused:
                    g.disconnect(s, t)
