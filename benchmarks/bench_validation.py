"""Validation speed: cold graphs of 100/500/1,000 nodes and one edit on 500.

Run: python benchmarks/bench_validation.py
Graphs are generated like real CNNs: stages of blocks with skip connections (Add) and
branches (Concat), filter counts from the usual set. "Cold" starts with an empty cache.
The "all distinct" line is the worst case, where no two nodes share a configuration.
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.graph import NetGraph  # noqa: E402
from app.graph.analysis import clear_cache  # noqa: E402

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


def timed(fn, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cold(n: int, distinct: bool = False) -> tuple[float, NetGraph]:
    box = {}

    def run():
        clear_cache()
        box["g"] = cnn_graph(n, distinct=distinct)
    t = timed(run, repeat=3)
    return t, box["g"]


def main() -> None:
    cnn_graph(20)  # import and first-call warm-up, not part of any figure
    print("cold validation (empty cache, median of 3):")
    for n in (100, 500, 1000):
        t, g = cold(n)
        assert not g.problems(), g.problems()[:3]
        print(f"  {g.g.number_of_nodes():5d} nodes: {t * 1000:8.1f} ms")
    t, g = cold(1000, distinct=True)
    print(f"  {g.g.number_of_nodes():5d} nodes, all configurations distinct: {t * 1000:8.1f} ms")

    _, g = cold(500)
    convs = [n for n in g.topological_order() if g.type_of(n) == "Conv2d"]
    mid = convs[len(convs) // 2]
    values = iter(range(33, 10_000))

    def edit():
        g.set_param(mid, "filters", next(values))  # new channel count: a real re-check
    print("one parameter edit on the 500-node graph (median of 20, new value each time):")
    print(f"  {timed(edit, repeat=20) * 1000:8.2f} ms  (target < 16 ms)")
    inp = g.input_nodes()[0]
    sizes = iter([[3, 32 + 4 * i, 32 + 4 * i] for i in range(1, 10)])

    def input_edit():
        g.set_param(inp, "shape", next(sizes))  # worst case: every node re-measured
    print(f"  {timed(input_edit, repeat=4) * 1000:8.1f} ms  changing the Input shape "
          f"(every node downstream, none cached)")


if __name__ == "__main__":
    main()
