"""Undo is exact: 50 random edits through the editor, undone, give back the very graph they
started from (ids, ports, order, positions), and redone give back the end graph; the canvas
follows the model all the way."""
import random

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

# Widgets need a QApplication. Make it at collection time, before code elsewhere in the run
# can make a plain QGuiApplication (the diagram exporter does, for PDF), which no QWidget
# can live with (Qt aborts the process).
_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QPointF  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from blocks import REGISTRY  # noqa: E402
from blocks.spec import FLOAT, INT  # noqa: E402

TYPES = [t for t, s in REGISTRY.items() if s.inputs != "none" and t not in
         ("InceptionStem", "ReductionB", "InceptionResNetB", "InceptionResNetC")]


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


def scene_matches_model(w):
    g, s = w.doc.graph, w.scene
    assert set(s.nodes) == set(g.g.nodes)
    assert {k: e.port for k, e in s.edges.items()} == {(a, b): p for a, b, p in g.edges()}
    for n, item in s.nodes.items():
        assert item.pos() == QPointF(*g.node(n)["pos"]), n
        assert item.refresh(g) is False  # nothing stale


def random_edit(w, r: random.Random, i: int) -> str:
    g, doc = w.doc.graph, w.doc
    nodes = list(g.g.nodes)
    kind = r.choice(["add", "add", "delete", "connect", "connect", "disconnect", "move", "param",
                     "param", "rename", "paste"])
    if kind == "add" or not nodes:
        doc.add_node(r.choice(TYPES), (r.randrange(-500, 2500), r.randrange(-400, 400)))
        return "add"
    n = r.choice(nodes)
    if kind == "delete":
        w.scene.select_nodes([n])
        w.delete_selection()
    elif kind == "connect":
        for _ in range(20):
            a, b = r.choice(nodes), r.choice(nodes)
            if g.can_connect(a, b) is None:
                doc.connect(a, b)
                break
    elif kind == "disconnect" and g.edges():
        s, t, _ = r.choice(g.edges())
        if r.random() < 0.5:
            doc.disconnect(s, t)
        else:
            w.scene.clearSelection()
            w.scene.edges[(s, t)].setSelected(True)
            w.delete_action.trigger()
    elif kind == "move":
        x, y = g.node(n)["pos"]
        gesture = object()
        for k in range(1, 4):  # one drag: three steps that merge
            doc.move({n: (x + 10 * k, y + 7 * k)}, gesture)
    elif kind == "param":
        spec = REGISTRY[g.type_of(n)]
        ps = [p for p in spec.params if p.kind in (INT, FLOAT) and p.default is not None]
        if ps:
            p = r.choice(ps)
            hi = min(p.max if p.max is not None else 256, 256)
            value = r.randint(int(p.min or 1), int(hi)) if p.kind == INT else round(r.uniform(p.min or 0, hi), 2)
            doc.set_param(n, p.name, value, merge=False)
    elif kind == "rename":
        doc.rename(n, f"name{i}")
    elif kind == "paste":
        pick = r.sample(nodes, min(len(nodes), r.randint(1, 3)))
        w.scene.select_nodes(pick)
        w.copy()
        w.paste()
    return kind


def test_fifty_random_edits_undo_and_redo_exactly(qtbot):
    w = MainWindow()
    w.ask = lambda *a: "Discard"
    w.warn = w.info = lambda *a: None
    qtbot.addWidget(w)
    r = random.Random(20240611)
    start = w.doc.graph.to_dict()
    kinds = [random_edit(w, r, i) for i in range(50)]
    QApplication.processEvents()
    end = w.doc.graph.to_dict()
    assert end != start and {"add", "delete", "connect", "paste", "param"} <= set(kinds)
    scene_matches_model(w)
    stack = w.doc.stack
    n = stack.count()
    assert n >= 35  # most random edits apply (a few are refused or no-ops)
    while stack.canUndo():
        stack.undo()
    assert w.doc.graph.to_dict() == start
    scene_matches_model(w)
    assert not w.isWindowModified()
    while stack.canRedo():
        stack.redo()
    assert w.doc.graph.to_dict() == end
    scene_matches_model(w)
