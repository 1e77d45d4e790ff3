"""Group selected nodes into a composite block, ungroup it, expose inner parameters.

Each function is one graph edit (done inside `graph.batch()`), so an editor can wrap it
in a single undo step.
"""
from __future__ import annotations

from typing import Any

from blocks.spec import shared_kind

from .composite import DEFAULT_COLOR, Definition, check_color
from .model import GraphError, NetGraph


def group(graph: NetGraph, nodes: list[str], name: str, color: str = DEFAULT_COLOR,
          doc: str = "") -> str:
    """Replace `nodes` by one instance of a new composite `name`; returns the instance id.

    The composite's inputs are the distinct outside sources of edges entering the
    selection (in the order of the nodes they feed); its output is the one selected node
    whose result is used outside (or the selection's one open end).
    """
    chosen = [n for n in graph.topological_order() if n in set(nodes)]
    if not chosen:
        raise GraphError("select the blocks to group first")
    if len(chosen) != len(set(nodes)):
        raise GraphError("some selected nodes are not in this graph")
    if any(graph.type_of(n) == "Input" for n in chosen):
        raise GraphError("an Input cannot go inside a block — leave it out of the selection")
    name = name.strip()
    if not name or not name.isidentifier():
        raise GraphError(f"a block name must be a single word of letters, digits and _ "
                         f"(like MyStage), not {name!r}")
    if not check_color(color):
        raise GraphError(f"colour must look like #rrggbb, not {color!r}")
    inside = set(chosen)
    sources: list[str] = []  # outside nodes feeding the selection → input ports
    entering: list[tuple[str, str, int]] = []
    for n in chosen:
        for s, p in graph.inputs_of(n):
            if s not in inside:
                entering.append((s, n, p))
                if s not in sources:
                    sources.append(s)
    leaving = [(n, t, d["port"]) for n in chosen for _, t, d in graph.g.out_edges(n, data=True)
               if t not in inside]
    out_nodes = {n for n, _, _ in leaving}
    ends = [n for n in chosen if not any(t in inside for t in graph.g.successors(n))]
    if len(out_nodes) > 1:
        raise GraphError(f"a block has one output, but {', '.join(sorted(out_nodes))} all feed "
                         f"blocks outside the selection — group fewer or more blocks")
    output = next(iter(out_nodes)) if out_nodes else (ends[0] if len(ends) == 1 else None)
    if output is None or any(e != output for e in ends):
        raise GraphError("the selection must end in one block: its other open ends "
                         f"({', '.join(e for e in ends if e != output)}) go nowhere")
    if not sources:
        raise GraphError("the selection has no input: connect something into it first")
    for s in sources:
        if graph.info.get(s) is None or graph.info[s].output_shape is None:
            raise GraphError(f"{s} has a problem: fix it before grouping what it feeds")

    body = NetGraph(name, graph.definitions, owner=name)
    port_ids = []
    with body.batch():
        for i, s in enumerate(sources):
            x, y = graph.node(s)["pos"]
            pid = _free_id(f"in{i + 1}", inside)
            body.add_node("Input", {"shape": list(graph.info[s].output_shape)},
                          label=graph.node(s)["label"] or s, pos=(x, y), node_id=pid)
            port_ids.append(pid)
        for n in chosen:
            d = graph.node(n)
            body.add_node(d["type"], d["params"], d["label"], d["pos"], n, d.get("repeat", 1))
        for n in chosen:
            for s, p in graph.inputs_of(n):
                src = s if s in inside else port_ids[sources.index(s)]
                body.connect(src, n, p)
    definition = Definition(name, body, port_ids, {}, color, doc)
    xs = [graph.node(n)["pos"][0] for n in chosen]
    ys = [graph.node(n)["pos"][1] for n in chosen]
    with graph.batch():
        graph.add_definition(definition)
        for n in chosen:
            graph.remove_node(n)
        inst = graph.add_node(name, {}, pos=(sum(xs) / len(xs), sum(ys) / len(ys)))
        for i, s in enumerate(sources):
            graph.connect(s, inst, i)
        for _, t, p in leaving:
            graph.connect(inst, t, p)
    return inst


