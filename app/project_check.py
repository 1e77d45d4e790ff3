"""Checking a parsed project dict: every value's type and range, before anything uses it.

A project file is untrusted data. Each check here looks at a value's type before it hashes,
compares or counts it, so a hostile file (a list where an id belongs, a 400-digit integer,
a lone surrogate) gets a message saying where it is, never a traceback. Every walk is
iterative or bounded by MAX_NESTING, so no file can exhaust the stack.
"""
from __future__ import annotations

import difflib
import json
from typing import Any

from blocks import REGISTRY, get_spec
from blocks.spec import shared_kind

from .graph.composite import MAX_REPEAT, check_color
from .graph.cost import MAX_NESTING, block_count, nesting_depth
from .graph.cycles import describe_cycle, find_cycle
from .textsafe import encodable

FORMAT = "netcanvas"
VERSION = 2  # v2 adds composite definitions and repeat; v1 files open unchanged
MAX_ID = 200  # characters in a node id
MAX_TEXT = 10_000  # characters in a label, name or doc
MAX_DEFINITIONS = 1000


def check_project(data: Any) -> list[str]:
    """Every problem with a parsed project dict, each saying where it is."""
    if not isinstance(data, dict):
        return ["the file must hold a JSON object"]
    bad_text = unencodable_strings(data)
    if bad_text:  # refused first: any later message quoting such a string could not print
        return bad_text
    problems = []
    if data.get("format") != FORMAT:
        problems.append(f'"format" must be "{FORMAT}", not {_show(data.get("format"))}')
    version = data.get("version")
    if not _is_int(version) or version not in (1, VERSION):
        if _is_int(version) and version > VERSION:
            problems.append(f"the file is format version {_show(version)}, made by a newer "
                            f"NetCanvas; this one reads version {VERSION} — update NetCanvas "
                            f"to open it")
        else:
            problems.append(f'"version" must be 1 or {VERSION}, not {_show(version)}')
    if "name" in data:
        problems += _text_problem('"name"', data["name"])
    v2 = version == VERSION
    defs = data.get("definitions", [])
    if "definitions" in data and not v2:
        problems.append('"definitions" need "version": 2')
    if not isinstance(defs, list):
        problems.append(f'"definitions" must be a list, not {_show(defs)}')
        defs = []
    if len(defs) > MAX_DEFINITIONS:
        return problems + [f'"definitions": {len(defs)} blocks; at most {MAX_DEFINITIONS}']
    composites = _definition_arities(defs)
    exposed_names = _exposed_names(defs)
    seen: set[str] = set()
    for i, d in enumerate(defs):
        problems += _check_definition(i, d, composites, exposed_names, seen, v2)
    if not problems:
        problems += _check_definition_cycles(defs)
    unknown = set(data) - {"format", "version", "name", "nodes", "edges", "definitions"}
    if unknown:
        problems.append(f"unknown field(s) {', '.join(sorted(unknown))}")
    problems += _check_body("", data.get("nodes"), data.get("edges", []), composites, v2)
    if not problems and defs:
        problems += _check_nesting(data, defs)
    return problems


def normalised(data: dict[str, Any]) -> dict[str, Any]:
    """A checked project with the omitted optional lists filled in ("edges": [] …)."""
    out = dict(data, edges=data.get("edges", []))
    if "definitions" in data:
        out["definitions"] = [dict(d, edges=d.get("edges", []), exposed=d.get("exposed", []))
                              for d in data["definitions"]]
    return out


def unencodable_strings(data: Any) -> list[str]:
    """Where the data holds text that UTF-8 cannot encode (lone surrogates from `\\ud800`
    escapes): such text could be neither printed nor saved, so it is refused at load."""
    if _all_encodable(data):  # the common case, in one C pass: no paths worth composing
        return []
    found, todo = [], [(data, "")]
    while todo and len(found) < 10:
        value, where = todo.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                todo.append((k, f"{where} (a key)"))
                todo.append((v, f"{where}.{_ascii(k)}" if where else _ascii(k)))
        elif isinstance(value, list):
            todo += [(v, f"{where}[{i}]") for i, v in enumerate(value)]
        elif isinstance(value, str) and not encodable(value):
            found.append(f"{where or 'the file'}: text that is not valid Unicode "
                         f"({ascii(value)[:60]}) — a lone surrogate such as \\ud800")
    return found


