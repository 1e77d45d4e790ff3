"""Graph → torch.nn.Module, as a torch.fx GraphModule.

Each node becomes one submodule (the same block the validator measured) and one line of
`forward`, in topological order; `print(model.code)` shows readable Python.
"""
from __future__ import annotations

import keyword
import re

import torch.fx as fx
import torch.nn as nn

from blocks import get_spec

from .graph import NetGraph


class CompileError(ValueError):
    """The graph cannot become a model yet; the message lists what to fix first."""


def attribute_names(graph: NetGraph) -> dict[str, str]:
    """A unique Python identifier per node id (ids in files may be any string)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for n in graph.topological_order():
        base = python_identifier(n, fallback="node")
        name, i = base, 2
        while name in used:
            name, i = f"{base}_{i}", i + 1
        used.add(name)
        names[n] = name
    return names


def python_identifier(text: str, fallback: str = "x") -> str:
    """Make any string a lower-case identifier that is not a keyword or builtin-looking."""
    s = re.sub(r"\W+", "_", text.strip(), flags=re.ASCII).strip("_").lower()
    if not s:
        s = fallback
    if s[0].isdigit():
        s = f"{fallback}_{s}"
    if keyword.iskeyword(s) or keyword.issoftkeyword(s) or s in {"self", "x", "torch", "nn", "F"}:
        s = f"{s}_"
    return s


def build_node_module(graph: NetGraph, node_id: str) -> nn.Module:
    d = graph.node(node_id)
    shapes = [graph.info[s].output_shape for s, _ in graph.inputs_of(node_id)]
    return get_spec(d["type"]).build(shapes, d["params"])


def compile_graph(graph: NetGraph) -> fx.GraphModule:
    """Build the trainable model; raises CompileError when the graph has problems."""
    problems = graph.problems()
    if problems:
        lines = "\n".join(f"  {p.node}: {p.message}" for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CompileError(f"the graph has {len(problems)} problem(s):\n{lines}{more}")
    inputs, outputs = graph.input_nodes(), graph.output_nodes()
    if len(inputs) != 1 or len(outputs) != 1:
        raise CompileError("the graph needs exactly one Input and one output to compile")
    names = attribute_names(graph)
    root = nn.Module()
    fg = fx.Graph()
    env: dict[str, fx.Node] = {}
    for n in graph.topological_order():
        if graph.type_of(n) == "Input":
            env[n] = fg.placeholder("x")
            continue
        root.add_module(names[n], build_node_module(graph, n))
        args = tuple(env[s] for s, _ in graph.inputs_of(n))
        env[n] = fg.call_module(names[n], args)
    fg.output(env[outputs[0]])
    model = fx.GraphModule(root, fg, class_name=python_identifier(graph.name, "network"))
    model.node_names = dict(names)  # node id → submodule name, for weights and exports
    return model
