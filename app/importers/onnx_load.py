"""Reading an .onnx file as data: bounded, checked, with shapes inferred.

Nothing in the file is executed. The file and every external-data file it names are read
by us, with their sizes capped, and an external-data location must stay inside the model's
folder (no absolute paths, no "..", no link out of it). Initializers are converted to numpy
only after their declared size has been checked against the bytes that are there, so a
declared shape of 10^12 elements costs nothing.
"""
from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blocks.spec import MAX_SIZE

from ..textsafe import term_safe
from . import ImportRefused

MIN_OPSET = 13
MAX_FILE_BYTES = 1 << 30  # the .onnx file itself
MAX_TOTAL_BYTES = 2 ** 31 - 2 ** 26  # with its external data: what protobuf and onnxruntime take
MAX_TENSOR_ELEMENTS = 2 ** 29
MAX_NODES = 50_000
_SMALL = 64  # initializers up to this many elements stay in the copy used for shape inference


class OnnxUnreadable(ImportRefused):
    """The file cannot be read or is not an ONNX model at all (a command line exits 2 for
    this, as for any unreadable source, and 1 for a model it refuses)."""


@dataclass
class LoadedModel:
    """An ONNX model read and checked: what the converter needs, nothing executed."""
    proto: Any  # onnx.ModelProto, external data read in
    opset: int
    input_name: str
    input_shape: tuple[int, ...]  # per sample, no batch: (C, H, W) or (F,)
    batch_fixed: bool  # the batch dimension is fixed at 1 (else dynamic)
    output_name: str
    shapes: dict[str, tuple] = field(default_factory=dict)  # tensor → full shape, None if unknown
    initializers: dict[str, Any] = field(default_factory=dict)  # name → TensorProto


def load_onnx(path: str | os.PathLike, input_shape: list[int] | None = None,
              check_ops=None) -> LoadedModel:
    """The model read and checked; `check_ops(proto)` may refuse it before shape inference
    (which cannot see through operators it does not know)."""
    import onnx
    p = Path(path)
    raw = _read_bounded(p, MAX_FILE_BYTES, what="the ONNX file")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(raw)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise OnnxUnreadable(f"{p.name} is not an ONNX model (it does not parse as one: "
                            f"{_first_line(exc)}) — is the file truncated?") from None
    if not proto.HasField("graph") or not proto.graph.node or not proto.opset_import:
        raise OnnxUnreadable(f"{p.name} is not an ONNX model (no graph or no opset in it)")
    if len(proto.graph.node) > MAX_NODES:
        raise ImportRefused(f"{p.name} has {len(proto.graph.node):,} nodes; NetCanvas imports "
                            f"at most {MAX_NODES:,}")
    opset = _check_opset(proto, p.name)
    for t in _all_tensors(proto):  # before anything allocates by a declared shape
        check_tensor_size(t, f"tensor {t.name!r}")
    _read_external_data(proto, p)
    try:
        onnx.checker.check_model(proto)
    except Exception as exc:  # noqa: BLE001 - ValidationError, or a C++ error for a bad field
        raise OnnxUnreadable(f"{p.name} is not a valid ONNX model: {_first_line(exc)}") from None
    inits = {t.name: t for t in proto.graph.initializer}
    name, shape, batch_fixed = _the_input(proto, inits, input_shape)
    outputs = [o.name for o in proto.graph.output]
    if len(outputs) != 1:
        raise ImportRefused(f"the model has {len(outputs)} outputs ({_names(outputs)}); "
                            f"NetCanvas imports networks with exactly one output")
    if check_ops is not None:
        check_ops(proto)
    shapes = _infer_shapes(proto, inits, name, shape, p.name)
    return LoadedModel(proto, opset, name, shape, batch_fixed, outputs[0], shapes, inits)


