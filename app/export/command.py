"""`netcanvas export FILE --to {python,onnx,weights,svg,png,pdf} -o OUT`.

Exit codes: 0 done; 1 the graph has problems or the export failed; 2 the project cannot
be read or the command line is wrong; 3 a bug (app.cli's safety net reports it). Messages
go to stderr, never a traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..textsafe import term_safe

SUFFIXES = {"python": ".py", "onnx": ".onnx", "weights": ".safetensors", "svg": ".svg",
            "png": ".png", "pdf": ".pdf"}
BY_SUFFIX = {v: k for k, v in SUFFIXES.items()}


def add_arguments(parser) -> None:
    parser.add_argument("file", help="the project (.json)")
    parser.add_argument("--to", choices=list(SUFFIXES), dest="to",
                        help="what to write (default: from the suffix of -o)")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="the file to write (default: FILE with the format's suffix)")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (default: the exporter's, currently 20; 18 and up "
                             "use the new exporter)")
    parser.add_argument("--weights", metavar="W.safetensors",
                        help="python/onnx: load these trained weights first (checked against "
                             "the graph)")
    parser.add_argument("--expanded", action="store_true",
                        help="diagrams: draw every block as a cluster of its layers")
    parser.add_argument("--seed", type=int, default=None,
                        help="weights: seed of the fresh initialisation")


def _err(msg: str) -> None:
    print(f"netcanvas export: {term_safe(msg, keep_newlines=True)}", file=sys.stderr)


def run(args) -> int:
    from ..cli import all_problems, tell_load_notes
    from ..project import ProjectError, load_project
    to = args.to
    if to is None:
        suffix = Path(args.output).suffix.lower() if args.output else ""
        to = BY_SUFFIX.get(suffix)
        if to is None:
            _err("say what to export with --to {" + ",".join(SUFFIXES) + "} (or give -o a "
                 "file ending in " + ", ".join(SUFFIXES.values()) + ")")
            return 2
    if args.weights and to not in ("python", "onnx"):
        _err("--weights goes with --to python or --to onnx")
        return 2
    if args.opset is not None and to != "onnx":
        _err("--opset goes with --to onnx")
        return 2
    try:
        graph = load_project(args.file)
    except ProjectError as exc:
        _err(str(exc))
        return 2
    tell_load_notes(graph, args.file)
    out = Path(args.output) if args.output else Path(args.file).with_suffix(SUFFIXES[to])
    try:
        if out.resolve() == Path(args.file).resolve():
            _err(f"{out} is the project itself — choose another output file")
            return 2
    except OSError:
        pass
    problems = all_problems(graph)
    if problems:
        _err(f"{args.file}: the graph has {len(problems)} problem(s) — fix them first:")
        for node, message in problems:
            print(f"{term_safe(node)}: {term_safe(message)}", file=sys.stderr)
        return 1
    from .errors import ExportError
    try:
        message = _export(graph, to, out, args)
    except ExportError as exc:
        _err(str(exc))
        return 1
    except OSError as exc:
        _err(f"cannot write {out}: {exc.strerror or exc}")
        return 1
    print(message)
    return 0


def _export(graph, to: str, out: Path, args) -> str:
    from . import export_diagram, export_onnx, export_python, load_weights, save_weights
    if to == "python":
        path = export_python(graph, out)
        msg = f"wrote {path} (run it: python {path.name})"
        if args.weights:
            import torch
            model = load_weights(graph, args.weights)
            pt = path.with_suffix(".pt")
            torch.save(model.state_dict(), pt)
            msg += f"\nwrote {pt}, the weights of {args.weights} (python {path.name} {pt.name})"
        return msg
    if to == "onnx":
        model = load_weights(graph, args.weights) if args.weights else None
        return export_onnx(graph, out, opset=args.opset, model=model).summary()
    if to == "weights":
        import torch
        if args.seed is not None:
            torch.manual_seed(args.seed)
        path = save_weights(graph, out)
        return f"wrote {path} (freshly initialised weights of {graph.name!r})"
    path = export_diagram(graph, out, fmt=to, expanded=args.expanded)
    return f"wrote {path}"
