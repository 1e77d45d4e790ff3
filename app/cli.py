"""The `netcanvas` command line: everything the GUI does that is not drawing.

Exit codes: 0 success; 1 the graph (or the job) has errors; 2 the file cannot be read or
the command line is wrong. Messages go to stderr, never a traceback.

Feature commands live next to their feature (`app/export/cli.py`, …) and are imported
only when used, so that `netcanvas validate` never loads Qt.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

from .project import ProjectError, load_project
from .summary import summary_dict, summary_text

# name → (module with add_arguments(parser) and run(args) -> int, one-line help)
FEATURE_COMMANDS = {
    "gui": ("app.ui.command", "open the editor (on the built-in example without FILE)"),
    "export": ("app.export.command", "export to Python, ONNX, weights or a diagram"),
    "train": ("app.train.command", "train the network on digits, an image folder or .npz"),
}


def _load(path: str):
    try:
        return load_project(path)
    except ProjectError as exc:
        print(f"netcanvas: {exc}", file=sys.stderr)
        return None


def cmd_validate(args) -> int:
    graph = _load(args.file)
    if graph is None:
        return 2
    problems = graph.problems()
    for p in problems:
        print(f"{p.node}: {p.message}" + (f" [fix: {p.fix.description}]" if p.fix else ""))
    if not problems:
        print(f"{args.file}: valid — {graph.g.number_of_nodes()} nodes, "
              f"output {summary_dict(graph)['output_shape']}")
    return 1 if problems else 0


def cmd_summary(args) -> int:
    graph = _load(args.file)
    if graph is None:
        if args.json:
            print(json.dumps({"error": "cannot open project"}))
        return 2
    if args.json:
        print(json.dumps(summary_dict(graph)))
    else:
        print(summary_text(graph))
    return 1 if graph.problems() else 0


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser. With argv, only the feature command named there is imported (the others
    are listed with their help line): `netcanvas gui` never loads the exporters or torch."""
    wanted = None
    if argv is not None:
        wanted = next((a for a in argv if not a.startswith("-")), "")
    parser = argparse.ArgumentParser(
        prog="netcanvas",
        description="Design convolutional networks, check their shapes, train and export them.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("validate", help="check a project; one line per error")
    p.add_argument("file")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("summary", help="Keras-style table of shapes, params and MACs")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=cmd_summary)
    for name, (module, help_text) in FEATURE_COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            if exc.name and module.startswith(exc.name):  # feature not built yet
                continue
            raise
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("netcanvas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
