"""The ONNX graph walked in order, becoming catalogue nodes (the ops are in onnx_ops.py).

Each ONNX tensor becomes a `Value`: a constant (an initializer, a Constant, or arithmetic on
them), or the output of one NetCanvas node (`Pending`). Ops that NetCanvas folds into an
earlier node (BatchNormalization and activations into a Conv2d, an Add of a constant into a
Linear's bias, a Pad into a convolution's padding) do so only when the tensor between them
has no other reader, so the result computes exactly what the ONNX graph computes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from blocks import REGISTRY

from ..textsafe import term_safe
from . import ImportRefused
from .onnx_load import LoadedModel

# Ops computed once at import when every input is a constant (the exporters' shape
# arithmetic); ALLOCATING ones make an output whose size is a value, so it is checked first.
FOLDABLE = {"Add", "Sub", "Mul", "Div", "Neg", "Abs", "Sqrt", "Pow", "Floor", "Ceil", "Cast",
            "CastLike", "Concat", "Unsqueeze", "Squeeze", "Reshape", "Slice", "Gather",
            "Transpose", "ConstantOfShape", "Range", "Expand", "Shape", "Equal", "Where",
            "Min", "Max", "Not", "Less", "Greater", "Tile", "Flatten", "Identity", "Size",
            "ReduceProd", "ReduceSum", "Sign", "Mod", "And", "Or"}
ALLOCATING = {"ConstantOfShape", "Range", "Expand", "Tile"}
BROADCASTING = {"Add", "Sub", "Mul", "Div", "Pow", "Equal", "Where", "Min", "Max", "Less",
                "Greater", "Mod", "And", "Or"}
MAX_FOLDED = 1 << 20
MAX_SCOPE_DEPTH = 32  # module nesting beyond this is not grouped (it stays flat)


@dataclass
class Pending:
    """One NetCanvas node being built: its params, inputs and weights by role."""
    id: str
    type: str
    params: dict[str, Any]
    label: str
    inputs: list[str]  # pending ids, in port order
    where: str  # the ONNX node it came from, for messages
    scope: tuple = ((), ())  # torch module paths and classes it came from (scope_of)
    tensors: dict[str, Any] = field(default_factory=dict)  # "conv.weight" → numpy array
    expect: tuple | None = None  # the per-sample shape ONNX infers for its output
    shape: tuple = ()  # its per-sample output shape as NetCanvas computes it
    pos: tuple = (0.0, 0.0)


@dataclass
class Value:
    node: str | None = None  # the pending node that computes it
    shape: tuple = ()  # per-sample shape as NetCanvas sees it
    const: Any = None  # numpy array, for constants
    pad: tuple | None = None  # zero padding (top, left, bottom, right) not yet applied
    sigmoid_of: str | None = None  # this is Sigmoid(tensor): a Mul with it is SiLU
    sigmoid_node: int = -1  # the index of that Sigmoid node


def has_param(type_id: str, name: str, value: Any = None) -> bool:
    """Whether the catalogue's `type_id` has parameter `name` (taking `value`, if given)."""
    spec = REGISTRY.get(type_id)
    p = spec.param_map.get(name) if spec else None
    if p is None:
        return False
    return value is None or p.check(value)[1] is None


def activation_names() -> tuple[str, ...]:
    return tuple(REGISTRY["Activation"].param_map["function"].choices)


