"""The `netcanvas` command line: everything the GUI does that is not drawing.

Exit codes: 0 success; 1 the graph (or the job) has errors; 2 the file cannot be read or
the command line is wrong; 3 an internal error (a bug: one line, the traceback goes to a
report file). Messages go to stderr, never a traceback; ids, labels and names from the file
are printed with control characters escaped.

Feature commands live next to their feature (`app/export/cli.py`, …) and are imported
only when used, so that `netcanvas validate` never loads Qt.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .crash import INTERNAL_ERROR, one_line, write_report
from .graph.cost import build_problems
from .project import ProjectError, load_project
from .summary import summary_dict, summary_text
from .textsafe import term_safe

# name → (module with add_arguments(parser) and run(args) -> int, one-line help)
FEATURE_COMMANDS = {
    "gui": ("app.ui.command", "open the editor (on the built-in example without FILE)"),
    "export": ("app.export.command", "export to Python, ONNX, weights or a diagram"),
    "train": ("app.train.command", "train the network on digits, an image folder or .npz"),
    "diff": ("app.diff", "what changed between two projects (exit 0 same, 1 different)"),
    "runs": ("app.train.runs_command", "list a project's training runs side by side"),
    "inspect": ("app.inspect.command", "feature maps or Grad-CAM of a node for one image"),
    "import": ("app.importers.command",
               "make a project (and weights) from a PyTorch model or an ONNX file"),
}


def _load(path: str):
    try:
        graph = load_project(path)
    except ProjectError as exc:
        print(f"netcanvas: {project_error_text(exc)}", file=sys.stderr)
        return None
    tell_load_notes(graph, path)
    return graph


def tell_load_notes(graph, path) -> None:
    """What the loader brought up to date (a block renamed), one line each on stderr: the
    file opened, and stdout stays the command's own output."""
    for note in graph.load_notes:
        print(f"netcanvas: {term_safe(str(path))}: {term_safe(note)}", file=sys.stderr)


def project_error_text(exc: ProjectError) -> str:
    """The refusal, each problem on its own line with the file's text escaped in it."""
    return "\n".join(term_safe(line) for line in str(exc).split("\n"))


def all_problems(graph) -> list[tuple[str, str]]:
    """(node, message) of every node and graph problem, then what stops a build."""
    out = [(p.node, p.message + (f" [fix: {p.fix.description}]" if p.fix else ""))
           for p in graph.problems()]
    return out + build_problems(graph)


def cmd_validate(args) -> int:
    graph = _load(args.file)
    if graph is None:
        return 2
    problems = all_problems(graph)
    for node, message in problems:
        print(f"{term_safe(node)}: {term_safe(message)}")
    if not problems:
        print(f"{term_safe(args.file)}: valid — {graph.g.number_of_nodes()} nodes, "
              f"output {summary_dict(graph)['output_shape']}")
    return 1 if problems else 0


def cmd_summary(args) -> int:
    graph = _load(args.file)
    if graph is None:
        if args.json:
            print(json.dumps({"error": "cannot open project"}))
        return 2
    memory = gib = None
    if args.batch is not None and not graph.problems():  # problems are listed anyway
        from .train.memory import default_gpu_gib, estimate_memory
        memory = estimate_memory(graph, args.batch, args.optimizer, amp=args.precision)
        gib = args.gpu_gib or default_gpu_gib()
    no_memory = "fix the problems first: a network with problems cannot be measured"
    if args.json:
        data = summary_dict(graph, memory, gib)
        if args.batch is not None and memory is None:
            data["train_memory"] = {"error": no_memory}
        print(json.dumps(data))  # JSON escapes control characters itself
    else:
        print(summary_text(graph, memory=memory, gpu_gib=gib))
        if args.batch is not None and memory is None:
            print(f"Training memory: {no_memory}")
    return 1 if all_problems(graph) else 0


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}")
        return value
    return parse


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
    p.add_argument("--batch", type=_positive(int), metavar="B",
                   help="add training memory per node for this batch size")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="with --batch: float32, or mixed precision (autocast) in bf16/fp16")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adamw",
                   help="with --batch: whose state to count (sgd: momentum)")
    p.add_argument("--gpu-gib", type=_positive(float), metavar="N",
                   help="with --batch: say whether it fits in N GiB (default: this "
                        "machine's GPU, else 16)")
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


class _ReaderMayLeave:
    """stdout for `netcanvas … | head`: when the reader goes away the rest of the output is
    dropped and the command still finishes its work (the files it writes are written),
    instead of dying half-way with a BrokenPipeError."""

    def __init__(self, stream):
        self._stream = stream
        self.gone = False

    def write(self, text):
        if not self.gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self.gone = True
        return len(text)

    def flush(self):
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self.gone = True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    if argv is not None:
        return _main(list(argv))
    out = sys.stdout = _ReaderMayLeave(sys.stdout)
    try:
        return _main(sys.argv[1:])
    finally:
        out.flush()
        sys.stdout = out._stream
        if out.gone:  # nothing more may reach the closed pipe, not even at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _main(argv: list[str]) -> int:
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("netcanvas: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback in a report file, exit 3
        if os.environ.get("NETCANVAS_DEBUG"):
            raise
        report = write_report(exc, f"netcanvas {' '.join(map(str, argv or sys.argv[1:]))}")
        print(f"netcanvas: {one_line(exc, report)}", file=sys.stderr)
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
