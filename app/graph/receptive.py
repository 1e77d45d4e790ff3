"""Receptive field, effective stride and centre of every node, for the network input.

Araujo, Norris & Sim, "Computing Receptive Fields of Convolutional Neural Networks"
(Distill 2019). Per axis a feature map is described by three numbers, all in input pixels:
  r  the size of one unit's field,
  j  the effective stride ("jump"): how far the field moves from one unit to the next,
  u  where the field of unit 0 starts (negative when it reaches into padding).
A layer with kernel k, stride s, left padding p and dilation d maps (r, j, u) to
  (r + d(k−1)·j,  j·s,  u − p·j).
At a join (Add, Concat) a unit sees the union of what its inputs see. When the inputs'
fields have different centres the join is "misaligned" (a unit mixes features from
different places) and the node gets a warning; when they move by different strides the
union changes from unit to unit, and we report the first unit's, with a warning.
A global pool, Flatten, or SqueezeExcite's squeeze makes every unit see the union of all
input units; we mark that with j = 0 (moving along the output moves nothing).
Transposed convolutions make j a fraction; their fields vary from unit to unit, so we
report the largest and say so.

The numbers are checked against an oracle that knows nothing of these formulas: the
gradient support of one output unit on a real input (tests/test_receptive.py).

The per-block recipes live in receptive_rules.py, keyed by type_id; composites and repeats
are composed here from those recipes like any chain of nodes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from blocks import REGISTRY
from blocks.spec import pair

from .composite import measure, walk_body


@dataclass(frozen=True)
class Axis:
    r: Fraction  # field size
    j: Fraction  # effective stride; 0 once every unit sees the same (global) field
    u: Fraction  # first input pixel seen by unit 0

    def layer(self, k: int, s: int = 1, p: int = 0, d: int = 1) -> Axis:
        return Axis(self.r + d * (k - 1) * self.j, self.j * s, self.u - p * self.j)

    def transposed(self, k: int, s: int, p: int) -> Axis:
        # Output unit o takes input units i with 0 <= o + p - i·s <= k-1: at most ceil(k/s)
        # of them, the first being i = ceil((p - k + 1) / s) for o = 0.
        first = -((k - 1 - p) // s)
        span = -(-k // s)
        return Axis(self.r + (span - 1) * self.j, _exact(Fraction(self.j) / s),
                    self.u + first * self.j)

    def whole(self, n: int) -> Axis:
        """The union over all n units: what a global pool's single unit sees."""
        return Axis(self.r + (n - 1) * self.j, 0, self.u)

    def span(self, i: int = 0) -> tuple[Fraction, Fraction]:
        """[first, last] input pixel seen by unit i."""
        a = self.u + i * self.j
        return a, a + self.r - 1

    @property
    def centre(self) -> Fraction:
        q = self.r - 1
        if type(q) is int and not q & 1:
            return self.u + (q >> 1)
        return self.u + _exact(Fraction(q) / 2)


# Numbers are ints while they are whole (nearly always: only transposed convolutions make
# fractions), Fractions otherwise: int arithmetic is ~20x cheaper, and both compare, hash
# and print alike.
START = Axis(1, 1, 0)


@dataclass(frozen=True)
class Field:
    """A feature map's field along height and width."""
    h: Axis
    w: Axis

    def layer(self, k, s=1, p=0, d=1) -> Field:
        """A conv/pool layer; each argument an int or an (h, w) pair."""
        k, s, p, d = (pair(v) for v in (k, s, p, d))
        return Field(self.h.layer(k[0], s[0], p[0], d[0]), self.w.layer(k[1], s[1], p[1], d[1]))

    def chain(self, *layers) -> Field:
        """Several layers in a row; each an int kernel or a (k, s, p[, d]) tuple."""
        f = self
        for spec in layers:
            f = f.layer(*(spec if isinstance(spec, tuple) else (spec,)))
        return f

    def whole(self, hw: tuple[int, int]) -> Field:
        return Field(self.h.whole(hw[0]), self.w.whole(hw[1]))


