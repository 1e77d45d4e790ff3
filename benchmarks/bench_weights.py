"""What attached weights cost an edit: the same edits of ResNet-50 (the template, all 320
tensors attached) with and without weights, through the editor's Document (undo commands,
live validation up to the totals the status bar shows), offscreen.

Run: python benchmarks/bench_weights.py
Edits: a channel change on a stage-2 block and back (signature changes: the block and the
one after it are rebuilt on the meta device), a rename (signature unchanged), and an undo
of the channel change (the dropped tensors come back). Baseline: the same edits on the same
project with no weights attached, in the same run. For scale: compiling the whole network
once (what the brief forbids per edit).
Target: every edit with weights well under a millisecond (a frame is 16 ms), far below a
whole-network compile: a changed parameter count drops a node without building anything,
undo puts back the tensors and the signature they were checked at.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NETCANVAS_DATA_DIR", tempfile.mkdtemp(prefix="netcanvas-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from app.compile import compile_graph  # noqa: E402
from app.project import load_project  # noqa: E402
from app.ui.document import Document  # noqa: E402
from app.weights_store import AttachedWeights  # noqa: E402
from resources import templates  # noqa: E402

ROUNDS = 15


def edits(doc: Document, node: str) -> dict[str, float]:
    """Milliseconds per kind of edit (median over ROUNDS)."""
    times: dict[str, list[float]] = {"channels": [], "rename": [], "undo": []}
    for i in range(ROUNDS):
        t = time.perf_counter()
        doc.set_param(node, "filters", 96 if i % 2 == 0 else 112, merge=False)
        doc.graph.totals()  # what the status bar reads after every edit
        times["channels"].append(time.perf_counter() - t)
        t = time.perf_counter()
        doc.rename(node, f"block {i}")
        doc.graph.totals()
        times["rename"].append(time.perf_counter() - t)
        doc.stack.undo()  # the rename
        t = time.perf_counter()
        doc.stack.undo()  # the channel change: its dropped weights come back
        doc.graph.totals()
        times["undo"].append(time.perf_counter() - t)
    return {k: statistics.median(v) * 1000 for k, v in times.items()}


def main() -> None:
    QApplication.instance() or QApplication([])
    path = templates()["resnet50"]
    plain = Document(load_project(path))
    graph = load_project(path)
    t = time.perf_counter()
    state = compile_graph(graph).state_dict()
    compile_ms = (time.perf_counter() - t) * 1000
    store, _ = AttachedWeights.from_state_dict(graph, state)
    weighted = Document(graph)
    weighted.weights = store
    node = graph.topological_order()[5]  # a stage-2 Bottleneck
    edits(plain, node)  # warm-up of both (caches, first meta builds)
    edits(weighted, node)
    base = edits(plain, node)
    with_w = edits(weighted, node)
    assert weighted.weights.tensor_count() == len(state)
    print(f"ResNet-50, {len(state)} tensors attached; whole-network compile: {compile_ms:.0f} ms")
    print(f"{'edit':<10}{'no weights':>12}{'with weights':>14}{'ratio':>8}")
    for k in base:
        print(f"{k:<10}{base[k]:>10.2f} ms{with_w[k]:>11.2f} ms{with_w[k] / base[k]:>8.2f}")


if __name__ == "__main__":
    main()
