"""One module at a time: torch.fx traces a module's own forward with its children as leaves.

Why torch.fx and not torch.export: fx's symbolic trace keeps the module hierarchy (every child
call is one `call_module` node naming its path), which is exactly what becomes composite
blocks, and it runs in milliseconds without decomposing the layers NetCanvas has blocks for.
torch.export would flatten everything to aten ops and lose the hierarchy we want to show.
Data-dependent control flow makes fx raise a TraceError, which becomes a refusal naming the
module.

Each traced forward is then run once (fx.Interpreter) on the example input, so every value
has its real tensor: shapes to decide with, and outputs to check each recognition against.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.fx as fx
import torch.nn as nn

from . import ImportRefused
from .fragment import Fragment, Node, Port, refuse
from .primitives import (FUNCTIONS, METHODS, MODULES, SUPPORTED, VALUE_FUNCTIONS,
                         VALUE_METHODS, function_name, is_nn_builtin)


class _ShallowTracer(fx.Tracer):
    """Every child module is a leaf: only the traced module's own forward is recorded."""

    def __init__(self, root: nn.Module):
        super().__init__()
        self._root = root

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return m is not self._root


# Every module's calls in the one forward pass run at the start of an import: (inputs, output)
# in call order. Interpreting a module's forward takes its children's outputs from here
# instead of computing them again (a deep model would otherwise run once per level).
_CALLS: dict[nn.Module, list[tuple[tuple, object]]] = {}


@contextmanager
def recorded_calls(model: nn.Module):
    """Record the inputs and output of every submodule call while the block runs."""
    def hook(m, args, out):
        _CALLS.setdefault(m, []).append((args, out))
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def forget_calls() -> None:
    _CALLS.clear()