@dataclass(frozen=True)
class NodeField:
    """What the summary, the inspector and `--json` show for one node."""
    field: Field
    warning: str | None = None

    @property
    def receptive_field(self) -> list:
        return [_num(self.field.h.r), _num(self.field.w.r)]

    @property
    def effective_stride(self) -> list:
        return [_num(self.field.h.j), _num(self.field.w.j)]

    @property
    def first_centre(self) -> list:
        return [_num(self.field.h.centre), _num(self.field.w.centre)]

    def to_dict(self) -> dict[str, Any]:
        out = {"receptive_field": self.receptive_field,
               "effective_stride": self.effective_stride,
               "first_centre": self.first_centre}
        if self.warning:
            out["receptive_field_warning"] = self.warning
        return out

    def text(self) -> str:
        (rh, rw), (sh, sw) = self.receptive_field, self.effective_stride
        if sh == sw == 0:  # after a global pool: one unit, or all units alike
            return f"{rh}×{rw} global"
        return f"{rh}×{rw} /{sh if sh == sw else f'{sh}×{sw}'}"


def join(fields: list[Field], hw: tuple[int, int] | None, warn: Callable[[str], None],
         what: str = "inputs") -> Field:
    """The union of what several inputs see, unit by unit (hw: the join's output size)."""
    axes = []
    for name, i, n in (("height", 0, hw[0] if hw else 1), ("width", 1, hw[1] if hw else 1)):
        ax = [f.h if i == 0 else f.w for f in fields]
        axes.append(_join_axis(ax, n, name, warn, what))
    return Field(*axes)


def _join_axis(ax: list[Axis], n: int, name: str, warn, what: str) -> Axis:
    strides = {a.j for a in ax}
    if len(strides) == 1:
        lo = min(a.u for a in ax)
        hi = max(a.span()[1] for a in ax)
        if len({2 * a.u + a.r for a in ax}) > 1:  # centres differ (twice them: no fractions)
            cs = ", ".join(str(_num(a.centre)) for a in ax)
            warn(f"the {what} are misaligned along the {name}: their fields are centred at "
                 f"{cs} (input pixels), so a unit mixes features from different places")
        return Axis(hi - lo + 1, ax[0].j, lo)
    # Different strides: when a global input covers every other input's first and last
    # unit, every unit sees that same region (e.g. squeeze-and-excite); otherwise report
    # the first unit's union and say that it varies.
    ends = [a.span(i) for a in ax for i in (0, max(n - 1, 0))]
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    if not any(a.j == 0 and a.span()[0] == lo and a.span()[1] == hi for a in ax):
        js = ", ".join(str(_num(a.j)) for a in ax)
        warn(f"the {what} move by different strides along the {name} ({js}), so the field "
             f"differs from unit to unit; shown: the first unit's")
        first = [a.span(0) for a in ax]
        return Axis(max(e[1] for e in first) - min(e[0] for e in first) + 1,
                    max(a.j for a in ax), min(e[0] for e in first))
    return Axis(hi - lo + 1, 0, lo)


@dataclass
class Context:
    """What a rule may need besides its inputs' fields."""
    params: dict[str, Any]
    in_shapes: list[tuple[int, ...]]
    out_shape: tuple[int, ...] | None
    warn: Callable[[str], None]

    def in_hw(self, i: int = 0) -> tuple[int, int] | None:
        s = self.in_shapes[i]
        return (s[1], s[2]) if len(s) == 3 else None

    @property
    def out_hw(self) -> tuple[int, int] | None:
        s = self.out_shape
        return (s[1], s[2]) if s is not None and len(s) == 3 else None


def receptive_fields(graph) -> dict[str, NodeField | None]:
    """Every node's field for the network input; None where it cannot be measured or the
    input is not an image ([F] inputs have no field)."""
    return _graph_fields(graph, graph.definitions, None, {}, lambda n: graph.info.get(n))


class FieldsSoFar:
    """The top graph's fields computed only as far as asked: `get(n)` measures the nodes
    in graph order up to n (a node's field needs only the nodes before it), so a table
    that shows its first rows measures a handful of nodes, not 10,000."""

    def __init__(self, graph):
        self.out: dict[str, NodeField | None] = {}
        self._walk = _iter_fields(graph, graph.definitions, None, {},
                                  lambda n: graph.info.get(n), self.out)
        self._nodes = graph.g

    def get(self, n: str) -> NodeField | None:
        out = self.out
        if n not in out and n in self._nodes:
            for done in self._walk:
                if done == n:
                    break
        return out.get(n)


def field_of(graph, node: str) -> NodeField | None:
    """One node's field (as receptive_fields gives it), measuring only the nodes it sees:
    its ancestors, in graph order (the inspector asks for one node of a big graph)."""
    if node not in graph.g:
        return None
    seen, todo = {node}, [node]
    pred = graph.g.pred
    while todo:
        for s in pred[todo.pop()]:
            if s not in seen:
                seen.add(s)
                todo.append(s)
    out: dict[str, NodeField | None] = {}
    info_of = graph.info.get
    for n in graph.topological_order():
        if n in seen:
            out[n] = _node_field_of(n, graph, graph.definitions, None, {}, info_of, out)
    return out[node]