def _all_encodable(data: Any) -> bool:
    """True when every string in data (keys too) encodes as UTF-8; False when one does not
    or when data is not plain JSON (then the walk above looks at it piece by piece)."""
    try:
        json.dumps(data, ensure_ascii=False, check_circular=False).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return False
    return True


def close_types(name: Any, composites: dict[str, int]) -> str:
    """' — did you mean Conv2d?' for a misspelt type, else ''."""
    if not isinstance(name, str):
        return ""
    known = list(REGISTRY) + list(composites)
    by_lower = {k.lower(): k for k in known}
    if name.lower() in by_lower:
        return f" — did you mean {by_lower[name.lower()]}?"
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.75)
    return f" — did you mean {' or '.join(close)}?" if close else ""


def _definition_arities(defs: list) -> dict[str, int]:
    """name → number of input ports, for every definition with a usable name."""
    out = {}
    for d in defs:
        if isinstance(d, dict) and isinstance(d.get("name"), str):
            inputs = d.get("inputs")
            out.setdefault(d["name"], len(inputs) if isinstance(inputs, list) else 1)
    return out


def _exposed_names(defs: list) -> dict[str, set[str]]:
    """name → the parameter names its instances take."""
    out: dict[str, set[str]] = {}
    for d in defs:
        if isinstance(d, dict) and isinstance(d.get("name"), str):
            exposed = d.get("exposed", [])
            out.setdefault(d["name"], {e["name"] for e in exposed if isinstance(e, dict)
                                       and isinstance(e.get("name"), str)}
                           if isinstance(exposed, list) else set())
    return out


def _check_body(where: str, nodes: Any, edges: Any, composites: dict[str, int],
                v2: bool) -> list[str]:
    problems = []
    if not isinstance(nodes, list):
        problems.append(f'{where}"nodes" must be a list, not {_show(nodes)}')
        nodes = []
    if not isinstance(edges, list):
        problems.append(f'{where}"edges" must be a list, not {_show(edges)}')
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


