"""A seeded generator of hostile project files, for the fuzz test and for hunting by hand.

Each case is a small, valid seed project (v1 and v2: blocks, definitions, exposed
parameters, repeats) with one to three mutations: a value replaced by a nasty one (wrong
type, huge integer, lone surrogate, control characters, deep nesting), a key dropped or
added, an entry duplicated, an edge reversed, a type misspelt. Mutating small dicts keeps
a case at a few milliseconds, so 10,000 of them fit in CI's time.

Run it directly to print the crashes: `python tests/fuzz_projects.py [N] [SEED]`.
"""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from blocks import REGISTRY

ROOT = Path(__file__).resolve().parents[1]

NASTY = [None, True, False, 0, -1, 1, 2, 5, 64, 65, 4096, 10 ** 400, -10 ** 30, 1e308, 0.5,
         -0.0, "", " ", "x", "same", "valid", "relu", "Input", "Conv2d", "n1", "\ud800",
         "\x1b]0;owned\x07\x1b[31m", "a\nb", "é" * 3, "#zzzzzz", "#123456", [], [1], [3, 32, 32],
         [1, 2], ["n1"], [[[]]], {}, {"a": 1}, {"id": "n1"}, list(range(5))]

TYPES = ["Input", "Conv2d", "Conv2dd", "conv2d", "Linear", "Flatten", "Add", "Concat",
         "MaxPool2d", "GlobalAvgPool", "BatchNorm", "Dropout", "VGGBlock", "DenseBlock",
         "Residual", "Stage", "Inner", "Nope"]