def _graph_fields(graph, defs, params_of, start: dict[str, Field], info_of,
                  ) -> dict[str, NodeField | None]:
    """Fields of every node of `graph` (the top graph or a composite body).

    start: fields of the body's Input nodes; params_of(n): an inner node's params for this
    instance (None at the top); info_of(n): an object with .output_shape, or None."""
    out: dict[str, NodeField | None] = {}
    for _ in _iter_fields(graph, defs, params_of, start, info_of, out):
        pass
    return out


def _iter_fields(graph, defs, params_of, start: dict[str, Field], info_of, out: dict):
    """Put each node's field into `out` in graph order, yielding the node after each."""
    for n in graph.topological_order():
        out[n] = _node_field_of(n, graph, defs, params_of, start, info_of, out)
        yield n


def _node_field_of(n, graph, defs, params_of, start, info_of, out) -> NodeField | None:
    """One node's field, its inputs' being in `out` already."""
    from .receptive_rules import RULES
    t = graph.type_of(n)
    info = info_of(n)
    shape = info.output_shape if info is not None else None
    if n in start:
        return NodeField(start[n])
    if t == "Input":
        return NodeField(RULES[t]([], None)) if shape is not None and len(shape) == 3 else None
    ins = graph.inputs_of(n)
    fields = [out.get(s) for s, _ in ins]
    in_shapes = [getattr(info_of(s), "output_shape", None) for s, _ in ins]
    if shape is None or not fields or any(f is None for f in fields) \
            or any(s is None for s in in_shapes):
        return None
    warnings: list[str] = []
    params = params_of(n) if params_of else graph.node(n)["params"]
    f = node_field(defs, t, params, [f.field for f in fields], in_shapes, shape,
                   graph.node(n).get("repeat", 1), warnings.append)
    return None if f is None else NodeField(f, "; ".join(dict.fromkeys(warnings)) or None)


def node_field(defs, type_id: str, params: dict[str, Any], fields: list[Field],
               in_shapes: list, out_shape, repeat: int, warn) -> Field | None:
    """One node's field: its rule (or its composite body) applied `repeat` times."""
    from .receptive_rules import RULES
    shapes = [tuple(s) for s in in_shapes]
    for i in range(repeat):
        last = i == repeat - 1
        if last:
            next_shape = tuple(out_shape)
        else:  # the shape this repetition hands on to the next one
            next_shape = measure(defs, type_id, params, shapes).output_shape
            if next_shape is None:
                return None
        ctx = Context(params, shapes, next_shape, warn)
        if type_id in REGISTRY:
            f = RULES[type_id](fields, ctx)
        else:
            f = _composite_field(defs, type_id, fields, ctx)
        if f is None:
            return None
        fields, shapes = [f], [next_shape]
    return fields[0]


def _composite_field(defs, name: str, fields: list[Field], ctx: Context) -> Field | None:
    d = defs.get(name)
    if d is None or d.output() is None or len(fields) != len(d.inputs):
        return None
    stats = {n: st for n, _, st in walk_body(defs, d, ctx.params, ctx.in_shapes)}
    shapes = {p: _Shape(s) for p, s in zip(d.inputs, ctx.in_shapes)}
    shapes.update({n: _Shape(st.output_shape) for n, st in stats.items()})
    inner = _graph_fields(d.body, defs, lambda n: d.body_params(n, ctx.params),
                          dict(zip(d.inputs, fields)), shapes.get)
    for n, nf in inner.items():
        if nf is not None and nf.warning:
            ctx.warn(f"inside {name}, {n}: {nf.warning}")
    result = inner.get(d.output())
    return result.field if result is not None else None


@dataclass(frozen=True)
class _Shape:
    output_shape: tuple[int, ...] | None


def _exact(x: Fraction):
    """x as an int when it is whole."""
    return x.numerator if x.denominator == 1 else x


def _num(x: Fraction):
    """An int where the value is whole, else a float (fractional strides after upsampling)."""
    return int(x) if x.denominator == 1 else float(x)


__all__ = [
    "START",
    "Axis",
    "Context",
    "Field",
    "FieldsSoFar",
    "NodeField",
    "field_of",
    "join",
    "node_field",
    "receptive_fields",
]
