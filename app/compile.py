"""Graph → torch.nn.Module, as a torch.fx GraphModule.

Each node becomes one submodule (the same block the validator measured) and one line of
`forward`, in topological order; `print(model.code)` shows readable Python.
"""
from __future__ import annotations

import keyword
import re

import torch.fx as fx
import torch.nn as nn

from blocks import REGISTRY, get_spec
from blocks.spec import Shape

from .graph import NetGraph
from .graph.composite import Definition, Definitions, measure, walk_body
from .graph.cost import cost_problems


class CompileError(ValueError):
    """The graph cannot become a model yet; the message lists what to fix first."""


def attribute_names(graph: NetGraph) -> dict[str, str]:
    """A unique Python identifier per node id (ids in files may be any string)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for n in graph.topological_order():
        if graph.owner is not None and graph.type_of(n) == "Input":
            continue  # a body's inputs are forward's arguments, not modules
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
    if keyword.iskeyword(s) or keyword.issoftkeyword(s) or s in _RESERVED or hasattr(fx.GraphModule, s):
        s = f"{s}_"  # e.g. a node called "forward" or "eval" must not shadow the model's own
    return s


_RESERVED = {"self", "x", "torch", "nn", "F", "node_names", "graph", "meta", "code", "training"}


def build_node_module(graph: NetGraph, node_id: str) -> nn.Module:
    d = graph.node(node_id)
    shapes = [graph.info[s].output_shape for s, _ in graph.inputs_of(node_id)]
    return build_block(graph.definitions, d["type"], d["params"], shapes, d.get("repeat", 1))


def build_block(defs: Definitions, type_id: str, params: dict, in_shapes: list[Shape],
                repeat: int = 1) -> nn.Module:
    """One node's module: a catalogue block or a compiled composite; N copies in a
    Sequential when it repeats (each built for the shape the one before it gives)."""
    copies = []
    shapes = in_shapes
    for _ in range(repeat):
        if type_id in REGISTRY:
            copies.append(get_spec(type_id).build(shapes, params))
        else:
            copies.append(compile_definition(defs, defs[type_id], params, shapes))
        if repeat > 1:
            shapes = [measure(defs, type_id, params, shapes).output_shape]
    return copies[0] if repeat == 1 else nn.Sequential(*copies)


def compile_definition(defs: Definitions, d: Definition, params: dict,
                       in_shapes: list[Shape]) -> fx.GraphModule:
    """A composite instance as its own GraphModule (one forward argument per input)."""
    body = d.body
    names = attribute_names(body)
    root = nn.Module()
    fg = fx.Graph()
    env: dict[str, fx.Node] = {}
    shapes: dict[str, Shape] = dict(zip(d.inputs, in_shapes))
    for i, port in enumerate(d.inputs):
        env[port] = fg.placeholder(f"x{i}" if len(d.inputs) > 1 else "x")
    # walk_body measures each inner node for this instance, as validation did
    for n, t, st in walk_body(defs, d, params, in_shapes):
        ins = [shapes[s] for s, _ in body.inputs_of(n)]
        p = d.body_params(n, params)
        root.add_module(names[n], build_block(defs, t, p, ins, body.node(n).get("repeat", 1)))
        shapes[n] = st.output_shape
        env[n] = fg.call_module(names[n], tuple(env[s] for s, _ in body.inputs_of(n)))
    fg.output(env[d.output()])
    module = fx.GraphModule(root, fg, class_name=d.name)
    module.node_names = dict(names)
    return module


def compile_graph(graph: NetGraph) -> fx.GraphModule:
    """Build the trainable model; raises CompileError when the graph has problems."""
    problems = graph.problems()
    if problems:
        lines = "\n".join(f"  {p.node}: {p.message}" for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CompileError(f"the graph has {len(problems)} problem(s):\n{lines}{more}")
    too_big = cost_problems(graph)  # refused before a single module is built
    if too_big:
        raise CompileError("; ".join(too_big))
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
