"""Validation speed, each figure beside its baseline measured in the same run.

Run: python benchmarks/bench_validation.py [--quick]
The baseline is the meta-device measurement (app/graph/oracle.py: each block built by
torch on the meta device and run under FlopCounterMode), which is how NetCanvas measured
nodes before the torch-free rules; the figure is the same work with the rules
(blocks/rules.py). Both start each cold run from empty caches. Graphs are generated like
real CNNs: stages of blocks with skip connections (Add) and branches (Concat), filter
counts from the usual set; "all distinct" is the worst case, where no two nodes share a
configuration. Also: a 10,000-node chain whose edges are listed target-first, nested
composite blocks 50 and 200 deep, and one parameter edit on a 10,000-node graph.
Times are wall clock, best of N (the minimum is the least disturbed by other processes).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.graph.analysis as analysis  # noqa: E402
from app.graph import NetGraph  # noqa: E402
from app.graph.analysis import clear_cache  # noqa: E402
from app.graph.cost import MAX_NESTING  # noqa: E402
from app.graph.oracle import meta_stats  # noqa: E402
from app.project import ProjectError, project_from_dict  # noqa: E402

FILTERS = [16, 32, 64, 128]


def cnn_graph(n_nodes: int, seed: int = 0, distinct: bool = False) -> NetGraph:
    r = random.Random(seed)
    g = NetGraph(f"bench {n_nodes}")
    last = g.add_node("Input", {"shape": [3, 32, 32]})
    count = 1
    width = 0
    with g.batch():
        while count < n_nodes:
            width += 1
            f = (8 + width % 997) if distinct else r.choice(FILTERS)
            kind = r.random()
            if kind < 0.5:  # conv pair with a skip connection
                a = g.add_node("Conv2d", {"filters": f, "batch_norm": True})
                b = g.add_node("Conv2d", {"filters": f, "batch_norm": True, "activation": "none"})
                proj = g.add_node("Conv2d", {"filters": f, "kernel_size": 1})
                add = g.add_node("Add")
                g.connect(last, a)
                g.connect(a, b)
                g.connect(last, proj)
                g.connect(b, add)
                g.connect(proj, add)
                last, count = add, count + 4
            elif kind < 0.8:  # a block
                t = r.choice(["VGGBlock", "Residual", "Bottleneck", "Inception", "SqueezeExcite"])
                params = {"VGGBlock": {"filters": f}, "Residual": {"filters": f},
                          "Bottleneck": {"filters": max(1, f // 4)},
                          "Inception": {"f1": f, "f3": f}, "SqueezeExcite": {}}[t]
                if t == "VGGBlock":  # keep the map from shrinking away: pool, then upsample
                    n = g.add_node(t, params)
                    up = g.add_node("ConvTranspose2d", {"filters": f})
                    g.connect(last, n)
                    g.connect(n, up)
                    last, count = up, count + 2
                    continue
                n = g.add_node(t, params)
                g.connect(last, n)
                last, count = n, count + 1
            else:  # two branches concatenated
                a = g.add_node("Conv2d", {"filters": f, "kernel_size": 1})
                b = g.add_node("DepthwiseSeparableConv", {"filters": f})
                cat = g.add_node("Concat")
                g.connect(last, a)
                g.connect(last, b)
                g.connect(a, cat)
                g.connect(b, cat)
                last, count = cat, count + 3
        head = g.add_node("GlobalAvgPool")
        g.connect(last, head)
        out = g.add_node("Linear", {"units": 10})
        g.connect(head, out)
    return g


@contextlib.contextmanager
def measured_by(measure):
    """Measure blocks with `measure` (the rules, or the meta-device baseline), from empty
    caches."""
    saved = analysis._measure
    analysis._measure = measure
    clear_cache()
    try:
        yield
    finally:
        analysis._measure = saved
        clear_cache()


RULES, META = analysis._measure, meta_stats


CPU: list[float] = []  # the CPU time of the last best() run, beside its wall time


def best(fn, repeat: int, setup=None) -> float:
    """Best wall time of `repeat` runs of fn (setup, untimed, before each); the CPU time of
    that run goes to CPU[0] (on a busy machine it leaves out the waiting for a core)."""
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        c = time.process_time()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(times)
    CPU[:] = [cpu]
    return wall


def ms(t: float) -> str:
    return f"{t * 1000:8.2f} ms" if t < 0.1 else f"{t * 1000:8.0f} ms"


def row(what: str, ours: float, base: float, goal: str = "", cpu: float | None = None) -> None:
    ratio = base / ours if ours else float("inf")
    cpu_note = f" (CPU {ms(cpu).strip()})" if cpu is not None else ""
    print(f"  {what:<56} {ms(ours)}{cpu_note:<16} baseline {ms(base)}  {ratio:6.1f}× faster"
          + (f"   goal {goal}" if goal else ""))


def compare(what, fn, repeat, goal="", base_repeat=None, setup=None) -> None:
    """The same work measured by the rules and by the meta-device baseline."""
    with measured_by(RULES):
        ours = best(fn, repeat, setup)
        cpu = CPU[0]
    with measured_by(META):
        base = best(fn, base_repeat or repeat, setup)
    row(what, ours, base, goal, cpu)


# --- generated graphs ------------------------------------------------------------------------

def reversed_chain(n: int) -> dict:
    """A project dict: Input → (n−1) blocks in a row, edges listed target-first."""
    kinds = [("Conv2d", {"filters": 16}), ("BatchNorm", {}), ("Activation", {"function": "relu"})]
    nodes = [{"id": "n1", "type": "Input", "params": {"shape": [16, 32, 32]}}]
    for i in range(2, n + 1):
        t, p = kinds[i % len(kinds)]
        nodes.append({"id": f"n{i}", "type": t, "params": p})
    edges = [{"source": f"n{i - 1}", "target": f"n{i}", "port": 0} for i in range(n, 1, -1)]
    return {"format": "netcanvas", "version": 1, "name": f"chain {n}", "nodes": nodes,
            "edges": edges}


def nested_project(depth: int) -> dict:
    """Input → L{depth-1}: L0 holds a Conv2d, each L{k} holds an L{k-1} and a Conv2d."""
    defs = []
    inner = None
    for k in range(depth):
        nodes = [{"id": "i", "type": "Input", "params": {"shape": [8, 16, 16]}},
                 {"id": "c", "type": "Conv2d", "params": {"filters": 8}}]
        edges = [{"source": "i", "target": "c", "port": 0}]
        if inner:
            nodes.append({"id": "b", "type": inner, "params": {}})
            edges.append({"source": "c", "target": "b", "port": 0})
        defs.append({"name": f"L{k}", "inputs": ["i"], "exposed": [], "nodes": nodes,
                     "edges": edges})
        inner = f"L{k}"
    return {"format": "netcanvas", "version": 2, "name": f"nested {depth}", "definitions": defs,
            "nodes": [{"id": "n1", "type": "Input", "params": {"shape": [8, 16, 16]}},
                      {"id": "n2", "type": inner, "params": {}}],
            "edges": [{"source": "n1", "target": "n2", "port": 0}]}


def file_load_time(data: dict, limit: float = 30.0) -> str:
    """load_project on `data` saved as a file, in a fresh process given `limit` seconds
    (the project loader's own checks are part of this figure)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "chain.json"
        path.write_text(json.dumps(data))
        code = ("import sys, time\nfrom app.project import load_project\n"
                "t = time.perf_counter()\nload_project(sys.argv[1])\n"
                "print(time.perf_counter() - t)")
        try:
            out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                                 text=True, timeout=limit, check=True,
                                 cwd=Path(__file__).resolve().parents[1]).stdout
        except subprocess.TimeoutExpired:
            return f"more than {limit:.0f} s (stopped)"
    return ms(float(out))


