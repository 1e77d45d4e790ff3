"""The Keras-style summary of a graph, as rows, as text and as JSON.

The text is for terminals: ids, labels, types and names from the file are shown with
control characters escaped (`\x1b`), so a project cannot repaint or retitle a terminal.
"""
from __future__ import annotations

from typing import Any

from .graph import NetGraph, fmt_shape
from .graph.composite import walk_body
from .graph.receptive import receptive_fields
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


def _inner_rows_of(body: NetGraph, n: str, t: str) -> list[dict[str, Any]]:
    return _inner_rows(body, n) if t in body.definitions and n in body.info else []


def summary_rows(graph: NetGraph, nested: bool = True, memory=None) -> list[dict[str, Any]]:
    """One row per node in graph order; a composite's row has its inside as `children`
    (each counted once per instance; a repeat ×N row counts all N copies). `field` is the
    node's receptive field (a NodeField, or None); with a MemoryEstimate, `train_bytes`."""
    fields = receptive_fields(graph)
    rows = []
    for n in graph.topological_order():
        rows.append(node_row(graph, n, fields.get(n), nested))
        if memory is not None:
            rows[-1]["train_bytes"] = memory.nodes[n].total if n in memory.nodes else None
    return rows


def node_row(graph: NetGraph, n: str, field=None, nested: bool = True) -> dict[str, Any]:
    """One node's summary row (see summary_rows); `field`: its receptive field or None."""
    d, info = graph.node(n), graph.info[n]
    if info.problem:
        error = info.problem.message
    elif info.blocked:
        error = "not measured: an input before it has a problem"
    else:
        error = None
    return {
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
        "field": field,
    }


def summary_dict(graph: NetGraph, memory=None, gpu_gib: float | None = None) -> dict[str, Any]:
    """The summary as one JSON-able object; with a MemoryEstimate (app.train.memory), the
    training memory per node and in all, and whether it fits in gpu_gib GiB."""
    totals = graph.totals()
    nodes = []
    for r in summary_rows(graph, memory=memory):
        row = {k: r[k] for k in ("id", "type", "output_shape", "params", "macs",
                                 "activation_bytes", "error")}
        f = r["field"]
        row.update(f.to_dict() if f else {"receptive_field": None, "effective_stride": None})
        if memory is not None:
            row["train_bytes"] = r["train_bytes"]
        if r["repeat"] > 1:
            row["repeat"] = r["repeat"]
        if r["children"]:
            row["children"] = r["children"]
        nodes.append(row)
    out = {
        "name": graph.name,
        "input_shape": totals["input_shape"],
        "output_shape": totals["output_shape"],
        "total_params": totals["total_params"],
        "trainable_params": totals["trainable_params"],
        "total_macs": totals["total_macs"],
        "nodes": nodes,
        "errors": [{"node": p.node, "message": p.message} for p in graph.problems()],
    }
    if memory is not None:
        out["train_bytes"] = memory.total
        out["train_memory"] = {**memory.to_dict(), "gpu_gib": gpu_gib,
                               "fits": memory.fits(gpu_gib) if gpu_gib else None}
    return out


def fmt_bytes(n: int) -> str:
    """1536 → '1.5 KiB'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def human(n: int) -> str:
    """1234567 → '1.23M' for status bars; exact figures stay in tables."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)


def summary_text(graph: NetGraph, expand: bool = True, memory=None,
                 gpu_gib: float | None = None) -> str:
    table = [("Node", "Type", "Output shape", "Params", "MACs", "Field /stride")
             + (("Train memory",) if memory is not None else ())]

    def add(rows, depth):
        for r in rows:
            name = f"{r['id']} ({r['label']})" if r["label"] else r["id"]
            name = ("  " * depth + "└ " if depth else "") + term_safe(name)
            kind = term_safe(r["type"]) + (f" ×{r['repeat']}" if r.get("repeat", 1) > 1 else "")
            shape = fmt_shape(tuple(r["output_shape"])) if r["output_shape"] else (
                "ERROR" if r["error"] and not r["error"].startswith("not measured") else "?")
            field = r.get("field")
            row = (name, kind, shape, f"{r['params']:,}", f"{r['macs']:,}",
                   field.text() if field else "")
            if memory is not None:
                row += (fmt_bytes(r["train_bytes"]) if r.get("train_bytes") is not None else "",)
            table.append(row)
            if expand:
                add(r.get("children", []), depth + 1)
    add(summary_rows(graph, nested=expand, memory=memory), 0)
    cols = len(table[0])
    table = [row + ("",) * (cols - len(row)) for row in table]
    widths = [max(len(row[i]) for row in table) for i in range(cols)]
    total_width = sum(widths) + 2 * (cols - 1)

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
            f"Output shape: {fmt_shape(tuple(t['output_shape'])) if t['output_shape'] else '?'}"]
    if memory is not None:
        out.append(f"Training memory: {memory.text()}")
        if gpu_gib:
            out.append(memory.fits_text(gpu_gib))
    out.append("─" * total_width)
    problems = graph.problems()
    if problems:
        out.append(f"{len(problems)} problem(s):")
        out += [f"  {term_safe(p.node)}: {term_safe(p.message)}" for p in problems]
    warnings = [(n, f.warning) for n, f in receptive_fields(graph).items() if f and f.warning]
    if warnings:
        out.append("Receptive-field warnings:")
        out += [f"  {term_safe(n)}: {term_safe(w)}" for n, w in warnings]
    return "\n".join(out)
