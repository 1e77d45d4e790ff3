"""An .onnx file → a NetCanvas project and its weights, checked against onnxruntime.

The file is read as data (onnx_load.py), its graph walked op by op into catalogue nodes
(onnx_graph.py, onnx_ops*.py), the project compiled with app.compile to learn its
state_dict names, the file's initializers put there, and the compiled model run beside
onnxruntime on the original file: the import is refused unless both give the same output
within 1e-5 · max(1, max|y|).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..textsafe import term_safe
from . import ImportRefused, ImportResult
from .onnx_graph import Converter, Pending, check_ops, has_param
from .onnx_load import LoadedModel, load_onnx

TOLERANCE = 1e-5
X_STEP, Y_STEP = 230.0, 140.0


def import_onnx(path: str | os.PathLike, input_shape: list[int] | None = None) -> ImportResult:
    try:
        return _import(Path(path), input_shape)
    except ImportRefused:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ImportRefused(f"{Path(path).name}: the model is too large or too deeply nested "
                            f"to import ({type(exc).__name__})") from None


def _import(path: Path, input_shape) -> ImportResult:
    loaded = load_onnx(path, input_shape, check_ops)
    conv = Converter(loaded)
    conv.run()
    nodes = _reaching(conv.nodes, conv.output)
    notes = list(dict.fromkeys(conv.notes))
    if len(nodes) < len(conv.nodes):
        notes.append(f"{len(conv.nodes) - len(nodes)} layer(s) whose results the output does "
                     f"not use were left out")
    notes += _fill_missing_biases(nodes)
    _layout(nodes)
    name = term_safe(loaded.proto.graph.name or path.stem)[:100] or "Imported"
    project = _project(name, nodes)
    graph = _graph(project, nodes)
    chains = {pid: [(pid, None)] for pid in nodes}
    if any(p.scope[0] for p in nodes.values()):
        project, graph, chains = _grouped(project, graph, chains, nodes, conv.output, notes)
    model, weights = _compiled_with_weights(graph, nodes, chains)
    diff, scale = _compare(loaded, model)
    if not diff <= TOLERANCE * scale:
        raise ImportRefused(f"{path.name}: the imported network does not compute what the "
                            f"ONNX model computes: max |diff| {diff:.3g} against onnxruntime on "
                            f"a random input (allowed {TOLERANCE * scale:.3g}); please report it")
    n_params = sum(int(np.prod(v.shape)) for k, v in model.named_parameters())
    notes.insert(0, f"imported {len(loaded.proto.graph.node)} ONNX nodes (opset "
                    f"{loaded.opset}) as {len(nodes) - 1} NetCanvas nodes, {n_params:,} "
                    f"parameters; the compiled project matches onnxruntime on a random input "
                    f"of shape {list(loaded.input_shape)}: max |diff| {diff:.2g} "
                    f"(max |y| {scale:.3g})")
    return ImportResult(project, weights, notes)


def _reaching(nodes: dict[str, Pending], output: str) -> dict[str, Pending]:
    """Only the nodes the output depends on (an unread branch would be a second output)."""
    keep, todo = set(), [output]
    while todo:
        n = todo.pop()
        if n not in keep:
            keep.add(n)
            todo.extend(nodes[n].inputs)
    return {k: v for k, v in nodes.items() if k in keep}


def _fill_missing_biases(nodes: dict[str, Pending]) -> list[str]:
    """A layer without a bias in the file gets a zero bias where the catalogue's layer
    always has one (the function is the same; the parameter count says so)."""
    added, extra = [], 0
    for p in nodes.values():
        if p.type == "Conv2d" and not p.params["batch_norm"] and "conv.bias" not in p.tensors \
                and p.params.get("bias", True):
            p.tensors["conv.bias"] = np.zeros(p.params["filters"], np.float32)
            added.append(p.label)
            extra += p.params["filters"]
        if p.type == "Linear" and "linear.bias" not in p.tensors:
            if has_param("Linear", "bias", False):
                p.params["bias"] = False
            else:
                p.tensors["linear.bias"] = np.zeros(p.params["units"], np.float32)
                added.append(p.label)
                extra += p.params["units"]
    if not added:
        return []
    more = f" and {len(added) - 3} more" if len(added) > 3 else ""
    return [(f"{len(added)} layer(s) have no bias in the file ({', '.join(added[:3])}{more}); "
             f"this catalogue's layers there always have one, so they get a zero bias "
             f"({extra:,} parameters more than the file, same outputs)")]


def _layout(nodes: dict[str, Pending]) -> None:
    """Left to right by longest path from the input; branches stacked below."""
    column: dict[str, int] = {}
    for p in nodes.values():  # nodes were created in topological order
        column[p.id] = 1 + max((column[s] for s in p.inputs), default=-1)
    rows: dict[int, int] = {}
    for p in nodes.values():
        row = rows.get(column[p.id], 0)
        rows[column[p.id]] = row + 1
        p.pos = (X_STEP * column[p.id], Y_STEP * row)


def _project(name: str, nodes: dict[str, Pending]) -> dict:
    out_nodes, edges = [], []
    for p in nodes.values():
        entry = {"id": p.id, "type": p.type, "params": p.params}
        if p.label and p.type != "Input":
            entry["label"] = p.label
        entry["pos"] = list(p.pos)
        out_nodes.append(entry)
        edges += [{"source": s, "target": p.id, "port": k} for k, s in enumerate(p.inputs)]
    return {"format": "netcanvas", "version": 1, "name": name, "nodes": out_nodes,
            "edges": edges}


def _graph(project: dict, nodes: dict[str, Pending]):
    from ..project import ProjectError, project_from_dict
    try:
        graph = project_from_dict(project)
    except ProjectError as exc:
        raise ImportRefused(f"the imported network is not a valid project: "
                            f"{'; '.join(exc.problems[:3])}") from None
    problems = graph.problems()
    if problems:
        p = problems[0]
        where = nodes[p.node].where if p.node in nodes else "the network"
        raise ImportRefused(f"{where}: NetCanvas cannot build it: {p.message}")
    for p in nodes.values():
        got = graph.info[p.id].output_shape
        if p.expect is not None and tuple(got) != tuple(p.expect):
            raise ImportRefused(f"{p.where}: NetCanvas's {p.type} gives {list(got)} where "
                                f"ONNX infers {list(p.expect)}; please report it")
    return graph


def _grouped(project, graph, chains, nodes, output, notes):
    """The project with torch's module scopes as composite blocks and repeats, when that
    gives the same network (same totals and output); otherwise the flat one, saying why."""
    from ..project import ProjectError, project_from_dict
    from .onnx_group import Grouper
    grouped, grouped_chains = Grouper(nodes, output).project(project["name"])
    try:
        g = project_from_dict(grouped)
        problems = [p.message for p in g.problems()]
    except ProjectError as exc:
        problems = exc.problems
    if not problems and g.totals() != graph.totals():
        problems = ["its totals differ from the flat network's"]
    if problems:
        notes.append(f"kept flat: grouping by the file's module scopes did not give the same "
                     f"network ({problems[0]})")
        return project, graph, chains
    defs = grouped.get("definitions", [])
    repeats = sum(1 for d in [grouped, *defs] for n in d["nodes"] if n.get("repeat", 1) > 1)
    notes.append(f"the file's module scopes became {len(defs)} composite block definition(s) "
                 f"and {repeats} repeat(s); {len(grouped['nodes']) - 1} nodes at the top")
    return grouped, g, grouped_chains


def _compiled_with_weights(graph, nodes: dict[str, Pending], chains):
    import torch
    from torch import nn

    from ..compile import CompileError, compile_graph
    try:
        model = compile_graph(graph)
    except CompileError as exc:
        raise ImportRefused(f"the imported network cannot be compiled: {exc}") from None
    state = model.state_dict()
    weights: dict[str, torch.Tensor] = {}
    roles = {nn.Conv2d: "conv", nn.ConvTranspose2d: "deconv", nn.Linear: "linear",
             nn.BatchNorm1d: "bn", nn.BatchNorm2d: "bn"}
    for p in nodes.values():
        if not p.tensors:
            continue
        module, attr = model, []
        for nid, copy in chains[p.id]:
            attr.append(module.node_names[nid])
            module = getattr(module, attr[-1])
            if copy is not None:
                attr.append(str(copy))
                module = module[copy]
        attr = ".".join(attr)
        found: dict[str, list[str]] = {}
        for sub, m in module.named_modules():
            if type(m) in roles:
                found.setdefault(roles[type(m)], []).append(sub)
        for key, arr in p.tensors.items():
            role, leaf = key.split(".", 1)
            subs = found.get(role, [])
            full = ".".join(x for x in (attr, subs[0] if len(subs) == 1 else "?", leaf) if x)
            if len(subs) != 1 or full not in state or tuple(state[full].shape) != arr.shape:
                want = list(state[full].shape) if full in state else "nothing"
                raise ImportRefused(f"{p.where}: its {key} {list(arr.shape)} does not fit "
                                    f"NetCanvas's {p.type} ({full}: {want}); please report it")
            weights[full] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    missing = [k for k in state if k not in weights and not k.endswith("num_batches_tracked")]
    if missing:
        raise ImportRefused(f"the file gives no values for {', '.join(missing[:5])}; please "
                            f"report it")
    for k, v in state.items():
        weights.setdefault(k, v.clone())
    model.load_state_dict(weights, strict=True)
    return model.eval(), weights


def _compare(loaded: LoadedModel, model) -> tuple[float, float]:
    """max |torch − onnxruntime| and max(1, max |y|) on a random input."""
    import onnxruntime as ort
    import torch
    batch = 1 if loaded.batch_fixed else 2
    x = torch.randn(batch, *loaded.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        got = model(x).numpy()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(loaded.proto.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
        (want,) = session.run([loaded.output_name], {loaded.input_name: x.numpy()})
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
        text = term_safe(str(exc).strip().splitlines()[0] if str(exc).strip() else "")[:300]
        raise ImportRefused(f"onnxruntime cannot run the ONNX model to check the import: "
                            f"{text}") from None
    finally:
        session = None
    if not np.isfinite(want).all():
        raise ImportRefused("the ONNX model's output is not finite (inf or NaN) on a random "
                            "input, so the import cannot be checked")
    if want.shape != got.shape:
        raise ImportRefused(f"the imported network gives {list(got.shape)}, the ONNX model "
                            f"{list(want.shape)}; please report it")
    scale = max(1.0, float(np.abs(want).max()))
    return float(np.abs(want.astype(np.float64) - got).max()), scale
