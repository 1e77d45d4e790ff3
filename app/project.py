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

from .graph import GraphError, NetGraph

FORMAT = "netcanvas"
VERSION = 2  # v2 adds composite definitions and repeat; v1 files open unchanged
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
    if version not in (1, VERSION):
        if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
            problems.append(f"the file is format version {version}, made by a newer NetCanvas; "
                            f"this one reads version {VERSION} — update NetCanvas to open it")
        else:
            problems.append(f'"version" must be 1 or {VERSION}, not {version!r}')
    if "name" in data and not isinstance(data["name"], str):
        problems.append('"name" must be a string')
    v2 = version == VERSION
    defs = data.get("definitions", [])
    if "definitions" in data and not v2:
        problems.append('"definitions" need "version": 2')
    composites: dict[str, int] = {}  # name → number of inputs
    if not isinstance(defs, list):
        problems.append('"definitions" must be a list')
        defs = []
    for i, d in enumerate(defs):
        problems += _check_definition(i, d, composites, defs, v2)
    if not problems:
        problems += _check_definition_cycles(defs)
    unknown = set(data) - {"format", "version", "name", "nodes", "edges", "definitions"}
    if unknown:
        problems.append(f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    return problems + _check_body("", data.get("nodes"), data.get("edges", []), composites, v2)


def _check_body(where: str, nodes: Any, edges: Any, composites: dict[str, int],
                v2: bool) -> list[str]:
    problems = []
    if not isinstance(nodes, list):
        problems.append(f'{where}"nodes" must be a list')
        nodes = []
    if not isinstance(edges, list):
        problems.append(f'{where}"edges" must be a list')
        edges = []
    types: dict[str, str] = {}
    for i, n in enumerate(nodes):
        problems += [where + p for p in _check_node(i, n, types, composites, v2)]
    taken: dict[tuple[str, int], int] = {}
    pairs: set[tuple[str, str]] = set()
    for i, e in enumerate(edges):
        problems += [where + p for p in _check_edge(i, e, types, taken, pairs, composites)]
    if not problems:
        problems += [where + p for p in _check_acyclic(edges)]
    return problems


def _check_definition(i: int, d: Any, composites: dict[str, int], all_defs: list,
                      v2: bool) -> list[str]:
    from .graph.composite import MAX_REPEAT, check_color  # noqa: F401
    where = f"definitions[{i}]"
    if not isinstance(d, dict):
        return [f"{where}: must be an object"]
    name = d.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        return [f"{where}: \"name\" must be a non-empty string of at most 100 characters"]
    where = f"{where} ({name})"
    out = []
    if name in REGISTRY or name in composites:
        out.append(f"{where}: the name {name!r} is already taken")
    if "color" in d and not check_color(d["color"]):
        out.append(f"{where}: \"color\" must look like #rrggbb")
    if "doc" in d and not isinstance(d["doc"], str):
        out.append(f"{where}: \"doc\" must be a string")
    inputs = d.get("inputs")
    others = {e.get("name"): len(e.get("inputs") or []) for e in all_defs
              if isinstance(e, dict) and isinstance(e.get("name"), str)}
    out += _check_body(f"{where}: ", d.get("nodes"), d.get("edges", []), others, v2)
    ids = {n.get("id"): n.get("type") for n in d.get("nodes") or [] if isinstance(n, dict)}
    if not isinstance(inputs, list) or not inputs or any(ids.get(x) != "Input" for x in inputs):
        out.append(f"{where}: \"inputs\" must list its Input nodes (one per input port)")
    elif len(set(inputs)) != len(inputs) or len(inputs) != sum(
            1 for t in ids.values() if t == "Input"):
        out.append(f"{where}: \"inputs\" must list each of its Input nodes once")
    exposed = d.get("exposed", [])
    if not isinstance(exposed, list):
        out.append(f"{where}: \"exposed\" must be a list")
        exposed = []
    for j, e in enumerate(exposed):
        if (not isinstance(e, dict) or not isinstance(e.get("name"), str)
                or not e["name"].isidentifier() or e.get("node") not in ids
                or not isinstance(e.get("param"), str)):
            out.append(f"{where}: exposed[{j}] must be {{name, node, param}} naming a node inside")
            continue
        t = ids[e["node"]]
        if t in REGISTRY and e["param"] not in get_spec(t).param_map:
            out.append(f"{where}: exposed[{j}]: {t} has no parameter {e['param']!r}")
    unknown = set(d) - {"name", "color", "doc", "inputs", "exposed", "nodes", "edges"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    composites[name] = len(inputs) if isinstance(inputs, list) else 1
    return out


def _check_definition_cycles(defs: list[dict]) -> list[str]:
    import networkx as nx
    names = {d["name"] for d in defs}
    g = nx.DiGraph()
    for d in defs:
        for n in d["nodes"]:
            if n["type"] in names:
                g.add_edge(d["name"], n["type"])
    try:
        cycle = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return []
    path = " → ".join([u for u, _ in cycle] + [cycle[0][0]])
    return [f"definitions: a block contains itself: {path}"]


def _check_node(i: int, n: Any, types: dict[str, str], composites: dict[str, int],
                v2: bool) -> list[str]:
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
    if t in composites:
        params = n.get("params", {})
        if not isinstance(params, dict):
            out.append(f"{where}: \"params\" must be an object")
    elif t not in REGISTRY:
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
    if "repeat" in n:
        r = n["repeat"]
        if not v2:
            out.append(f"{where}: \"repeat\" needs \"version\": 2")
        elif not isinstance(r, int) or isinstance(r, bool) or not 1 <= r <= 64:
            out.append(f"{where}: \"repeat\" must be a whole number 1..64, not {r!r}")
    unknown = set(n) - {"id", "type", "params", "label", "pos", "repeat"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    if isinstance(nid, str) and nid and nid not in types:
        types[nid] = t if (t in REGISTRY or t in composites) else ""
    return out


def _check_edge(i, e, types, taken, pairs, composites) -> list[str]:
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
    if ttype in composites:
        if port >= composites[ttype]:
            out.append(f"{where}: {t} ({ttype}) has {composites[ttype]} input(s), no port {port}")
    elif ttype:
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
    try:
        graph.load_dict(data)
    except GraphError as exc:  # what only the model can judge: composite params, repeats
        raise ProjectError([str(exc)], path) from None
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
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def atomic_write(path: Path, write) -> Path:
    """Write a file through `write(binary_file)` so that a crash leaves the old file whole:
    a temporary file beside it, flushed to disk, then renamed over it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _default_file_mode())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _default_file_mode() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
