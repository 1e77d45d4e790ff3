"""Graph → one checked .onnx file.

The model goes through `torch.export` and the current ONNX exporter (opset 18 and up;
the TorchScript exporter only for an older opset the new one cannot write), is saved with
its weights inside (beside it, as external data, only over 2 GB), then checked before the
export is reported done: `onnx.checker` on the file, and onnxruntime runs it on a fresh
random batch whose result must match the torch model's: within 1e-4 of the output's
magnitude, or as close to a float64 run as float32 torch is (see parity.py).
"""
from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..graph import NetGraph
from .errors import ExportError, check_graph, compiled, input_shape, output_path, output_shape
from .parity import float64_run, judge

TOLERANCE = 1e-4
# Protobuf refuses messages of 2 GiB; keep a margin for the graph itself.
EXTERNAL_DATA_BYTES = 2**31 - 2**26
NEW_EXPORTER_MIN_OPSET = 18
METADATA_KEY = "project_name"


@dataclass
class OnnxReport:
    path: Path
    max_abs_diff: float
    seconds: float  # everything: export, save, check and the onnxruntime comparison
    opset: int
    external_data: bool
    exporter: str = "dynamo"  # or "torchscript" (opsets below 18)
    input_name: str = "input"
    output_name: str = "logits"
    size_bytes: int = 0  # the .onnx file plus its external data
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step

    def summary(self) -> str:
        where = f" + {self.path.name}.data" if self.external_data else ""
        return (f"wrote {self.path}{where} ({_mb(self.size_bytes)}, opset {self.opset}) in "
                f"{self.seconds:.1f} s; onnxruntime matches torch on a random batch of 2: "
                f"max abs diff {self.max_abs_diff:.2g}")


def export_onnx(graph: NetGraph, path: str | os.PathLike, opset: int | None = None, *,
                model: torch.nn.Module | None = None, tolerance: float = TOLERANCE,
                seed: int = 0) -> OnnxReport:
    """Export the graph's model (or `model`, e.g. with trained weights) to `path`."""
    start = time.perf_counter()
    phases: dict[str, float] = {}
    check_graph(graph)
    p = output_path(path)
    max_opset = _max_opset()
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int)
                              or not 7 <= opset <= max_opset):
        raise ExportError(f"opset must be a whole number from 7 to {max_opset}, not {opset!r}")
    if model is None:
        model = compiled(graph)
    elif any(t.device.type != "cpu" for t in model.state_dict().values()):
        model = copy.deepcopy(model).to("cpu")  # the check runs on the CPU; leave theirs be
    was_training = model.training
    model.eval()
    try:
        return _export(graph, model, p, opset, tolerance, seed, start, phases)
    finally:
        model.train(was_training)


def _export(graph, model, p: Path, opset, tolerance, seed, start, phases) -> OnnxReport:
    in_shape = input_shape(graph)
    out_name = "logits" if len(output_shape(graph)) == 1 else "output"
    gen = torch.Generator().manual_seed(seed)
    example = torch.randn(2, *in_shape, generator=gen)
    check_input = torch.randn(2, *in_shape, generator=gen)
    n_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    external = n_bytes > EXTERNAL_DATA_BYTES
    exporter = "dynamo" if opset is None or opset >= NEW_EXPORTER_MIN_OPSET else "torchscript"
    # Embedded weights: write beside, then replace the target only once everything passed.
    target = p if external else p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        t = time.perf_counter()
        if exporter == "dynamo":
            _export_dynamo(graph, model, example, target, opset, out_name, external, phases)
        else:
            _export_torchscript(graph, model, example, target, opset, out_name, external)
            phases["export"] = time.perf_counter() - t
        t = time.perf_counter()
        actual_opset = _check(target, graph)
        phases["check"] = time.perf_counter() - t
        if opset is not None and actual_opset != opset:
            raise ExportError(f"opset {opset} was asked for, but the exporter wrote opset "
                              f"{actual_opset} — choose opset {actual_opset} or newer")
        diff = _compare(target, model, check_input, out_name, tolerance, phases)
        if target != p:
            os.replace(target, p)
    except BaseException:
        _remove(target, external)
        raise
    size = p.stat().st_size
    if external and Path(f"{p}.data").exists():
        size += Path(f"{p}.data").stat().st_size
    return OnnxReport(p, diff, time.perf_counter() - start, actual_opset, external, exporter,
                      "input", out_name, size, phases)


# ---- exporting -----------------------------------------------------------------------------

