"""What one traced module becomes before it is a project: a small graph of catalogue nodes.

A Fragment is the body of one module: its inputs (Ports), its nodes in topological order and
its output. Every node carries the example tensor it computed on the import's input, so that
each recognition can be checked numerically where it is made, and the weights its catalogue
module will load (keyed by that module's own state_dict names; a composite instance keys
them by body node id, a repeat lists one set per copy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ImportRefused


@dataclass(eq=False)
class Port:
    index: int
    value: Any  # the example tensor fed to this input


@dataclass(eq=False)
class Node:
    type: str
    params: dict[str, Any]
    inputs: list[Any]  # Node | Port, in port order
    value: Any  # the example tensor this node computes (torch's shape: see `squeezed`)
    label: str = ""
    weights: Any = None
    repeat: int = 1
    squeezed: bool = False  # torch keeps [N, C, 1, 1] where the project has [C] (global pool)
    where: str = ""  # module path, for messages
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a conv's bias before fusion

    def __post_init__(self):
        if self.squeezed and self.value is not None and self.value.dim() == 4:
            self.value = self.value.flatten(1)  # the project's [C]; torch's [C, 1, 1] is noted


@dataclass(eq=False)
class Fragment:
    inputs: list[Port]
    nodes: list[Node]
    output: Any  # Node | Port

    def consumers(self) -> dict[Node | Port, list[Node]]:
        out: dict[Any, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                out.setdefault(i, []).append(n)
        return out

    def prune(self) -> None:
        """Drop nodes the output does not depend on (e.g. a size() only fed a view)."""
        live: set[Node] = set()
        todo = [self.output]
        while todo:
            v = todo.pop()
            if isinstance(v, Node) and v not in live:
                live.add(v)
                todo.extend(v.inputs)
        self.nodes = [n for n in self.nodes if n in live]

    def replace(self, old: list[Node], new: Node) -> None:
        """Put `new` where the run `old` was (new's inputs already set); rewire consumers of
        old[-1] to it."""
        last = old[-1]
        at = self.nodes.index(old[0])
        gone = set(old)
        self.nodes = [n for n in self.nodes if n not in gone]
        self.nodes.insert(at, new)
        for n in self.nodes:
            n.inputs = [new if i is last else i for i in n.inputs]
        if self.output is last:
            self.output = new


def refuse(where: str, what: str, supported: str = "") -> ImportRefused:
    where = where or "the model"
    tail = f" — {supported}" if supported else ""
    return ImportRefused(f"{where}: {what}{tail}")
