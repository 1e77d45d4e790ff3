"""Big graphs in the window (pytest-qt, offscreen), after the issue 10 speed work: the
summary shows every row as it would have (its receptive fields measured only as far as the
rows shown), follows edits without rebuilding, and the totals follow edits; zoomed out with
type names the canvas is drawn from recorded cells per zoom and still shows each change; the
minimap draws a big graph from the canvas's cells and still shows each change."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication

_APP = QApplication.instance() or QApplication([])

from app.graph.receptive import receptive_fields
from app.summary import summary_rows
from app.ui import overview as overview_module
from app.ui.main_window import MainWindow
from app.ui.summary_panel import row_texts
from tests.test_ui_canvas_truth import fresh_view
from tests.test_ui_scale import grid_graph


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def big(qtbot):
    w = MainWindow(grid_graph(300))
    w.ask = lambda *a, **k: "Discard"
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def settle(w, qtbot) -> None:
    w.doc.flush()
    qtbot.wait(10)
    QApplication.processEvents()


def shown_rows(w) -> list[list[str]]:
    m = w.summary.model
    return [[m.index(i, c).data() for c in range(6)] for i in range(m.rowCount())]


def test_summary_rows_are_the_graphs_rows_and_fields_are_measured_only_as_far_as_shown(big):
    g = big.doc.graph
    s = big.summary
    # the rows shown at the top needed the fields of a few nodes only
    assert len(s.model._fields.out) < 100 < g.g.number_of_nodes()
    want = [row_texts(r) for r in summary_rows(g, nested=False)]
    assert shown_rows(big) == want  # every row, field column included, as the rows say
    fields = receptive_fields(g)
    last = g.topological_order()[-1]
    assert s.text([last], 5) == fields[last].text()


def test_summary_follows_an_edit_in_place_and_a_structure_change(big, qtbot):
    g, s = big.doc.graph, big.summary
    order = g.topological_order()
    first_conv = next(n for n in order if g.type_of(n) == "Conv2d")
    s.table.scrollToBottom()
    QApplication.processEvents()
    resets = []
    s.model.modelReset.connect(lambda: resets.append(1))
    # a wider kernel (padding "same" keeps every shape) changes every field after it
    big.doc.set_param(first_conv, "kernel_size", 5)
    settle(big, qtbot)
    assert not resets  # the same rows: their texts are made again, not the table
    want = [row_texts(r) for r in summary_rows(g, nested=False)]
    assert shown_rows(big) == want
    assert s.text([order[-1]], 5) == receptive_fields(g)[order[-1]].text()
    big.doc.delete([order[-1]])
    settle(big, qtbot)
    assert resets and s.model.rowCount() == len(order) - 1
    assert shown_rows(big) == [row_texts(r) for r in summary_rows(g, nested=False)]


def test_totals_follow_edits_without_summing_every_node(big, qtbot):
    g = big.doc.graph

    def summed():
        infos = [g.info[n] for n in g.g.nodes]
        return (sum(i.params for i in infos), sum(i.macs for i in infos),
                sum(i.activation_bytes for i in infos))

    order = g.topological_order()
    convs = [n for n in order if g.type_of(n) == "Conv2d"]
    big.doc.set_param(convs[3], "filters", 9)
    big.doc.delete([convs[10]])
    big.doc.stack.undo()
    big.doc.set_repeat(convs[20], 2)
    settle(big, qtbot)
    t = g.totals()
    assert (t["total_params"], t["total_macs"], t["activation_bytes"]) == summed()
    assert big.status_params.toolTip() == f"{t['total_params']:,} parameters"


@pytest.mark.parametrize("zoom", [0.3, 0.2])
def test_zoomed_out_with_names_the_cells_show_each_change_like_a_fresh_canvas(big, qtbot, zoom):
    """Type names are recorded per zoom: after zooming, an edit, and zooming back, the
    canvas is what a fresh canvas of the model draws."""
    v, g = big.view, big.doc.graph
    v.minimap.hide()
    order = g.topological_order()
    v.set_zoom(zoom)
    v.centerOn(big.scene.nodes[order[40]])
    QApplication.processEvents()
    v.viewport().grab()
    v.set_zoom(zoom * 1.18)
    v.viewport().grab()
    v.set_zoom(zoom)  # back: the cells kept for this zoom must not be stale after an edit
    big.doc.set_repeat(order[41], 3)  # a ×3 badge, drawn in the type's pill
    big.scene.select_nodes([order[42]])
    settle(big, qtbot)
    ov = overview_module.overview_of(big.scene)
    assert any(k[0] == ("title", v.zoom()) for k in ov.levels)  # drawn from cells
    ref = fresh_view(big)
    try:
        assert v.viewport().grab().toImage() == ref.viewport().grab().toImage()
    finally:
        ref.close()
        ref.deleteLater()


def test_the_minimap_of_a_big_graph_comes_from_the_cells_and_shows_each_change(big, qtbot):
    v, g = big.view, big.doc.graph
    v.minimap.show()
    v.minimap.refit()
    QApplication.processEvents()
    assert v.minimap.transform().m11() < 0.15  # "box" detail: drawn from the cells
    before = v.minimap.viewport().grab().toImage()
    corner = g.topological_order()[-1]
    x, y = g.node(corner)["pos"]
    big.doc.move({corner: (x - 2000, y)})
    settle(big, qtbot)
    qtbot.wait(80)  # the minimap redraws 50 ms after a change
    v.minimap.refit()
    QApplication.processEvents()
    after = v.minimap.viewport().grab().toImage()
    assert after != before
    ref = fresh_view(big)
    try:
        assert after == ref.minimap.viewport().grab().toImage()
    finally:
        ref.close()
        ref.deleteLater()
