"""The Keras-style summary of a graph, as rows, as text and as JSON.

The text is for terminals: ids, labels, types and names from the file are shown with
control characters escaped (`\x1b`), so a project cannot repaint or retitle a terminal.
"""
from __future__ import annotations

from typing import Any

from .graph import NetGraph, fmt_shape
from .graph.composite import walk_body
from .textsafe import term_safe


def _inner_rows(graph: NetGraph, n: str) -> list[dict[str, Any]]:
    """Rows for the inside of a composite instance, as measured for this instance."""
    d = graph.node(n)
    definition = graph.definitions.get(d["type"])
    if definition is None or graph.info[n].output_shape is None:
        return []
    shapes = [graph.info[s].output_shape for s, _ in graph.inputs_of(n)]
    return _instance_rows(graph.definitions, definition, d["params"], shapes)


def _instance_rows(defs, definition, params, in_shapes) -> list[dict[str, Any]]:
    """Rows for one instance's inside; a block nested in it shows what this instance gives
    it (its exposed values, its input shapes), not the block as drawn. Bounded by the
    nesting limit (graph.cost.MAX_NESTING)."""
    body = definition.body
    shapes = dict(zip(definition.inputs, in_shapes))
    rows = []
    for inner, t, st in walk_body(defs, definition, params, in_shapes):
        b = body.node(inner)
        children = []
        if t in defs and st.output_shape is not None:
            ins = [shapes.get(s) for s, _ in body.inputs_of(inner)]
            children = _instance_rows(defs, defs[t], definition.body_params(inner, params), ins)
        shapes[inner] = st.output_shape
        rows.append({"id": inner, "label": b["label"], "type": t,
                     "repeat": b.get("repeat", 1),
                     "output_shape": list(st.output_shape) if st.output_shape else None,
                     "params": st.params, "macs": st.macs,
                     "activation_bytes": st.activation_bytes, "error": st.error,
                     "children": children})
    return rows


def summary_rows(graph: NetGraph, nested: bool = True) -> list[dict[str, Any]]:
    """One row per node in graph order; a composite's row has its inside as `children`
    (each counted once per instance; a repeat ×N row counts all N copies)."""
    rows = []
    for n in graph.topological_order():
        d, info = graph.node(n), graph.info[n]
        if info.problem:
            error = info.problem.message
        elif info.blocked:
            error = "not measured: an input before it has a problem"
        else:
            error = None
        rows.append({
            "id": n,
            "label": d["label"],
            "type": d["type"],
            "output_shape": list(info.output_shape) if info.output_shape else None,
            "params": info.params,
            "macs": info.macs,
            "activation_bytes": info.activation_bytes,
            "error": error,
            "repeat": d.get("repeat", 1),
            "children": _inner_rows(graph, n) if nested else [],
        })
    return rows


def summary_dict(graph: NetGraph) -> dict[str, Any]:
    totals = graph.totals()
    nodes = []
    for r in summary_rows(graph):
        row = {k: r[k] for k in ("id", "type", "output_shape", "params", "macs",
                                 "activation_bytes", "error")}
        if r["repeat"] > 1:
            row["repeat"] = r["repeat"]
        if r["children"]:
            row["children"] = r["children"]
        nodes.append(row)
    return {
        "name": graph.name,
        "input_shape": totals["input_shape"],
        "output_shape": totals["output_shape"],
        "total_params": totals["total_params"],
        "trainable_params": totals["trainable_params"],
        "total_macs": totals["total_macs"],
        "nodes": nodes,
        "errors": [{"node": p.node, "message": p.message} for p in graph.problems()],
    }


def human(n: int) -> str:
    """1234567 → '1.23M' for status bars; exact figures stay in tables."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def summary_text(graph: NetGraph, expand: bool = True) -> str:
    table = [("Node", "Type", "Output shape", "Params", "MACs")]

    def add(rows, depth):
        for r in rows:
            name = f"{r['id']} ({r['label']})" if r["label"] else r["id"]
            name = ("  " * depth + "└ " if depth else "") + term_safe(name)
            kind = term_safe(r["type"]) + (f" ×{r['repeat']}" if r.get("repeat", 1) > 1 else "")
            shape = fmt_shape(tuple(r["output_shape"])) if r["output_shape"] else (
                "ERROR" if r["error"] and not r["error"].startswith("not measured") else "?")
            table.append((name, kind, shape, f"{r['params']:,}", f"{r['macs']:,}"))
            if expand:
                add(r.get("children", []), depth + 1)
    add(summary_rows(graph, nested=expand), 0)
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    total_width = sum(widths) + 2 * 4

    def line(row):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths)))

    t = graph.totals()
    out = [f'Model: "{term_safe(graph.name)}"', "─" * total_width, line(table[0]), "═" * total_width]
    out += [line(r) for r in table[1:]]
    out += ["═" * total_width,
            f"Total params: {t['total_params']:,}",
            f"Trainable params: {t['trainable_params']:,}",
            f"Non-trainable params: {t['total_params'] - t['trainable_params']:,}",
            f"Total MACs: {t['total_macs']:,}",
            f"Input shape: {fmt_shape(tuple(t['input_shape'])) if t['input_shape'] else '?'}",
            f"Output shape: {fmt_shape(tuple(t['output_shape'])) if t['output_shape'] else '?'}",
            "─" * total_width]
    problems = graph.problems()
    if problems:
        out.append(f"{len(problems)} problem(s):")
        out += [f"  {term_safe(p.node)}: {term_safe(p.message)}" for p in problems]
    return "\n".join(out)