def revalidate_all(g: NetGraph) -> None:
    """Validate every node of a built graph from nothing (what the batch that built it did
    at its end), leaving out the add_node/connect calls themselves."""
    g.info.clear()
    g._faulty.clear()
    g._dirty.update(g.g.nodes)
    g._structure_edited()
    g._done()
    assert not g.problems()


def loaded(data: dict) -> NetGraph:
    g = NetGraph()
    g.load_dict(data)
    assert not g.problems(), g.problems()[:3]
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args()
    n = 2 if args.quick else 5
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall time, best of "
          f"{n} (the baseline: best of 1, it is slow)")
    cnn_graph(20)  # import and first-call warm-up, not part of any figure
    with measured_by(META):
        cnn_graph(20)

    print("cold validation: build and validate the whole graph, empty caches")
    for size in (100, 500, 1000):
        g = cnn_graph(size)
        compare(f"{g.g.number_of_nodes():,} nodes", lambda size=size: cnn_graph(size), n,
                "≤ 30 ms" if size == 1000 else "", base_repeat=1, setup=clear_cache)
    g = cnn_graph(1000, distinct=True)
    compare(f"{g.g.number_of_nodes():,} nodes, no two alike", lambda: cnn_graph(1000, distinct=True),
            n, "≤ 50 ms", base_repeat=1, setup=clear_cache)
    for distinct in (False, True):
        g = cnn_graph(1000, distinct=distinct)
        compare(f"… of which validating ({'no two alike' if distinct else '1,005 nodes'}, "
                f"graph built)", lambda g=g: revalidate_all(g), n, base_repeat=1, setup=clear_cache)

    chain = reversed_chain(10_000)
    compare("10,000-node chain, edges listed target-first", lambda: loaded(chain), n,
            "≤ 300 ms", base_repeat=1, setup=clear_cache)
    print(f"  {'… the same chain from a file (load_project, its checks too)':<56} "
          f"{file_load_time(chain)}")
    for depth in (50, MAX_NESTING):
        data = nested_project(depth)
        compare(f"nested composite blocks, depth {depth}", lambda data=data: loaded(data), n,
                "≤ 200 ms" if depth == MAX_NESTING else "", base_repeat=1, setup=clear_cache)
    data = nested_project(200)  # past the nesting limit: how fast the refusal comes
    t = time.perf_counter()
    try:
        project_from_dict(data)
        refusal = "accepted?!"
    except ProjectError as exc:
        refusal = exc.problems[0][:60] + "…"
    print(f"  {'nested 200 deep, refused by the loader':<56} "
          f"{ms(time.perf_counter() - t)}  ({refusal})")

    print("re-validation after one edit (a new value each time, so nothing is cached)")
    for size in (500, 10_000):
        for measure in (RULES, META):
            with measured_by(measure):
                g = cnn_graph(size)
                convs = [c for c in g.topological_order() if g.type_of(c) == "Conv2d"]
                mid = convs[len(convs) // 2]
                # kernel and dilation at "same" padding, and the activation: a new
                # configuration every time, no output shape changes
                values = iter([{"kernel_size": k, "dilation": d, "activation": a}
                               for a in ("gelu", "silu", "tanh", "leaky_relu") for d in (1, 2, 3)
                               for k in (1, 3, 5, 7)])
                def edit(g=g, mid=mid, values=values):
                    g.set_params(mid, next(values))
                t = best(edit, 20 if measure is RULES else 5)
                if measure is RULES:
                    ours, cpu = t, CPU[0]
        row(f"{g.g.number_of_nodes():,}-node graph: a parameter that changes no shape", ours, t,
            "≤ 1 ms" if size == 10_000 else "", cpu)
    for measure in (RULES, META):
        with measured_by(measure):
            g = cnn_graph(500)
            inp = g.input_nodes()[0]
            sizes = iter([[3, 32 + 4 * i, 32 + 4 * i] for i in range(1, 12)])
            def edit(g=g, inp=inp, sizes=sizes):
                g.set_param(inp, "shape", next(sizes))  # every node downstream re-measured
            t = best(edit, 4 if measure is RULES else 1)
            if measure is RULES:
                ours, cpu = t, CPU[0]
    row(f"{g.g.number_of_nodes():,}-node graph: the Input shape (all re-measured)", ours, t, "", cpu)


if __name__ == "__main__":
    main()