def _export_dynamo(graph, model, example, target: Path, opset, out_name, external, phases):
    t = time.perf_counter()
    batch = torch.export.Dim("batch", min=1, max=65536)
    with _quiet():
        try:
            program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},),
                                          strict=False)
        except Exception as exc:  # noqa: BLE001 - any exporter failure becomes a message
            raise _failure(exc, graph, model, None, "torch.export") from None
        phases["torch.export"] = time.perf_counter() - t
        t = time.perf_counter()
        try:
            onnx_program = torch.onnx.export(
                program, (example,), input_names=["input"], output_names=[out_name],
                opset_version=opset, dynamo=True, verbose=False, optimize=True)
        except Exception as exc:  # noqa: BLE001 - any exporter failure becomes a message
            raise _failure(exc, graph, model, program, "ONNX translation") from None
    phases["onnx translation"] = time.perf_counter() - t
    t = time.perf_counter()
    onnx_program.model.metadata_props.update(_metadata(graph))
    onnx_program.model.graph.name = _graph_name(graph)
    _tag_composites(onnx_program.model, model)
    try:
        onnx_program.save(str(target), external_data=external)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
    phases["save"] = time.perf_counter() - t


def _tag_composites(onnx_model, model) -> None:
    """Name the composite blocks each ONNX node belongs to ("n4:Stage/n2:Inner").

    torch keeps module paths (node ids) in name_scopes but drops fx GraphModule classes,
    which is where a composite's name lives; this puts it back, as node metadata.
    """
    import ast

    import torch.fx as fx
    for node in onnx_model.graph:
        scopes = node.metadata_props.get("pkg.torch.onnx.name_scopes")
        if not scopes:
            continue
        try:
            paths = [p for p in ast.literal_eval(scopes) if isinstance(p, str) and p]
        except (ValueError, SyntaxError):
            continue
        module, names, where = model, [], ""
        for seg in (paths[-2] if len(paths) > 1 else "").split("."):
            parent, module = module, getattr(module, "_modules", {}).get(seg)
            if module is None:
                break
            # a repeat is a Sequential of copies: "n7[1]" is the second copy of node n7
            where = f"{where}[{seg}]" if isinstance(parent, torch.nn.Sequential) else seg
            if isinstance(module, fx.GraphModule) and type(module).__name__ != "GraphModule":
                names.append(f"{where}:{type(module).__name__}")
        if names:
            node.metadata_props["netcanvas.composite"] = "/".join(names)


def _export_torchscript(graph, model, example, target: Path, opset, out_name, external):
    import onnx
    with _quiet():
        try:
            torch.onnx.export(
                model, (example,), str(target), dynamo=False, input_names=["input"],
                output_names=[out_name], opset_version=opset,
                dynamic_axes={"input": {0: "batch"}, out_name: {0: "batch"}})
        except OSError as exc:
            raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - any exporter failure becomes a message
            raise _failure(exc, graph, model, None, "ONNX export") from None
    proto = onnx.load(str(target), load_external_data=False)
    for k, v in _metadata(graph).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.graph.name = _graph_name(graph)
    if external:
        onnx.save(proto, str(target), save_as_external_data=True, all_tensors_to_one_file=True,
                  location=f"{target.name}.data")
    else:
        onnx.save(proto, str(target))


def _metadata(graph: NetGraph) -> dict[str, str]:
    return {METADATA_KEY: str(graph.name), "producer": "NetCanvas",
            "input_shape": str(list(input_shape(graph))),
            "output_shape": str(list(output_shape(graph)))}


def _graph_name(graph: NetGraph) -> str:
    from .python_source import network_class_name
    return network_class_name(graph)


def _max_opset() -> int:
    try:
        import onnx
        return min(onnx.defs.onnx_opset_version(), 23)
    except ImportError:
        raise ExportError("ONNX export needs the onnx package: pip install onnx onnxscript "
                          "onnxruntime") from None


@contextlib.contextmanager
def _quiet():
    """The exporters' progress logs and deprecation warnings are not for our users."""
    names = ("torch.onnx", "onnxscript", "torch.export", "torch._export",
             "torch.fx.experimental.symbolic_shapes", "torch._dynamo")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    sink = io.StringIO()  # torch.export prints the traced graph to stderr on failure
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


# ---- checking ------------------------------------------------------------------------------