def _check_definition(i: int, d: Any, composites: dict[str, int],
                      exposed_names: dict[str, set[str]], seen: set[str], v2: bool) -> list[str]:
    where = f"definitions[{i}]"
    if not isinstance(d, dict):
        return [f"{where}: must be an object, not {_show(d)}"]
    name = d.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        return [f"{where}: \"name\" must be a non-empty string of at most 100 characters, "
                f"not {_show(name)}"]
    where = f"{where} ({name})"
    out = []
    if name in REGISTRY:
        out.append(f"{where}: the name {name!r} is already taken by a catalogue block")
    elif name in seen:
        out.append(f"{where}: the name {name!r} is already taken")
    seen.add(name)
    if "color" in d and not check_color(d["color"]):
        out.append(f"{where}: \"color\" must look like #rrggbb, not {_show(d['color'])}")
    if "doc" in d:
        out += [f"{where}: {p}" for p in _text_problem('"doc"', d["doc"])]
    nodes = d.get("nodes")
    out += _check_body(f"{where}: ", nodes, d.get("edges", []), composites, v2)
    ids = {n["id"]: n.get("type") for n in nodes if isinstance(n, dict)
           and isinstance(n.get("id"), str)} if isinstance(nodes, list) else {}
    inputs = d.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
        out.append(f"{where}: \"inputs\" must be a list of node ids, not {_show(inputs)}")
    elif not inputs or any(ids.get(x) != "Input" for x in inputs):
        out.append(f"{where}: \"inputs\" must list its Input nodes (one per input port)")
    elif len(set(inputs)) != len(inputs) or len(inputs) != sum(
            1 for t in ids.values() if t == "Input"):
        out.append(f"{where}: \"inputs\" must list each of its Input nodes once")
    out += _check_exposed(where, d.get("exposed", []), ids, exposed_names)
    unknown = set(d) - {"name", "color", "doc", "inputs", "exposed", "nodes", "edges"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return out


def _check_exposed(where: str, exposed: Any, ids: dict[str, Any],
                   exposed_names: dict[str, set[str]]) -> list[str]:
    if not isinstance(exposed, list):
        return [f"{where}: \"exposed\" must be a list, not {_show(exposed)}"]
    out = []
    kinds: dict[str, tuple[str, str, str]] = {}  # exposed name → (kind, node, param)
    for j, e in enumerate(exposed):
        if (not isinstance(e, dict) or not isinstance(e.get("name"), str)
                or not e["name"].isidentifier() or not isinstance(e.get("node"), str)
                or e["node"] not in ids or not isinstance(e.get("param"), str)):
            out.append(f"{where}: exposed[{j}] must be {{name, node, param}} naming a node inside")
            continue
        t = ids[e["node"]]
        if not isinstance(t, str):
            continue  # the node's wrong type is reported where the node is
        if t in REGISTRY:
            p = get_spec(t).param_map.get(e["param"])
            if p is None:
                out.append(f"{where}: exposed[{j}]: {t} has no parameter {e['param']!r}")
                continue
            kind = p.kind
        elif t in exposed_names:
            if e["param"] not in exposed_names[t]:
                known = ", ".join(sorted(exposed_names[t])) or "none"
                out.append(f"{where}: exposed[{j}]: block {t} has no parameter "
                           f"{e['param']!r} (it has: {known})")
                continue
            kind = "?"  # an inner block's own exposed parameter: its kind is checked there
        else:
            continue  # the node's unknown type is reported where the node is
        earlier = kinds.setdefault(e["name"], (kind, e["node"], e["param"]))
        if "?" not in (kind, earlier[0]) and shared_kind(earlier[0], kind) is None:
            out.append(f"{where}: exposed[{j}]: {e['name']!r} is bound to {earlier[2]} of "
                       f"{earlier[1]} ({earlier[0]}) and to {e['param']} of {e['node']} "
                       f"({kind}); one name can only set parameters of one kind")
    return out


def _check_definition_cycles(defs: list[dict]) -> list[str]:
    names = {d["name"] for d in defs}
    cycle = find_cycle((d["name"], n["type"]) for d in defs for n in d["nodes"]
                       if n["type"] in names)
    if cycle is None:
        return []
    return [f"definitions: a block contains itself: {describe_cycle(cycle)}"]


def _check_nesting(data: dict, defs: list[dict]) -> list[str]:
    bodies = {d["name"]: [(n["type"], n.get("repeat", 1)) for n in d["nodes"]] for d in defs}
    top = [(n["type"], n.get("repeat", 1)) for n in data["nodes"]]
    depth, path = nesting_depth(top, bodies)
    if depth > MAX_NESTING:
        return [f"definitions: blocks are nested {depth} deep ({' ▸ '.join(path[:6])}"
                f"{' ▸ …' if len(path) > 6 else ''}); NetCanvas allows at most {MAX_NESTING} "
                f"levels — ungroup some of them"]
    return []


def modules_after_expansion(data: dict) -> int:
    """Blocks the compiled network would hold (repeats and nesting multiplied out)."""
    defs = data.get("definitions", [])
    bodies = {d["name"]: [(n["type"], n.get("repeat", 1)) for n in d["nodes"]] for d in defs}
    return block_count([(n["type"], n.get("repeat", 1)) for n in data["nodes"]], bodies)


def _check_node(i: int, n: Any, types: dict[str, str], composites: dict[str, int],
                v2: bool) -> list[str]:
    where = f"nodes[{i}]"
    if not isinstance(n, dict):
        return [f"{where}: must be an object, not {_show(n)}"]
    out = []
    nid = n.get("id")
    if not isinstance(nid, str) or not nid or len(nid) > MAX_ID:
        out.append(f"{where}: \"id\" must be a non-empty string of at most {MAX_ID} "
                   f"characters, not {_show(nid)}")
        nid = None
    elif nid in types:
        out.append(f"{where}: duplicate id {nid!r}")
        nid = None
    else:
        where = f"{where} ({nid})"
    t = n.get("type")
    params = n.get("params", {})
    if not isinstance(t, str):
        out.append(f"{where}: \"type\" must be a block name, not {_show(t)}")
        t = None
    elif t not in REGISTRY and t not in composites:
        out.append(f"{where}: unknown block type {t!r}{close_types(t, composites)}")
        t = None
    if not isinstance(params, dict):
        out.append(f"{where}: \"params\" must be an object, not {_show(params)}")
    elif t in REGISTRY:
        _, errs = get_spec(t).resolve(params)
        out += [f"{where}: {e}" for e in errs]
    if "label" in n:
        out += [f"{where}: {p}" for p in _text_problem('"label"', n["label"])]
    pos = n.get("pos", [0, 0])
    if (not isinstance(pos, list) or len(pos) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                       and abs(v) < 1e9 for v in pos)):
        out.append(f"{where}: \"pos\" must be [x, y] numbers, not {_show(pos)}")
    if "repeat" in n:
        r = n["repeat"]
        if not v2:
            out.append(f"{where}: \"repeat\" needs \"version\": 2")
        elif not _is_int(r) or not 1 <= r <= MAX_REPEAT:
            out.append(f"{where}: \"repeat\" must be a whole number 1..{MAX_REPEAT}, "
                       f"not {_show(r)}")
    unknown = set(n) - {"id", "type", "params", "label", "pos", "repeat"}
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if nid is not None:
        types[nid] = t or ""
    return out


