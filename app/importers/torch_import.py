"""PyTorch modules → a NetCanvas project with the source's weights, checked to be the same function.

SOURCE is `package.module:callable` (imported and called with `kwargs`), `path/to/file.py:Name`
(that file run as a module, by the user's explicit request) or a Python file NetCanvas
exported (`file.py`, the network class found by itself). The model is traced module by module
(torch_trace), blocks are recognised (recognise), the hierarchy becomes composite blocks
(hierarchy); then the project is compiled with the source's weights and must give the
source's output on a random input, or the import is refused.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from blocks import REGISTRY

from . import ImportRefused, ImportResult
from .recognise import close


class SourceUnreadable(ImportRefused):
    """The source itself cannot be found or loaded (the CLI exits 2, not 1)."""


DEFAULT_SHAPE = [3, 224, 224]


def import_python(source: str, input_shape: list[int] | None = None,
                  kwargs: dict[str, Any] | None = None) -> ImportResult:
    t0 = time.perf_counter()
    model, name, shape_hint = load_model(source, kwargs or {})
    notes: list[str] = []
    shape = list(input_shape or shape_hint or DEFAULT_SHAPE)
    if not input_shape and not shape_hint:
        notes.append(f"input shape {'×'.join(map(str, shape))} assumed "
                     f"(give --input-shape C,H,W for another)")
    result = import_module(model, name, shape, notes)
    result.notes.append(f"imported in {time.perf_counter() - t0:.1f} s")
    return result


def import_module(model: nn.Module, name: str, shape: list[int],
                  notes: list[str] | None = None) -> ImportResult:
    """The project, weights and notes of an nn.Module for per-sample input `shape`."""
    from app.graph.composite import MAX_REPEAT
    from app.project import ProjectError, project_from_dict

    from .hierarchy import Hierarchy
    from .torch_trace import convert, forget_calls, recorded_calls
    notes = list(notes or [])
    was_training = model.training
    model.eval()
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(1, *shape, generator=gen)
        with torch.no_grad(), recorded_calls(model):
            try:
                y = model(x)
            except Exception as exc:  # noqa: BLE001 - the user's code, not ours
                raise ImportRefused(f"the model raised {type(exc).__name__} on a "
                                    f"{'×'.join(map(str, shape))} input: "
                                    f"{_first_line(exc)} (check --input-shape)") from None
        if not isinstance(y, torch.Tensor):
            raise ImportRefused(f"the model returns {type(y).__name__}, not one tensor — "
                                f"NetCanvas imports networks with one input and one output")
        hier = Hierarchy(MAX_REPEAT)
        frag = convert(model, "", [x], hier.embed)
        project, tree = hier.project(frag, name)
        try:
            graph = project_from_dict(project)
        except ProjectError as exc:  # a recognised block the loader refuses: our bug
            raise RuntimeError(f"the imported project does not load: {exc}") from None
        problems = graph.problems()
        if problems:
            raise ImportRefused(f"the imported network has problems in NetCanvas: "
                                f"{problems[0].node}: {problems[0].message}")
        weights, diff, tol = verify(graph, tree, x, y)
        totals = graph.totals()
        n_params = sum(p.numel() for p in model.parameters())
        if totals["total_params"] != n_params:
            raise RuntimeError(f"parameter count {totals['total_params']:,} differs from "
                               f"the source's {n_params:,}")
        notes.insert(0, f"{name}: {n_params:,} parameters, {totals['total_macs']:,} MACs, "
                        f"output {totals['output_shape']}; {len(graph.nodes())} nodes, "
                        f"{len(graph.definitions)} composite blocks")
        notes.append(f"checked: the project with these weights gives the source's output on "
                     f"a random input (max |diff| {diff:.2e}, tolerance {tol:.2e})")
        return ImportResult(graph.to_dict(), weights, notes)
    finally:
        forget_calls()
        model.train(was_training)


def verify(graph, tree, x, y) -> tuple[dict[str, torch.Tensor], float, float]:
    """The compiled project's state_dict filled from the weight tree, and the check that it
    computes y from x (ImportRefused when it does not: never a silently different model)."""
    from app.compile import compile_graph
    with torch.device("meta"):  # the weights come from the source: nothing to initialise
        model = compile_graph(graph)
    expected = model.state_dict()
    sd: dict[str, torch.Tensor] = {}
    _fill(sd, model, tree, "")
    missing = [k for k in expected if k not in sd]
    extra = [k for k in sd if k not in expected]
    wrong = [k for k in sd if k in expected and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if missing or extra or wrong:
        raise RuntimeError(f"weights do not map onto the project: missing {missing[:3]}, "
                           f"unexpected {extra[:3]}, wrong shape {wrong[:3]}")
    weights = {k: v.detach().to("cpu").contiguous().clone() for k, v in sd.items()}
    model.load_state_dict(weights, strict=True, assign=True)
    model.eval()
    with torch.no_grad():
        ours = model(x)
    ok, diff = close(ours, y)
    tol = 1e-5 * max(1.0, y.abs().max().item())
    if not ok:
        raise ImportRefused(f"the imported project does not compute the source's function "
                            f"(max |diff| {diff:.3g} > {tol:.3g} on a random input) — "
                            f"this is a NetCanvas bug, please report it with the model")
    return weights, diff, tol


def _fill(sd: dict, module: nn.Module, tree: dict, prefix: str) -> None:
    names = module.node_names
    for nid, (type_id, repeat, w) in tree.items():
        attr = names[nid]
        sub = getattr(module, attr)
        copies = ([(sub[i], wi, f"{prefix}{attr}.{i}.") for i, wi in enumerate(w)]
                  if repeat > 1 else [(sub, w, f"{prefix}{attr}.")])
        for m, wi, p in copies:
            if not wi:
                continue
            if type_id not in REGISTRY:  # a composite: its body's nodes, by their ids
                _fill(sd, m, wi, p)
            else:
                sd.update({p + k: v for k, v in wi.items()})


# --- loading the source ----------------------------------------------------------------------

def load_model(source: str, kwargs: dict[str, Any]) -> tuple[nn.Module, str, list[int] | None]:
    """(model, project name, input shape the source declares or None)."""
    path_part, _, attr = source.rpartition(":") if ":" in source else (source, "", "")
    if not path_part:  # "name" alone
        path_part, attr = source, ""
    if path_part.endswith(".py") or Path(path_part).suffix == ".py":
        module = _run_file(Path(path_part))
    elif attr:
        try:
            module = importlib.import_module(path_part)
        except Exception as exc:  # noqa: BLE001 - ImportError or the package's own failure
            raise SourceUnreadable(f"cannot import {path_part}: {type(exc).__name__}: "
                                   f"{_first_line(exc)}") from None
    else:
        raise SourceUnreadable(f"{source}: give package.module:callable, a file.py:Name, "
                               f"a .py file NetCanvas exported, or an .onnx file")
    shape_hint = getattr(module, "INPUT_SHAPE", None)
    shape_hint = list(shape_hint) if isinstance(shape_hint, (tuple, list)) and all(
        isinstance(v, int) for v in shape_hint) else None
    if not attr:
        attr = _exported_network(module, path_part)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SourceUnreadable(f"{path_part} has no {attr!r}")
        obj = getattr(obj, part)
    name = getattr(module, "PROJECT_NAME", None)  # a file NetCanvas exported says its name
    name = name if isinstance(name, str) else attr.rsplit(".", 1)[-1]
    if isinstance(obj, nn.Module):
        if kwargs:
            raise SourceUnreadable(f"{attr} is a module instance: --kwargs cannot be passed")
        return obj, name, shape_hint
    if not callable(obj):
        raise SourceUnreadable(f"{attr} is neither an nn.Module nor something that makes one")
    try:
        model = obj(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's code raising
        raise ImportRefused(f"{attr}({_kwargs_text(kwargs)}) raised {type(exc).__name__}: "
                            f"{_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ImportRefused(f"{attr}({_kwargs_text(kwargs)}) returned "
                            f"{type(model).__name__}, not an nn.Module")
    return model, name, shape_hint


def _run_file(path: Path):
    if not path.is_file():
        raise SourceUnreadable(f"{path}: no such file")
    mod_name = f"_netcanvas_import_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise SourceUnreadable(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise SourceUnreadable(f"{path}, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 - the user's file raising on import
        raise SourceUnreadable(f"{path} raised {type(exc).__name__} when run: "
                               f"{_first_line(exc)}") from None
    return module


def _exported_network(module, where: str) -> str:
    """The network class of a file NetCanvas exported: the last nn.Module class defined in
    it (exports write the network after the blocks it uses)."""
    if not isinstance(getattr(module, "PROJECT_NAME", None), str):
        raise SourceUnreadable(f"{where}: say which model to import, e.g. {where}:MyNet "
                               f"(this is not a file NetCanvas exported)")
    classes = [c for c in vars(module).values() if inspect.isclass(c)
               and issubclass(c, nn.Module) and c.__module__ == module.__name__]
    if not classes:
        raise SourceUnreadable(f"{where}: defines no nn.Module class")
    classes.sort(key=lambda c: inspect.getsourcelines(c)[1])
    return classes[-1].__name__


def _kwargs_text(kwargs: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
