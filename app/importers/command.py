"""`netcanvas import SOURCE -o PROJECT.json [--weights W.safetensors] [--input-shape C,H,W]
[--kwargs JSON]`.

Exit codes: 0 imported; 1 refused (the model has something NetCanvas cannot express, or it
raised); 2 the source cannot be read or the command line is wrong; 3 a bug (app.cli's safety
net). One line per message on stderr, never a traceback.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..textsafe import term_safe


def add_arguments(parser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="package.module:callable (e.g. torchvision.models:resnet50), "
                             "path/to/file.py:Name, a .py file NetCanvas exported, or an "
                             ".onnx file")
    parser.add_argument("-o", "--output", metavar="PROJECT.json", required=True,
                        help="the project file to write")
    parser.add_argument("--weights", metavar="WEIGHTS.safetensors",
                        help="where to write the source's weights, keyed by the project's names "
                             "(default: PROJECT.weights.safetensors beside the project, "
                             "which the editor attaches on opening)")
    parser.add_argument("--input-shape", metavar="C,H,W",
                        help="per-sample input shape (default: what the source says, else "
                             "3,224,224)")
    parser.add_argument("--kwargs", metavar="JSON",
                        help='keyword arguments for the callable, e.g. \'{"num_classes": 10}\'')


def _err(msg: str) -> None:
    print(f"netcanvas import: {term_safe(msg)}", file=sys.stderr)


def parse_shape(text: str) -> list[int]:
    parts = [p.strip() for p in text.replace("x", ",").replace("×", ",").split(",")]
    try:
        shape = [int(p) for p in parts]
    except ValueError:
        shape = []
    if len(shape) not in (1, 3) or any(v < 1 or v > 65536 for v in shape):
        raise ValueError(f"--input-shape must be C,H,W (or F) of positive whole numbers, "
                         f"not {text!r}")
    return shape


def run(args) -> int:
    from . import ImportRefused, import_source
    try:
        shape = parse_shape(args.input_shape) if args.input_shape else None
    except ValueError as exc:
        _err(str(exc))
        return 2
    kwargs = None
    if args.kwargs:
        try:
            kwargs = json.loads(args.kwargs)
        except json.JSONDecodeError as exc:
            _err(f"--kwargs is not valid JSON ({exc.msg} at column {exc.colno})")
            return 2
        if not isinstance(kwargs, dict):
            _err("--kwargs must be a JSON object, e.g. '{\"num_classes\": 10}'")
            return 2
    out = Path(args.output)
    for p in (out, Path(args.weights) if args.weights else None):
        if p is not None and p.parent and not p.parent.is_dir():
            _err(f"{p}: the folder {p.parent} does not exist")
            return 2
    try:
        result = import_source(args.source, input_shape=shape, kwargs=kwargs)
    except ImportRefused as exc:
        _err(str(exc))
        return 2 if _unreadable(exc) else 1
    from ..project import atomic_write_text, project_from_dict
    try:
        project_from_dict(result.project)  # what is written must open
        atomic_write_text(out, json.dumps(result.project, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        _err(f"cannot write {out}: {exc.strerror or exc}")
        return 1
    print(f"wrote {term_safe(str(out))}")
    if result.weights:
        # Without --weights they go beside the project, where the editor (File ▸ Open)
        # attaches them to their nodes; elsewhere, the editor does not find them.
        from ..weights_store import sidecar_path
        side = sidecar_path(out)
        target = Path(args.weights) if args.weights else side
        wrote = _write_weights(result, target)
        if wrote is None:
            return 1
        print(f"wrote {term_safe(str(wrote))} ({len(result.weights)} tensors)")
        if target.resolve() != side.resolve():
            print(f"  (the editor opens {term_safe(out.name)} with its weights when they are "
                  f"named {term_safe(side.name)}; without --weights they are written there)")
    else:
        print("(the source has no weights)")
    for note in result.notes:
        print(f"  {term_safe(note)}")
    return 0


def _unreadable(exc: Exception) -> bool:
    """The source cannot be read at all (exit 2), rather than refused for what it holds."""
    from .torch_import import SourceUnreadable
    kinds: tuple[type, ...] = (SourceUnreadable,)
    try:
        from .onnx_load import OnnxUnreadable
        kinds += (OnnxUnreadable,)
    except ImportError:  # the ONNX importer is not part of this build
        pass
    return isinstance(exc, kinds)


def _write_weights(result, path: Path) -> Path | None:
    from safetensors.torch import save

    from ..project import atomic_write
    meta = {"format": "pt", "producer": "NetCanvas", "made_by": "netcanvas import",
            "project": str(result.project.get("name", ""))}
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in result.weights.items()}
    try:
        atomic_write(path, lambda f: f.write(save(tensors, metadata=meta)))
    except OSError as exc:
        _err(f"cannot write {path}: {exc.strerror or exc}")
        return None
    return path