def seeds() -> list[dict]:
    """Small valid projects covering what the format has."""
    v1 = {"format": "netcanvas", "version": 1, "name": "seed",
          "nodes": [{"id": "n1", "type": "Input", "params": {"shape": [3, 16, 16]}, "pos": [0, 0]},
                    {"id": "n2", "type": "Conv2d", "params": {"filters": 8, "kernel_size": 3},
                     "label": "c", "pos": [1, 0]},
                    {"id": "n3", "type": "Conv2d", "params": {"filters": 8}, "pos": [2, 0]},
                    {"id": "n4", "type": "Add", "params": {}, "pos": [3, 0]},
                    {"id": "n5", "type": "GlobalAvgPool", "params": {}, "pos": [4, 0]},
                    {"id": "n6", "type": "Linear", "params": {"units": 10}, "pos": [5, 0]}],
          "edges": [{"source": "n1", "target": "n2", "port": 0},
                    {"source": "n2", "target": "n3", "port": 0},
                    {"source": "n2", "target": "n4", "port": 0},
                    {"source": "n3", "target": "n4", "port": 1},
                    {"source": "n4", "target": "n5"},
                    {"source": "n5", "target": "n6"}]}
    v2 = {"format": "netcanvas", "version": 2, "name": "seed2",
          "definitions": [
              {"name": "Inner", "color": "#336699", "doc": "conv pair", "inputs": ["a"],
               "exposed": [{"name": "filters", "node": "b", "param": "filters"}],
               "nodes": [{"id": "a", "type": "Input", "params": {"shape": [8, 8, 8]}},
                         {"id": "b", "type": "Conv2d", "params": {"filters": 8}},
                         {"id": "c", "type": "BatchNorm", "params": {}}],
               "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "c"}]},
              {"name": "Stage", "inputs": ["x"],
               "exposed": [{"name": "width", "node": "i", "param": "filters"}],
               "nodes": [{"id": "x", "type": "Input", "params": {"shape": [8, 8, 8]}},
                         {"id": "i", "type": "Inner", "params": {"filters": 16}},
                         {"id": "p", "type": "MaxPool2d", "params": {}}],
               "edges": [{"source": "x", "target": "i"}, {"source": "i", "target": "p"}]}],
          "nodes": [{"id": "n1", "type": "Input", "params": {"shape": [3, 32, 32]}},
                    {"id": "n2", "type": "Conv2d", "params": {"filters": 8}},
                    {"id": "n3", "type": "Stage", "params": {"width": 8}, "repeat": 2},
                    {"id": "n4", "type": "Flatten", "params": {}},
                    {"id": "n5", "type": "Linear", "params": {"units": 10}}],
          "edges": [{"source": "n1", "target": "n2"}, {"source": "n2", "target": "n3"},
                    {"source": "n3", "target": "n4"}, {"source": "n4", "target": "n5"}]}
    hybrid = json.loads((ROOT / "resources/templates/hybrid.json").read_text())
    return [v1, v2, hybrid]


def _containers(obj):
    """Every (container, key) pair inside obj, iteratively."""
    out, todo = [], [obj]
    while todo:
        c = todo.pop()
        keys = list(c) if isinstance(c, dict) else range(len(c))
        for k in keys:
            out.append((c, k))
            if isinstance(c[k], (dict, list)):
                todo.append(c[k])
    return out


BENIGN_PARAMS = {"filters": [4, 16], "units": [3, 10], "kernel_size": [1, 3, 5, [1, 3]],
                 "stride": [1, 2], "padding": ["same", "valid", 1], "rate": [0.1, 0.5],
                 "width": [4, 12], "shape": [[3, 16, 16], [1, 8, 8], [12]]}


def _benign(d: dict, rng: random.Random) -> None:
    """An edit a user could make: most keep the file loadable (errors in the graph allowed)."""
    nodes = [n for n in _containers(d) if isinstance(n[0][n[1]], dict)
             and "type" in n[0][n[1]]]
    if not nodes:
        return
    c, k = rng.choice(nodes)
    node = c[k]
    op = rng.random()
    spec = REGISTRY.get(node.get("type")) if isinstance(node.get("type"), str) else None
    names = [p for p in BENIGN_PARAMS if spec is None or p in spec.param_map]
    if op < 0.5 and isinstance(node.get("params"), dict) and names:
        name = rng.choice(names)
        node["params"][name] = copy.deepcopy(rng.choice(BENIGN_PARAMS[name]))
    elif op < 0.65:
        node["label"] = rng.choice(["a", "x\x1b[31m", "é", "\u202eevil", ""])
    elif op < 0.8 and d.get("version") == 2:
        node["repeat"] = rng.choice([1, 2, 3])
    elif op < 0.9 and isinstance(c, list) and len(c) > 1:
        gone = c.pop(k).get("id")
        for edges in [x for x in _containers(d) if x[1] == "edges"]:
            edges[0]["edges"] = [e for e in edges[0]["edges"]
                                 if gone not in (e.get("source"), e.get("target"))]
    else:
        node["type"] = rng.choice(["Dropout", "BatchNorm", "Conv2d", "Flatten", "Linear"])


def mutate(data: dict, rng: random.Random) -> dict:
    d = copy.deepcopy(data)
    if rng.random() < 0.4:
        for _ in range(rng.randint(1, 2)):
            _benign(d, rng)
        return d
    for _ in range(rng.randint(1, 3)):
        spots = _containers(d)
        if not spots:
            break
        c, k = rng.choice(spots)
        op = rng.random()
        if op < 0.45:
            c[k] = copy.deepcopy(rng.choice(NASTY))
        elif op < 0.55:
            del c[k]
        elif op < 0.62 and isinstance(c, dict):
            c[rng.choice(["repeat", "label", "params", "port", "exposed", "inputs", "extra",
                          "edges", "definitions", "color", "doc"])] = copy.deepcopy(
                rng.choice(NASTY + [3, 64, 65]))
        elif op < 0.70 and isinstance(c, list):
            c.append(copy.deepcopy(c[k]))
        elif op < 0.80 and isinstance(c, dict) and {"source", "target"} <= set(c):
            c["source"], c["target"] = c["target"], c["source"]
        elif op < 0.90 and isinstance(c, dict) and "type" in c:
            c["type"] = rng.choice(TYPES)
        elif isinstance(c, dict) and "params" in c and isinstance(c["params"], dict):
            c["params"][rng.choice(["filters", "units", "kernel_size", "stride", "padding",
                                    "shape", "width", "layers", "growth", "rate"])] = \
                copy.deepcopy(rng.choice(NASTY + [8, 3, 2, 8000]))
        else:
            c[k] = copy.deepcopy(rng.choice(NASTY))
    return d


def cases(n: int, seed: int = 0):
    rng = random.Random(seed)
    base = seeds()
    for _ in range(n):
        yield mutate(rng.choice(base), rng)


def run_case(data: dict, export_python: bool = False) -> str:
    """'refused', 'has errors' (loaded; the graph reports problems), 'valid' or 'exported'
    (valid, and the Python export ran); any exception is a crash and propagates."""
    from app.project import ProjectError, project_from_dict
    from app.summary import summary_dict, summary_text

    try:
        graph = project_from_dict(data)
    except ProjectError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        str(exc).encode("utf-8")  # the message itself must be printable
        return "refused"
    from app.cli import all_problems
    problems = all_problems(graph)
    summary_text(graph).encode("utf-8")
    json.dumps(summary_dict(graph)).encode("utf-8")
    if problems:
        return "has errors"
    if export_python:
        from app.export.python_source import python_source
        compile(python_source(graph), "<export>", "exec")  # compiled, never run
        return "exported"
    return "valid"


if __name__ == "__main__":
    import collections
    import sys
    import time
    import traceback

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    counts: collections.Counter = collections.Counter()
    sites: dict = {}
    t = time.perf_counter()
    for i, case in enumerate(cases(n, seed)):
        try:
            counts[run_case(case, export_python=i % 10 == 0)] += 1
        except Exception as exc:
            counts["crash"] += 1
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            key = (type(exc).__name__, tb.filename.split("/")[-1], tb.lineno)
            sites.setdefault(key, json.dumps(case)[:600])
    print(dict(counts), f"{time.perf_counter() - t:.1f} s")
    for k, v in sites.items():
        print(k, v, "\n")