def ungroup(graph: NetGraph, instance: str) -> list[str]:
    """Put an instance's inner nodes back in its place; returns their ids.

    The definition goes too when this was its last instance, so that group then ungroup
    gives back the graph it started from.
    """
    d = graph.node(instance)
    definition = graph.definitions.get(d["type"])
    if definition is None:
        raise GraphError(f"{instance} is not a composite block")
    if d.get("repeat", 1) != 1:
        raise GraphError(f"{instance} repeats ×{d['repeat']}: set repeat to 1 before ungrouping")
    body = definition.body
    feeds = {p: s for s, p in graph.inputs_of(instance)}
    leaving = [(t, e["port"]) for _, t, e in graph.g.out_edges(instance, data=True)]
    output = definition.output()
    if output is None:
        raise GraphError(f"{definition.name} has no single output — fix its inside first")
    ids: dict[str, str] = {}
    with graph.batch():
        graph.remove_node(instance)
        for n in body.topological_order():
            if n in definition.inputs:
                continue
            b = body.node(n)
            nid = n if n not in graph.g else None
            ids[n] = graph.add_node(b["type"], definition.body_params(n, d["params"]), b["label"],
                                    b["pos"], nid, b.get("repeat", 1))
        for s, t, p in body.edges():
            if s in definition.inputs:
                src = feeds.get(definition.inputs.index(s))
                if src is not None:
                    graph.connect(src, ids[t], p)
            else:
                graph.connect(ids[s], ids[t], p)
        for t, p in leaving:
            graph.connect(ids[output], t, p)
        still_used = any(g.type_of(n) == definition.name
                         for g in list(graph.definitions.graphs) for n in g.nodes())
        if not still_used:
            graph.remove_definition(definition.name)
    return list(ids.values())


def expose(graph: NetGraph, name: str, node: str, param: str, as_name: str | None = None) -> str:
    """Make an inner node's parameter a parameter of the composite (per instance)."""
    definition = graph.definitions.get(name)
    if definition is None:
        raise GraphError(f"there is no block {name!r} in this project")
    kind = definition.body.kind(definition.body.type_of(node))
    if param not in kind.param_map:
        raise GraphError(f"{node} has no parameter {param!r}")
    as_name = as_name or param
    if not as_name.isidentifier():
        raise GraphError(f"a parameter name must be a single word, not {as_name!r}")
    targets = definition.exposed.setdefault(as_name, [])
    if (node, param) not in targets:
        if targets:  # one name may drive several inner params of the same kind
            first = definition.body.kind(definition.body.type_of(targets[0][0]))
            if shared_kind(first.param_map[targets[0][1]].kind,
                           kind.param_map[param].kind) is None:
                raise GraphError(f"{as_name} already stands for a parameter of another kind")
        targets.append((node, param))
    value = definition.body.node(targets[0][0])["params"][targets[0][1]]
    for g in list(graph.definitions.graphs):  # existing instances keep today's value
        for n in g.nodes():
            if g.type_of(n) == name:
                g.node(n)["params"].setdefault(as_name, value)
    graph.definitions.changed(name)
    return as_name


def unexpose(graph: NetGraph, name: str, as_name: str) -> None:
    definition = graph.definitions[name]
    if definition.exposed.pop(as_name, None) is not None:
        for g in list(graph.definitions.graphs):
            for n in g.nodes():
                if g.type_of(n) == name and as_name in g.node(n)["params"]:
                    del g.node(n)["params"][as_name]
        graph.definitions.changed(name)


def instance_params(graph: NetGraph, node: str) -> dict[str, Any]:
    return dict(graph.node(node)["params"])


def _free_id(base: str, taken: set[str]) -> str:
    nid, i = base, 2
    while nid in taken:
        nid, i = f"{base}_{i}", i + 1
    return nid