class Converter:
    def __init__(self, loaded: LoadedModel):
        import onnx.numpy_helper as nph
        self.m = loaded
        self.nodes: dict[str, Pending] = {}
        self.values: dict[str, Value] = {}
        self.head: dict[str, str] = {}  # pending id → the tensor it currently outputs
        self.notes: list[str] = []
        self._nph = nph
        self._next = 1
        self.readers: dict[str, list[int]] = {}  # tensor → indices of the nodes reading it
        for i, node in enumerate(loaded.proto.graph.node):
            for name in node.input:
                if name:
                    self.readers.setdefault(name, []).append(i)
        self.readers.setdefault(loaded.output_name, []).append(-1)  # the graph output reads it
        first = self.add("Input", {"shape": list(loaded.input_shape)}, [], "input", "the input")
        self.values[loaded.input_name] = Value(first, loaded.input_shape)
        self.nodes[first].shape = tuple(loaded.input_shape)
        self.head[first] = loaded.input_name
        self._initializers = loaded.initializers

    # ---- running --------------------------------------------------------------------------
    def run(self) -> None:
        from .onnx_ops import OPS
        for i, node in enumerate(self.m.proto.graph.node):
            self.i, self.node = i, node
            if node.domain in ("", "ai.onnx") and node.op_type in FOLDABLE and \
                    self._all_constant(node):
                self._fold(node)
                continue
            handler = OPS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
            if handler is None:
                raise unsupported(i, node)
            handler(self, node)
        out = self.value(self.m.output_name)
        if out.node is None or out.pad is not None or out.sigmoid_of is not None:
            raise ImportRefused(f"the model's output {term_safe(self.m.output_name)!r} is not "
                                f"computed by a layer NetCanvas can draw (it is a constant or "
                                f"a pending pad)")
        if self.nodes[out.node].type == "Input":
            raise ImportRefused("the model's output is its input: there is no layer to import")
        self.output = out.node

    def _all_constant(self, node) -> bool:
        return all(self.value(n).const is not None for n in node.input if n)

    def _fold(self, node) -> None:
        """Arithmetic on constants only (shape computations an exporter writes, e.g. for a
        ZeroPad2d's pads), done once here by onnx's reference implementation of the op."""
        import onnx
        from onnx.reference import ReferenceEvaluator
        if node.op_type in ALLOCATING:  # their output size comes from a value: check it first
            shape = self.m.shapes.get(node.output[0])
            if shape is None or None in shape or math.prod(shape) > MAX_FOLDED:
                raise self.refuse(f"it makes a constant of unknown or large size ({shape}); "
                                  f"NetCanvas folds constants of up to {MAX_FOLDED:,} values")
        ins = {n: self.value(n).const for n in node.input if n}
        # unary ops and reshapes make at most what they read; broadcasting can square it
        limit = max([MAX_FOLDED, *(v.size for v in ins.values())])
        if node.op_type in BROADCASTING:
            try:
                size = math.prod(np.broadcast_shapes(*(v.shape for v in ins.values())))
            except ValueError:
                raise self.refuse("its constant inputs do not broadcast together") from None
            if size > limit:
                raise self.refuse(f"it would make a constant of {size:,} values by "
                                  f"broadcasting; NetCanvas folds at most {limit:,}")
        graph = onnx.helper.make_graph(
            [node], "fold",
            [onnx.helper.make_tensor_value_info(
                n, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for n, v in ins.items()],
            [onnx.helper.make_empty_tensor_value_info(o) for o in node.output if o])
        model = onnx.helper.make_model(graph, opset_imports=[
            onnx.helper.make_opsetid("", self.m.opset)])
        try:
            outs = ReferenceEvaluator(model).run(None, ins)
        except Exception as exc:  # noqa: BLE001 - the op's own complaint about its inputs
            raise self.refuse(f"it cannot be computed on its constant inputs "
                              f"({term_safe(str(exc))[:200]})") from None
        for name, arr in zip([o for o in node.output if o], outs):
            if np.asarray(arr).size > limit:
                raise self.refuse(f"it makes a constant of more than {limit:,} values")
            self.values[name] = Value(const=np.asarray(arr))

    def where(self, i: int | None = None) -> str:
        i = self.i if i is None else i
        node = self.m.proto.graph.node[i]
        name = f" {term_safe(text(node.name)[:80])!r}" if node.name else ""
        return f"ONNX node {i}{name} ({term_safe(text(node.op_type)[:40])})"

    def refuse(self, reason: str) -> ImportRefused:
        return ImportRefused(f"{self.where()}: {reason}")

    # ---- values ---------------------------------------------------------------------------
    def value(self, name: str) -> Value:
        v = self.values.get(name)
        if v is None:
            t = self._initializers.get(name)
            if t is None:
                raise self.refuse(f"its input {term_safe(name[:80])!r} is computed by no earlier "
                                  f"node (the graph is not in order)")
            v = Value(const=self.array(t))
            self.values[name] = v
        return v

    def array(self, tensor):
        try:
            return self._nph.to_array(tensor)
        except Exception as exc:  # noqa: BLE001 - a malformed tensor
            raise self.refuse(f"a tensor it uses cannot be read ({term_safe(str(exc))[:200]})") \
                from None

    def const(self, name: str, what: str, required: bool = True):
        """The constant behind input `name` (None for an absent optional input)."""
        if not name:
            if required:
                raise self.refuse(f"its {what} is missing")
            return None
        v = self.value(name)
        if v.const is None:
            raise self.refuse(f"its {what} is computed from the network's input, not a "
                              f"constant; NetCanvas imports weights stored in the file")
        return v.const

    def tensor_in(self, name: str, rank: int | None = None, padded: bool = False):
        """A network (non-constant) input of the current node. With `padded`, a Pad in
        front is taken too: returns (value, (top, left, bottom, right))."""
        v = self.value(name)
        if v.const is not None:
            raise self.refuse("it computes on constants only; NetCanvas imports layers applied "
                              "to the network's input")
        if v.sigmoid_of is not None:
            raise self.refuse("it reads a Sigmoid that is not part of SiLU (x·sigmoid(x)), "
                              "which NetCanvas cannot place")
        pads = v.pad or (0, 0, 0, 0)
        if v.pad is not None:
            if not padded:
                raise self.refuse("it reads a Pad; NetCanvas folds a Pad only into the padding "
                                  "of the convolution that follows it")
            v = Value(v.node, v.shape)
        if rank is not None and len(v.shape) != rank:
            want = "[C, H, W]" if rank == 3 else "flat [F]"
            raise self.refuse(f"its input is {list(v.shape)} per sample; NetCanvas's layer "
                              f"for it takes a {want} input")
        return (v, pads) if padded else v

    def only_reader(self, tensor: str, also: set[int] = frozenset()) -> bool:
        """Whether the current node (and the nodes in `also`) are all that read `tensor`."""
        return all(r == self.i or r in also for r in self.readers.get(tensor, []))

    def readers_of(self, tensor: str) -> list:
        return [self.m.proto.graph.node[r] if r >= 0 else None
                for r in self.readers.get(tensor, [])]

    def expected(self, tensor: str) -> tuple | None:
        s = self.m.shapes.get(tensor)
        return tuple(s[1:]) if s and None not in s[1:] else None

    # ---- nodes ----------------------------------------------------------------------------
    def add(self, type_id: str, params: dict, inputs: list[str], label: str, where: str,
            scope: tuple = ((), ()), tensors: dict | None = None) -> str:
        nid = f"n{self._next}"
        self._next += 1
        self.nodes[nid] = Pending(nid, type_id, params, label, inputs, where, scope,
                                  dict(tensors or {}))
        return nid

    def emit(self, type_id: str, params: dict, inputs: list[str], shape: tuple,
             tensors: dict | None = None, output: str | None = None) -> str:
        """A new node for the current ONNX node, its output the node's first output."""
        node = self.node
        nid = self.add(type_id, params, inputs, label_of(node), self.where(), scope_of(node),
                       tensors)
        self.set_output(nid, shape, output)
        return nid

    def set_output(self, nid: str, shape: tuple, output: str | None = None) -> None:
        out = output or self.node.output[0]
        self.values[out] = Value(nid, tuple(shape))
        self.head[nid] = out
        self.nodes[nid].expect = self.expected(out)
        self.nodes[nid].shape = tuple(shape)

    def fusable(self, v: Value, types: tuple[str, ...], tensor: str,
                also: set[int] = frozenset()) -> Pending | None:
        """The node computing `v` when the current node may fold into it: its type is one of
        `types`, `tensor` is its latest output, and nothing else reads that tensor."""
        if v.node is None:
            return None
        p = self.nodes[v.node]
        if p.type in types and self.head.get(p.id) == tensor and self.only_reader(tensor, also):
            return p
        return None

    def check_outputs(self, used: int = 1) -> None:
        """Refuse when an output past the first `used` is read (e.g. Dropout's mask)."""
        for extra in self.node.output[used:]:
            if extra and self.readers.get(extra):
                raise self.refuse(f"its output {term_safe(extra[:60])!r} is read; NetCanvas "
                                  f"imports only the first output of this operator")


def attrs(node) -> dict[str, Any]:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def allow(c: Converter, node, allowed: set[str]) -> dict[str, Any]:
    """The node's attributes, refusing any that is not in `allowed`."""
    a = attrs(node)
    for k in a:
        if k not in allowed:
            raise c.refuse(f"its attribute {term_safe(k[:40])}={short(a[k])} is not supported "
                           f"(supported here: {', '.join(sorted(allowed)) or 'none'})")
    return a


def short(v: Any) -> str:
    s = repr(v.decode(errors="replace") if isinstance(v, bytes) else v)
    return term_safe(s if len(s) <= 40 else s[:37] + "...")


def image(c: Converter, v: Value) -> Value:
    if len(v.shape) != 3:
        raise c.refuse(f"its input is {list(v.shape)} per sample; this layer takes [C, H, W]")
    return v


def check_ops(proto) -> None:
    """Refuse the first node whose operator NetCanvas neither imports nor folds."""
    from .onnx_ops import OPS
    for i, node in enumerate(proto.graph.node):
        if node.domain not in ("", "ai.onnx") or (node.op_type not in OPS
                                                   and node.op_type not in FOLDABLE):
            raise unsupported(i, node)


def unsupported(i: int, node) -> ImportRefused:
    from .onnx_ops import supported_text
    what = f"{text(node.domain)}::{text(node.op_type)}" if node.domain else text(node.op_type)
    name = f" {term_safe(text(node.name)[:80])!r}" if node.name else ""
    return ImportRefused(f"ONNX node {i}{name} ({term_safe(what[:80])}): the operator has no "
                         f"NetCanvas equivalent; supported: {supported_text()}")


def text(value) -> str:
    """A protobuf string field as str (protobuf hands invalid UTF-8 over as bytes)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def scope_of(node) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The torch modules an exported node came from, outermost first, as qualified paths
    ("layer1", "layer1.0", "layer1.0.conv1"), and their class names where the file says them
    (the current exporter does; the TorchScript one names nodes "/layer1/layer1.0/conv1/Conv")."""
    import ast
    meta = {text(p.key): text(p.value) for p in node.metadata_props}
    scopes = meta.get("pkg.torch.onnx.name_scopes")
    if scopes and len(scopes) < 10_000:
        try:
            paths = ast.literal_eval(scopes)
            classes = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            paths, classes = [], []
        if isinstance(paths, list) and all(isinstance(x, str) for x in paths) and \
                2 < len(paths) <= MAX_SCOPE_DEPTH:
            ok = isinstance(classes, list) and len(classes) == len(paths) and all(
                isinstance(x, str) for x in classes)
            return (tuple(paths[1:-1]),
                    tuple(x.rpartition(".")[2] for x in classes[1:-1]) if ok else ())
    name = text(node.name)
    parts = name.split("/")[1:-1] if name.startswith("/") else []
    if len(parts) > MAX_SCOPE_DEPTH:
        return (), ()
    out: list[str] = []
    for part in parts:  # TorchScript scopes: "layer1", "layer1.0", "conv1" → qualified paths
        if not part:
            return (), ()
        out.append(_qualified(out[-1] if out else "", part))
    return tuple(out), ()


def _qualified(parent: str, part: str) -> str:
    """A TorchScript scope part as a qualified path: "layer1" + "layer1.0" → "layer1.0",
    "layer2.0.downsample" + "downsample.0" → "layer2.0.downsample.0", else parent.part."""
    pieces = parent.split(".") if parent else []
    for k in range(len(pieces)):
        suffix = ".".join(pieces[k:])
        if part.startswith(suffix + "."):
            return ".".join(pieces[:k] + [part])
    return f"{parent}.{part}" if parent else part


def label_of(node) -> str:
    path = scope_of(node)[0]
    return term_safe(path[-1] if path else text(node.name) or text(node.op_type))[:100]
