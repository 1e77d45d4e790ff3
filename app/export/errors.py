"""The one exception every export raises, and the checks all exports share."""
from __future__ import annotations

import os
from pathlib import Path

from ..graph import NetGraph
from ..graph.cost import cost_problems


class ExportError(ValueError):
    """An export that could not be done; the message is for the user."""


def compiled(graph: NetGraph):
    """compile_graph(graph) with its CompileError as an ExportError (same message)."""
    from ..compile import CompileError, compile_graph
    try:
        return compile_graph(graph)
    except CompileError as exc:
        raise ExportError(str(exc)) from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # a block refusing its args
        raise ExportError(f"the network cannot be built: {exc}") from None


def check_graph(graph: NetGraph) -> None:
    """Raise ExportError listing the graph's problems, if it has any."""
    problems = graph.problems()
    if problems:
        lines = "\n".join(f"  {p.node}: {p.message}" for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ExportError(f"the graph has {len(problems)} problem(s) — fix them first:\n"
                          f"{lines}{more}")
    too_big = cost_problems(graph)  # refused before a single module is built
    if too_big:
        raise ExportError("; ".join(too_big))
    if len(graph.input_nodes()) != 1 or len(graph.output_nodes()) != 1:
        raise ExportError("the network needs exactly one Input and one output to be exported")


def input_shape(graph: NetGraph) -> tuple[int, ...]:
    return tuple(graph.info[graph.input_nodes()[0]].output_shape)


def output_shape(graph: NetGraph) -> tuple[int, ...]:
    return tuple(graph.info[graph.output_nodes()[0]].output_shape)


def output_path(path: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> Path:
    """The path an export writes, after checking that its folder exists."""
    p = Path(path)
    if p.is_dir():
        raise ExportError(f"{p} is a folder — give a file name to write")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {p}: the folder {parent} does not exist")
    return p


