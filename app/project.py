"""Project files, format v1: JSON, checked completely on load, saved atomically.

A project file is data: it is parsed with json and checked field by field against the
block registry; nothing in it is ever evaluated.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from blocks import REGISTRY, get_spec

from .graph import NetGraph

FORMAT = "netcanvas"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024


class ProjectError(ValueError):
    """The file cannot be opened; `problems` says every reason, each with where it is."""

    def __init__(self, problems: list[str], path: str | os.PathLike | None = None):
        self.problems = problems
        self.path = path
        where = f"{path}: " if path else ""
        head = f"{where}not a valid NetCanvas project"
        body = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{head} ({len(problems)} problem(s)):\n{body}{more}")


def check_project(data: Any) -> list[str]:
    """Every problem with a parsed project dict, each saying where it is."""
    if not isinstance(data, dict):
        return ["the file must hold a JSON object"]
    problems = []
    if data.get("format") != FORMAT:
        problems.append(f'"format" must be "{FORMAT}", not {data.get("format")!r}')
    version = data.get("version")
    if version != VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            problems.append(f"the file is format version {version}, made by a newer NetCanvas; "
                            f"this one reads version {VERSION} — update NetCanvas to open it")
        else:
            problems.append(f'"version" must be {VERSION}, not {version!r}')
    if "name" in data and not isinstance(data["name"], str):
        problems.append('"name" must be a string')
    nodes, edges = data.get("nodes"), data.get("edges", [])
    if not isinstance(nodes, list):
        problems.append('"nodes" must be a list')
        nodes = []
    if not isinstance(edges, list):
        problems.append('"edges" must be a list')
        edges = []
    types: dict[str, str] = {}
    for i, n in enumerate(nodes):
        problems += _check_node(i, n, types)
    taken: dict[tuple[str, int], int] = {}
    pairs: set[tuple[str, str]] = set()
    for i, e in enumerate(edges):
        problems += _check_edge(i, e, types, taken, pairs)
    if not problems:
        problems += _check_acyclic(edges)
    return problems


def _check_node(i: int, n: Any, types: dict[str, str]) -> list[str]:
    where = f"nodes[{i}]"
    if not isinstance(n, dict):
        return [f"{where}: must be an object"]
    out = []
    nid = n.get("id")
    if not isinstance(nid, str) or not nid:
        out.append(f"{where}: \"id\" must be a non-empty string")
    elif nid in types:
        out.append(f"{where}: duplicate id {nid!r}")
    else:
        where = f"{where} ({nid})"
    t = n.get("type")
    if t not in REGISTRY:
        out.append(f"{where}: unknown block type {t!r}")
    else:
        params = n.get("params", {})
        if not isinstance(params, dict):
            out.append(f"{where}: \"params\" must be an object")
        else:
            _, errs = get_spec(t).resolve(params)
            out += [f"{where}: {e}" for e in errs]
    if "label" in n and not isinstance(n["label"], str):
        out.append(f"{where}: \"label\" must be a string")
    pos = n.get("pos", [0, 0])
    if (not isinstance(pos, list) or len(pos) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and abs(v) < 1e9 for v in pos)):
        out.append(f"{where}: \"pos\" must be [x, y] numbers")
    unknown = set(n) - {"id", "type", "params", "label", "pos"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    if isinstance(nid, str) and nid and nid not in types:
        types[nid] = t if t in REGISTRY else ""
    return out


def _check_edge(i, e, types, taken, pairs) -> list[str]:
    where = f"edges[{i}]"
    if not isinstance(e, dict):
        return [f"{where}: must be an object"]
    out = []
    s, t, port = e.get("source"), e.get("target"), e.get("port", 0)
    for key, v in (("source", s), ("target", t)):
        if not isinstance(v, str) or v not in types:
            out.append(f"{where}: {key} {v!r} is not a node in this file")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 4096:
        out.append(f"{where}: port must be a whole number 0..4095, not {port!r}")
    unknown = set(e) - {"source", "target", "port"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    if out:
        return out
    where = f"{where} ({s} → {t})"
    ttype = types[t]
    if ttype:
        spec = get_spec(ttype)
        if spec.inputs == "none":
            out.append(f"{where}: {t} is an Input and takes no incoming edge")
        elif spec.inputs == "one" and port != 0:
            out.append(f"{where}: {t} ({ttype}) has a single input, port 0, not {port}")
    if s == t:
        out.append(f"{where}: a node cannot feed itself")
    if (s, t) in pairs:
        out.append(f"{where}: {s} is connected to {t} twice")
    pairs.add((s, t))
    if (t, port) in taken:
        out.append(f"{where}: input port {port} of {t} already has an edge (edges[{taken[t, port]}])")
    taken.setdefault((t, port), i)
    return out


def _check_acyclic(edges: list[dict]) -> list[str]:
    import networkx as nx
    g = nx.DiGraph((e["source"], e["target"]) for e in edges)
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return []
    path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
    return [f"edges: the graph has a cycle: {path}"]


def project_from_dict(data: Any, path: str | os.PathLike | None = None) -> NetGraph:
    problems = check_project(data)
    if problems:
        raise ProjectError(problems, path)
    graph = NetGraph(data.get("name") or (Path(path).stem if path else "Untitled"))
    graph.load_dict(data)
    return graph


def load_project(path: str | os.PathLike) -> NetGraph:
    """Read and check a project file; raises ProjectError saying every problem."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectError([f"the file is {size // 2**20} MiB; projects are at most "
                                f"{MAX_FILE_BYTES // 2**20} MiB"], path)
        text = p.read_bytes().decode("utf-8")
    except ProjectError:
        raise
    except FileNotFoundError:
        raise ProjectError(["the file does not exist"], path) from None
    except IsADirectoryError:
        raise ProjectError(["this is a folder, not a project file"], path) from None
    except UnicodeDecodeError:
        raise ProjectError(["the file is not UTF-8 text (is it a project file?)"], path) from None
    except OSError as exc:
        raise ProjectError([f"cannot read it: {exc.strerror or exc}"], path) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ProjectError([f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"],
                           path) from None
    except (ValueError, RecursionError) as exc:
        raise ProjectError([f"not valid JSON: {exc}"], path) from None
    return project_from_dict(data, path)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a project file")


def dumps_project(graph: NetGraph) -> str:
    return json.dumps(graph.to_dict(), indent=1, ensure_ascii=False) + "\n"


def save_project(graph: NetGraph, path: str | os.PathLike) -> None:
    """Write atomically: a crash mid-save leaves the old file, never a broken one."""
    atomic_write_text(Path(path), dumps_project(graph))


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