def _read_bounded(p: Path, limit: int, what: str) -> bytes:
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise OnnxUnreadable(f"{p}: {what} is not a regular file")
        if st.st_size > limit:
            raise ImportRefused(f"{p}: {what} is {st.st_size / 2 ** 20:,.0f} MiB; NetCanvas "
                                f"imports at most {limit / 2 ** 20:,.0f} MiB")
        with open(p, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise OnnxUnreadable(f"{p}: no such file") from None
    except OSError as exc:
        raise OnnxUnreadable(f"{p}: cannot read {what}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise ImportRefused(f"{p}: {what} is larger than {limit / 2 ** 20:,.0f} MiB")
    return raw


def _check_opset(proto, file_name: str) -> int:
    import onnx
    versions = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    opset = versions.get("ai.onnx")
    if opset is None:
        raise ImportRefused(f"{file_name} imports no standard ONNX opset; NetCanvas imports "
                            f"models of the standard domain, opset {MIN_OPSET} or later")
    if opset < MIN_OPSET:
        raise ImportRefused(f"{file_name} uses ONNX opset {opset}; NetCanvas imports opset "
                            f"{MIN_OPSET} and later — re-export it with a newer opset (e.g. "
                            f"torch.onnx.export(..., opset_version=17))")
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ImportRefused(f"{file_name} uses ONNX opset {opset}, newer than the {newest} "
                            f"this onnx package knows — update onnx")
    return opset


def _read_external_data(proto, path: Path) -> None:
    """Read every tensor stored beside the model into it, refusing locations outside the
    model's folder, files that are not regular, and ranges past a file's end."""
    from onnx import TensorProto
    folder = path.resolve().parent
    total = len(proto.SerializeToString()) if _has_external(proto) else 0
    for t in _all_tensors(proto):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        loc = info.get("location", "")
        where = f"tensor {t.name!r} stores its data in {loc!r}"
        rel = Path(loc)
        if not loc or rel.is_absolute() or ".." in rel.parts or ":" in loc or "\\" in loc:
            raise ImportRefused(f"{path.name}: {where}, which is not a file inside the "
                                f"model's folder; NetCanvas reads external data only from there")
        target = (folder / rel).resolve()
        if not target.is_relative_to(folder):
            raise ImportRefused(f"{path.name}: {where}, which leads outside the model's "
                                f"folder; NetCanvas reads external data only from there")
        try:
            offset = int(info.get("offset", "0"))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise ImportRefused(f"{path.name}: {where} with an offset or length that is not "
                                f"a number") from None
        try:
            st = os.stat(target)
        except OSError:
            raise ImportRefused(f"{path.name}: {where}, which does not exist") from None
        if not stat.S_ISREG(st.st_mode):
            raise ImportRefused(f"{path.name}: {where}, which is not a regular file")
        if length is None:
            length = st.st_size - offset
        if offset < 0 or length < 0 or offset + length > st.st_size:
            raise ImportRefused(f"{path.name}: {where} at bytes {offset}..{offset + length}, "
                                f"past the end of that file ({st.st_size} bytes)")
        total += length
        if total > MAX_TOTAL_BYTES:
            raise ImportRefused(f"{path.name}: the model and its external data are larger "
                                f"than {MAX_TOTAL_BYTES / 2 ** 30:.1f} GiB; NetCanvas imports "
                                f"smaller models")
        check_tensor_size(t, f"tensor {t.name!r}", stored=length)
        with open(target, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT
        t.raw_data = data


def _has_external(proto) -> bool:
    from onnx import TensorProto
    return any(t.data_location == TensorProto.EXTERNAL for t in _all_tensors(proto))


def _all_tensors(proto):
    yield from proto.graph.initializer
    for node in proto.graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors


def check_tensor_size(t, what: str, stored: int | None = None) -> None:
    """Refuse a tensor whose declared shape is huge or does not match its stored bytes."""
    import onnx
    what = term_safe(what[:120])
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise ImportRefused(f"{what} declares a negative dimension {dims}")
    n = math.prod(dims)
    if n > MAX_TENSOR_ELEMENTS:
        raise ImportRefused(f"{what} declares {n:,} elements ({dims}); NetCanvas imports "
                            f"tensors of at most {MAX_TENSOR_ELEMENTS:,}")
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        raise ImportRefused(f"{what} has an unknown element type {t.data_type}") from None
    if stored is None and t.data_location == onnx.TensorProto.DEFAULT:
        stored = len(t.raw_data) if t.HasField("raw_data") else None
    if stored is not None and t.data_type not in (onnx.TensorProto.STRING,) \
            and stored != n * itemsize:
        raise ImportRefused(f"{what} declares shape {dims} ({n * itemsize:,} bytes) but "
                            f"stores {stored:,} bytes")


def _the_input(proto, inits, input_shape) -> tuple[str, tuple[int, ...], bool]:
    import onnx
    inputs = [i for i in proto.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ImportRefused(f"the model has {len(inputs)} inputs ({_names(i.name for i in inputs)}); "
                            f"NetCanvas imports networks with exactly one input")
    inp = inputs[0]
    tt = inp.type.tensor_type
    if not inp.type.HasField("tensor_type") or tt.elem_type != onnx.TensorProto.FLOAT:
        raise ImportRefused(f"the input {inp.name!r} is not a float32 tensor; NetCanvas "
                            f"imports networks with a float32 input")
    if not tt.HasField("shape") or len(tt.shape.dim) not in (2, 4):
        rank = len(tt.shape.dim) if tt.HasField("shape") else "unknown"
        raise ImportRefused(f"the input {inp.name!r} has rank {rank}; NetCanvas imports "
                            f"[batch, C, H, W] images or [batch, features] vectors")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    batch_fixed = dims[0] == 1
    if dims[0] is not None and dims[0] not in (0, 1):
        raise ImportRefused(f"the input {inp.name!r} has its batch dimension fixed at "
                            f"{dims[0]}; NetCanvas imports models whose batch is dynamic or 1")
    sample = dims[1:]
    if input_shape is not None:
        given = [int(v) for v in input_shape]
        if len(given) != len(sample) or any(
                d not in (None, 0) and d != g for d, g in zip(sample, given)):
            raise ImportRefused(f"--input-shape {given} does not fit the model's input "
                                f"{inp.name!r}, which is {_show_dims(sample)} per sample")
        sample = given
    if any(d in (None, 0) for d in sample):
        raise ImportRefused(f"the input {inp.name!r} is {_show_dims(sample)} per sample, with "
                            f"dynamic sizes; give them with --input-shape "
                            f"{','.join(str(d) if d else '?' for d in sample)}")
    for d in sample:
        if not 1 <= d <= MAX_SIZE:
            raise ImportRefused(f"the input {inp.name!r} declares a dimension of {d:,}; "
                                f"NetCanvas takes sizes from 1 to {MAX_SIZE}")
    if math.prod(sample) > 2 ** 28:
        raise ImportRefused(f"the input {inp.name!r} is {sample} per sample "
                            f"({math.prod(sample):,} values); NetCanvas takes at most {2 ** 28:,}")
    return inp.name, tuple(sample), batch_fixed


def _infer_shapes(proto, inits, input_name, sample, file_name) -> dict[str, tuple]:
    """onnx shape inference on a light copy: big initializers become typed graph inputs
    (their shapes are all inference needs), the input gets its concrete shape, batch 1."""
    import onnx
    light = onnx.ModelProto()
    light.ir_version = proto.ir_version
    light.opset_import.extend(proto.opset_import)
    g = light.graph
    g.node.extend(proto.graph.node)
    g.output.extend(proto.graph.output)
    g.input.append(onnx.helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT,
                                                      [1, *sample]))
    for t in inits.values():
        if math.prod(t.dims) <= _SMALL:
            g.initializer.append(t)
        else:
            g.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    try:
        inferred = onnx.shape_inference.infer_shapes(light, check_type=True, strict_mode=True,
                                                     data_prop=True)
    except Exception as exc:  # noqa: BLE001 - InferenceError and C++ errors alike
        raise ImportRefused(f"{file_name}: ONNX shape inference fails on it: "
                            f"{_first_line(exc)}") from None
    shapes: dict[str, tuple] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        tt = vi.type.tensor_type
        if tt.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                    for d in tt.shape.dim)
    return shapes


def _show_dims(dims) -> str:
    return "[" + ", ".join(str(d) if d else "?" for d in dims) + "]"


def _names(names) -> str:
    from ..textsafe import term_safe
    return ", ".join(repr(term_safe(n)[:60]) for n in list(names)[:5])


def _first_line(exc: BaseException) -> str:
    from ..textsafe import term_safe
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return term_safe(line if len(line) <= 300 else line[:297] + "...")