class _Recorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.values: dict[fx.Node, object] = {}
        self.seen: dict[nn.Module, int] = {}

    def run_node(self, n):
        v = super().run_node(n)
        self.values[n] = v
        return v

    def call_module(self, target, args, kwargs):
        m = self.fetch_attr(target)
        i = self.seen.get(m, 0)
        self.seen[m] = i + 1
        calls = _CALLS.get(m, ())
        if i < len(calls) and not kwargs and _same(calls[i][0], args):
            return calls[i][1]
        return super().call_module(target, args, kwargs)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a is b or (a.shape == b.shape and torch.equal(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def describe(path: str, m: nn.Module) -> str:
    return f"{path or 'the model'} ({type(m).__name__})"


def trace(m: nn.Module, path: str, args: list[torch.Tensor]):
    """(fx graph, {fx node: example value}) of m's own forward on `args`."""
    where = describe(path, m)
    try:
        graph = _ShallowTracer(m).trace(m)
    except ImportRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the user's forward under fx
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise refuse(where, f"its forward cannot be traced ({type(exc).__name__}: {msg[:200]})",
                     "NetCanvas imports forwards that are a fixed graph of layers; "
                     "data-dependent control flow (if/for on tensor values) is not "
                     "supported") from None
    gm = fx.GraphModule(m, graph)
    rec = _Recorder(gm)
    try:
        with torch.no_grad():
            rec.run(*args)
    except Exception as exc:  # noqa: BLE001 - the user's code raising on the example input
        raise refuse(where, f"its forward raised {type(exc).__name__}: "
                            f"{str(exc).strip()[:200]} on the example input",
                     "check --input-shape") from None
    return graph, rec.values


def convert(m: nn.Module, path: str, args: list, embed) -> Fragment:
    """The fragment of `m` called on `args` (example tensors). `embed(child, path, ins, out)`
    turns a child module's call into a value of this fragment (a node, or an input passed
    through); it is how the hierarchy is walked."""
    graph, values = trace(m, path, args)
    where = describe(path, m)
    ports = [Port(i, a) for i, a in enumerate(args)]
    env: dict[fx.Node, object] = {}
    nodes: list[Node] = []
    output = None
    placeholders = 0
    seen: set[Node] = set()
    for fn in graph.nodes:
        out = values.get(fn)
        if fn.op == "placeholder":
            if placeholders >= len(ports):
                env[fn] = out  # an optional argument left at its default
            else:
                env[fn] = ports[placeholders]
            placeholders += 1
            continue
        if fn.op == "output":
            output = _lookup(env, fn.args[0])
            break
        a = _lookup(env, fn.args)
        kw = _lookup(env, fn.kwargs)
        if not _has_tensor((a, kw)):
            env[fn] = out  # sizes, constants, flags: plain Python values
            continue
        if fn.op == "get_attr":
            raise refuse(where, f"its forward uses its own tensor {fn.target!r} directly",
                         SUPPORTED)
        if fn.op == "call_module":
            child = m.get_submodule(fn.target)
            child_path = f"{path}.{fn.target}" if path else str(fn.target)
            ins = [v for v in a]
            if not all(isinstance(v, (Node, Port)) for v in ins) or kw:
                raise refuse(describe(child_path, child),
                             "called with something other than tensors",
                             "modules that take tensors as positional arguments")
            if is_nn_builtin(child):
                handler = MODULES.get(type(child))
                if handler is None:
                    raise refuse(describe(child_path, child),
                                 f"nn.{type(child).__name__} has no NetCanvas equivalent",
                                 SUPPORTED)
                v = handler(child, child_path, ins, out)
            else:
                v = embed(child, child_path, str(fn.target), ins, out)
        elif fn.op == "call_function":
            if fn.target in VALUE_FUNCTIONS and not isinstance(out, torch.Tensor):
                env[fn] = _python_value(a, out)
                continue
            if fn.target is __import__("operator").getitem and isinstance(a[0], (list, tuple)):
                env[fn] = a[0][a[1]]
                continue
            handler = FUNCTIONS.get(fn.target)
            if handler is None:
                raise refuse(where, f"{function_name(fn.target)} has no NetCanvas equivalent",
                             SUPPORTED)
            v = handler(where, a, kw, out)
        else:  # call_method
            if fn.target in VALUE_METHODS:
                env[fn] = out
                continue
            handler = METHODS.get(fn.target)
            if handler is None:
                raise refuse(where, f"{function_name(fn.target)} has no NetCanvas equivalent",
                             SUPPORTED)
            v = handler(where, a, kw, out)
        if isinstance(v, Node) and v not in seen:
            seen.add(v)
            if not v.label:
                v.label = str(fn.target) if fn.op == "call_module" else ""
            for i in v.inputs:
                if isinstance(i, Node) and i.squeezed and v.type not in ("Linear",):
                    raise refuse(v.where, f"{v.type} after a global pool that keeps [C, 1, 1]",
                                 "the pooled [C] vector goes to Flatten or Linear")
            nodes.append(v)
        env[fn] = v
    if isinstance(output, (list, tuple)):
        raise refuse(where, f"it returns {len(output)} values",
                     "one input and one output (a tuple, e.g. auxiliary heads, is not)")
    if not isinstance(output, (Node, Port)):
        raise refuse(where, "its output is not a tensor computed from its input")
    if len([a for a in args if isinstance(a, torch.Tensor)]) != len(args):
        raise refuse(where, "takes inputs that are not tensors")
    frag = Fragment(ports, nodes, output)
    frag.prune()
    return frag


def _python_value(a, out):
    return out


def _has_tensor(obj) -> bool:
    if isinstance(obj, (Node, Port)):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_has_tensor(o) for o in obj)
    if isinstance(obj, dict):
        return any(_has_tensor(o) for o in obj.values())
    return False


def _lookup(env, obj):
    if isinstance(obj, fx.Node):
        return env[obj]
    if isinstance(obj, (list, tuple)):
        return type(obj)(_lookup(env, o) for o in obj) if not hasattr(obj, "_fields") \
            else type(obj)(*(_lookup(env, o) for o in obj))
    if isinstance(obj, dict):
        return {k: _lookup(env, v) for k, v in obj.items()}
    return obj