def _check(path: Path, graph: NetGraph) -> int:
    """onnx.checker on the file (by path: works past 2 GB); returns the default opset."""
    import onnx
    try:
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise ExportError(f"the exported file does not pass onnx.checker: "
                          f"{_first_line(exc)}") from None
    proto = onnx.load(str(path), load_external_data=False)
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _compare(path: Path, model, x: torch.Tensor, out_name: str, tolerance: float,
             phases: dict[str, float]) -> float:
    import numpy as np
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("checking the export needs onnxruntime: pip install onnxruntime") \
            from None
    # torch first: onnxruntime's idle worker threads spin for a while after a run and would
    # steal the cores from torch (2× slower on a 2-core machine)
    t = time.perf_counter()
    with torch.inference_mode():
        want = model(x).numpy()
    phases["torch reference"] = time.perf_counter() - t
    t = time.perf_counter()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = None
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (got,) = session.run([out_name], {"input": x.numpy()})
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
        raise ExportError(f"onnxruntime cannot run the exported model: "
                          f"{_first_line(exc)}") from None
    finally:
        del session  # its threads go now, not at some later collection
    phases["onnxruntime"] = time.perf_counter() - t
    if got.shape != want.shape:
        raise ExportError(f"onnxruntime's output has shape {list(got.shape)}, torch's "
                          f"{list(want.shape)}")
    if not np.isfinite(want).all():
        raise ExportError("the network's output is not finite on a random input, so the "
                          "export cannot be checked")
    t = time.perf_counter()
    verdict = judge(want, got, tolerance, float64_run(model, x))
    if verdict.onnx_error is not None:
        phases["float64 judge"] = time.perf_counter() - t
    if not verdict.ok:
        raise ExportError(f"the ONNX model does not compute what the network does on a "
                          f"random batch: {verdict.text()}")
    return verdict.max_abs_diff


def _remove(target: Path, external: bool) -> None:
    for f in (target, Path(f"{target}.data")) if external else (target,):
        with contextlib.suppress(OSError):
            f.unlink()


# ---- explaining failures ---------------------------------------------------------------------

def _failure(exc: BaseException, graph: NetGraph, model, program, stage: str) -> ExportError:
    """An ExportError naming the node (id, type, label) and operator that failed."""
    text = _chain_text(exc)
    op = _operator(text)
    node = _node_from_program(text, op, program, model) if program is not None else None
    if node is None:
        node, op2 = _localize(graph, model)
        op = op or op2
    reason = _reason(exc)
    where = ""
    if node is not None:
        d = graph.node(node)
        label = f" {d['label']!r}" if d["label"] else ""
        where = f" at node {node} ({d['type']}{label})"
    what = f": operator {op} cannot be exported to ONNX" if op else ""
    return ExportError(f"ONNX export failed{where}{what} ({stage}: {reason})")


def _chain_text(exc: BaseException) -> str:
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


_OP_PATTERNS = (r"OpOverload\(op='([^']+)'", r"target=torch\.ops\.([\w.]+?)(?:\.default)?\]",
                r"operator '([\w:.]+)'", r"(aten::\w+)", r"torch\.ops\.(aten\.\w+)")


def _operator(text: str) -> str | None:
    for pattern in _OP_PATTERNS:
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    return None


def _node_from_program(text, op, program, model) -> str | None:
    """The graph node whose submodule holds the failing fx node of the exported program."""
    by_attr = {attr: n for n, attr in getattr(model, "node_names", {}).items()}
    m = re.search(r"translating node %(\w+)", text)
    candidates = []
    for fx_node in program.graph.nodes:
        if (m and fx_node.name == m.group(1)) or (op and op in str(fx_node.target)):
            candidates.append(fx_node)
    for fx_node in candidates:
        for path, _ in (fx_node.meta.get("nn_module_stack") or {}).values():
            attr = path.split(".")[0] if path else ""
            attr = re.sub(r"^L\['self'\]\.?", "", attr)
            if attr in by_attr:
                return by_attr[attr]
    return None


def _localize(graph: NetGraph, model) -> tuple[str | None, str | None]:
    """Export each node's block on its own until one fails (only after a failure)."""
    names = getattr(model, "node_names", None)
    if not names:
        return None, None
    for n in graph.topological_order():
        if n not in names:
            continue
        try:
            module = model.get_submodule(names[n])
        except AttributeError:
            continue
        xs = tuple(torch.randn(2, *graph.info[s].output_shape) for s, _ in graph.inputs_of(n))
        try:
            with _quiet():
                torch.onnx.export(module.eval(), xs, dynamo=True, verbose=False,
                                  optimize=False)
        except Exception as exc:  # noqa: BLE001 - only to find the failing node
            return n, _operator(_chain_text(exc))
    return None, None


def _reason(exc: BaseException) -> str:
    """The most specific one-line reason in the exception chain."""
    last = exc
    seen = set()
    while last is not None and id(last) not in seen:
        seen.add(id(last))
        nxt = last.__cause__ or last.__context__
        if nxt is None:
            break
        last = nxt
    return _first_line(last)


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"
