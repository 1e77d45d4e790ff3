"""Declarative block specs: what a block is called, what it takes, and how it is built.

A spec is data the rest of NetCanvas reads (file format, palette, inspector, exporters,
docs); the module it builds is plain torch. Specs never import from `app`, and never
import torch: a spec names its module class ("layers:ConvLayer"), which is imported only
when something builds or exports it, so validating a drawing needs no torch at all.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

Shape = tuple[int, ...]  # per-sample shape, channels first: (C, H, W) or (F,)

ACTIVATIONS = ("none", "relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "relu6",
               "hardswish", "hardsigmoid")

# Parameter kinds understood by the loader and the inspector.
INT, FLOAT, BOOL, CHOICE, KERNEL, PAIR, PADDING, SHAPE = (
    "int", "float", "bool", "choice", "kernel", "pair", "padding", "shape")
PADS, LEVELS = "pads", "levels"  # ZeroPad2d's sides; a pyramid's levels
MAX_LEVELS = 8
MAX_SIZE = 65536  # the largest channel count, height or width a shape parameter takes


@dataclass(frozen=True)
class Param:
    """One typed parameter of a block.

    kind: int | float | bool | choice | kernel (int or [kh, kw]) | pair (a stride or a
    dilation: int or [h, w]) | padding ("same", "valid", int >= 0 or [ph, pw]) | shape
    (list of 1 or 3 positive ints) | pads (int >= 0 or [left, right, top, bottom]) | levels
    (1 to MAX_LEVELS ints >= 1, e.g. [1, 2, 4]). `default=None` on a param named `stride`
    of a pool means "same as pool_size"; on another param, "not set" (its doc says what is
    used instead).
    """
    name: str
    kind: str
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()

    def check(self, value: Any) -> tuple[Any, str | None]:
        """Return (normalised value, None) or (None, reason) for a user-given value."""
        k = self.kind
        if value is None and self.default is None:
            return None, None
        if k == INT or k == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None, f"{self.name} must be a number, not {_show(value)}"
            if isinstance(value, int) and abs(value) > 2 ** 53:  # beyond float's exact range
                return None, f"{self.name} must be at most {2 ** 53:,} in size, not {_show(value)}"
            if k == INT:
                if isinstance(value, float) and not value.is_integer():
                    return None, f"{self.name} must be a whole number, not {value}"
                value = int(value)
            else:
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    return None, f"{self.name} must be a finite number"
            if self.min is not None and value < self.min:
                return None, f"{self.name} must be at least {_num(self.min)}, not {_num(value)}"
            if self.max is not None and value > self.max:
                return None, f"{self.name} must be at most {_num(self.max)}, not {_num(value)}"
            return value, None
        if k == BOOL:
            if not isinstance(value, bool):
                return None, f"{self.name} must be true or false, not {_show(value)}"
            return value, None
        if k == CHOICE:
            # by type too: 1 is not true and 0.0 not false
            if not any(value == c and type(value) is type(c) for c in self.choices):
                opts = ", ".join(str(c) for c in self.choices)
                return None, f"{self.name} must be one of {opts}, not {_show(value)}"
            return value, None
        if k in (KERNEL, PAIR):
            pair = _int_or_pair(value)
            if pair is None:
                return None, f"{self.name} must be a whole number or [h, w], not {_show(value)}"
            lo = 1 if self.min is None else self.min
            hi = self.max
            for v in pair:
                if v < lo or (hi is not None and v > hi):
                    rng = f"{_num(lo)}..{_num(hi)}" if hi is not None else f">= {_num(lo)}"
                    return None, f"{self.name} must be in {rng}, not {_show(value)}"
            return (pair[0] if pair[0] == pair[1] and isinstance(value, int) else list(pair)), None
        if k == PADDING:
            if value in ("same", "valid"):
                return value, None
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 64:
                return value, None
            pair = _int_or_pair(value) if isinstance(value, (list, tuple)) else None
            if pair is not None and all(0 <= v <= 64 for v in pair):
                return list(pair), None
            return None, (f'{self.name} must be "same", "valid", a whole number 0..64 or '
                          f'[h, w] of them, not {_show(value)}')
        if k == SHAPE:
            # each reason names what is wrong with the value given, and the real limit
            if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
                return None, f"{self.name} must be [C, H, W] (or [F]), not {_show(value)}"
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
                return None, f"{self.name} must be positive whole numbers, not {_show(value)}"
            if max(value) > MAX_SIZE:
                return None, (f"{self.name}: each size must be at most {MAX_SIZE}, "
                              f"not {_show(value)}")
            return list(value), None
        if k == PADS:
            hi = int(self.max if self.max is not None else 64)
            if _whole(value) and 0 <= value <= hi:
                return value, None
            if (isinstance(value, (list, tuple)) and len(value) == 4
                    and all(_whole(v) and 0 <= v <= hi for v in value)):
                return list(value), None
            return None, (f"{self.name} must be a whole number 0..{hi} or [left, right, top, "
                          f"bottom], not {_show(value)}")
        if k == LEVELS:
            hi = int(self.max if self.max is not None else 16)
            if (isinstance(value, (list, tuple)) and 1 <= len(value) <= MAX_LEVELS
                    and all(_whole(v) and 1 <= v <= hi for v in value)):
                return list(value), None
            return None, (f"{self.name} must be a list of 1 to {MAX_LEVELS} whole numbers "
                          f"1..{hi} (e.g. [1, 2, 4]), not {_show(value)}")
        raise ValueError(f"unknown param kind {k!r}")


@dataclass(frozen=True)
class Fix:
    """An edit that repairs a problem in one step: insert a block on the edge into `port`."""
    port: int  # 0-based input port of the failing node
    type_id: str
    params: dict[str, Any]
    description: str  # e.g. "insert Conv2d(filters=64, kernel_size=1) on the edge into input 2"


@dataclass(frozen=True)
class CheckError:
    message: str
    fix: Fix | None = None


@dataclass(frozen=True)
class BlockSpec:
    """A block type as the catalogue publishes it.

    build(in_shapes, params) returns the nn.Module for one node, given the per-sample
    shapes of its inputs in port order and its full (defaulted, checked) params. The
    module's forward takes one tensor (inputs == "one") or one tensor per port
    (inputs == "many"); an "none" block (Input) is never built.

    check(in_shapes, params) returns a user-facing error (a message saying what is wrong
    and what to do, as a str or as a CheckError carrying a Fix) before building, or None; it exists so that common mistakes get a message a
    person understands rather than torch's. It must not reject what build accepts.
    """
    type_id: str
    category: str
    doc: str
    params: tuple[Param, ...]
    build: Callable[[list[Shape], dict[str, Any]], Any] | None
    inputs: str = "one"  # "none" | "one" | "many"
    check: Callable[[list[Shape], dict[str, Any]], str | CheckError | None] | None = None
    key_params: tuple[str, ...] = ()  # shown on the canvas node
    builds: str = ""  # longer "what it builds" text for tooltips and docs
    # The nn.Module class that build() instantiates, as "module:Class" inside blocks/, and
    # its constructor keyword arguments:
    # build(in_shapes, params) == module(**module_args(in_shapes, params)).
    module_path: str | None = None
    module_args: Callable[[list[Shape], dict[str, Any]], dict[str, Any]] | None = None
    param_map: dict[str, Param] = field(init=False, repr=False, compare=False)
    _defaults: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "param_map", {p.name: p for p in self.params})
        # copied by resolve() for every node added, instead of rebuilt from the params
        object.__setattr__(self, "_defaults", {p.name: p.default for p in self.params})

    @property
    def module_name(self) -> str | None:
        """The module class's name, known without importing it (or torch)."""
        return self.module_path.rpartition(":")[2] if self.module_path else None

    @property
    def module(self) -> type | None:
        """The nn.Module class itself; importing it imports torch."""
        if not self.module_path:
            return None
        mod, _, name = self.module_path.partition(":")
        return getattr(importlib.import_module(f"{__package__}.{mod}"), name)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, params: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """Fill defaults and check every given value; returns (params, problems).

        Remembered for params seen before (a file writes every param of every node, and
        opening it checks them twice: the loader, then the graph), keyed by the values
        and their types (1 and True are equal in Python, not here), except where a value
        is a float zero (0.0 and -0.0 are equal, and each is kept as given)."""
        key = None
        if params:
            values = tuple(params.values())
            try:
                key = (self.type_id, tuple(params), values, tuple(map(type, values)))
                hit = _RESOLVED.get(key)
            except TypeError:  # a list: not remembered
                key = hit = None
            if hit is not None:
                return dict(hit[0]), list(hit[1])
            if key is not None and float in key[3] and 0.0 in values and any(
                    v == 0.0 and v.__class__ is float for v in values):
                key = None
        full, problems = resolve_params(self.type_id, self.param_map, params,
                                        defaults=self._defaults)
        if key is not None and list not in map(type, full.values()):
            if len(_RESOLVED) >= 65536:
                _RESOLVED.clear()
            _RESOLVED[key] = (full.copy(), tuple(problems))
        return full, problems