_EDGE_FIELDS = frozenset({"source", "target", "port"})


def _check_edge(i, e, types, taken, pairs, composites) -> list[str]:
    # The messages name the edge; they are composed only for an edge that has a problem
    # (composing them for every edge was most of checking a 10,000-node file's edges).
    if not isinstance(e, dict):
        return [f"edges[{i}]: must be an object, not {_show(e)}"]
    s, t, port = e.get("source"), e.get("target"), e.get("port", 0)
    if not (isinstance(s, str) and s in types and isinstance(t, str) and t in types
            and _is_int(port) and 0 <= port < 4096 and _EDGE_FIELDS.issuperset(e)):
        return _edge_field_problems(f"edges[{i}]", e, s, t, port, types)
    out = []
    ttype = types[t]
    if ttype in composites:
        if port >= composites[ttype]:
            out.append(f"{_edge(i, s, t)}: {t} ({ttype}) has {composites[ttype]} input(s), "
                       f"no port {port}")
    elif ttype:
        spec = get_spec(ttype)
        if spec.inputs == "none":
            out.append(f"{_edge(i, s, t)}: {t} is an Input and takes no incoming edge")
        elif spec.inputs == "one" and port != 0:
            out.append(f"{_edge(i, s, t)}: {t} ({ttype}) has a single input, port 0, not {port}")
    if s == t:
        out.append(f"{_edge(i, s, t)}: a node cannot feed itself")
    if (s, t) in pairs:
        out.append(f"{_edge(i, s, t)}: {s} is connected to {t} twice")
    pairs.add((s, t))
    if (t, port) in taken:
        out.append(f"{_edge(i, s, t)}: input port {port} of {t} already has an edge "
                   f"(edges[{taken[t, port]}])")
    taken.setdefault((t, port), i)
    return out


def _edge(i, s, t) -> str:
    return f"edges[{i}] ({s} → {t})"


def _edge_field_problems(where, e, s, t, port, types) -> list[str]:
    out = []
    for key, v in (("source", s), ("target", t)):
        if not isinstance(v, str) or v not in types:
            out.append(f"{where}: {key} {_show(v)} is not a node in this file")
    if not _is_int(port) or not 0 <= port < 4096:
        out.append(f"{where}: port must be a whole number 0..4095, not {_show(port)}")
    unknown = set(e) - _EDGE_FIELDS
    if unknown:
        out.append(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return out


def _check_acyclic(edges: list[dict]) -> list[str]:
    cycle = find_cycle((e["source"], e["target"]) for e in edges)
    if cycle is None:
        return []
    return [f"edges: the graph has a cycle: {describe_cycle(cycle)}"]


def _text_problem(what: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{what} must be a string, not {_show(value)}"]
    if len(value) > MAX_TEXT:
        return [f"{what} is {len(value):,} characters long; at most {MAX_TEXT:,}"]
    return []


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _show(value: Any) -> str:
    """A short repr for messages: a 400-digit number or a huge list is cut, not printed."""
    if _is_int(value) and abs(value) > 10 ** 12:
        return f"a {len(str(abs(value)))}-digit number"
    s = repr(value)
    return s if len(s) <= 40 else s[:37] + "..."


def _ascii(key: str) -> str:
    return key if encodable(key) else ascii(key)