_RESOLVED: dict[tuple, tuple[dict[str, Any], tuple[str, ...]]] = {}


def clear_resolved() -> None:
    """Forget the remembered BlockSpec.resolve answers (benchmarks start cold)."""
    _RESOLVED.clear()


def resolve_params(owner: str, param_map: dict[str, Param], params: dict[str, Any] | None,
                   known_as: str = "it has", defaults: dict[str, Any] | None = None
                   ) -> tuple[dict[str, Any], list[str]]:
    """Defaults filled in and every given value checked: (params, problems)."""
    out = dict(defaults) if defaults is not None else {n: p.default for n, p in param_map.items()}
    problems = []
    for name, value in (params or {}).items():
        p = param_map.get(name)
        if p is None:
            known = ", ".join(param_map) or "none"
            problems.append(f"{owner} has no parameter {name!r} ({known_as}: {known})")
            continue
        v, err = p.check(value)
        if err:
            problems.append(err)
        else:
            out[name] = v
    return out, problems


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def shared_kind(a: str, b: str) -> str | None:
    """The kind one value must have to set a parameter of kind a and one of kind b (a
    composite's exposed name bound to both), or None if no value fits both. An int fits an
    int and a pair (a stride or dilation, which were ints before they took [h, w])."""
    if a == b:
        return a
    return INT if {a, b} == {INT, PAIR} else None


def _int_or_pair(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return value[0], value[1]
    return None


def pair(value: Any) -> tuple[int, int]:
    """A kernel/stride/dilation/padding amount as (h, w)."""
    p = _int_or_pair(value)
    assert p is not None, value
    return p


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 12:
        return f"a {len(str(abs(value)))}-digit number"
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."
