"""Diagrams: SVG/PNG/PDF of a graph, escaped labels, the renderer search, auto-layout."""
import functools
import itertools
import os
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from app.export import ExportError, diagram_source, export_diagram, layout_positions
from app.export import diagram as diagram_module
from app.export.diagram import find_renderer
from app.export.style import CATEGORY_COLORS, category_color, fill_color
from app.graph import NetGraph
from app.project import load_project
from blocks import CATEGORIES
from helpers import chain
from resources import templates

needs_renderer = pytest.mark.skipif(
    find_renderer() is None,
    reason="no Graphviz renderer: pip install graphviz-pure (or apt-get install graphviz)")


@functools.cache
def template(name):
    return load_project(templates()[name])


def svg_text(path):
    root = ET.parse(path).getroot()  # well-formed XML, or this raises
    assert root.tag.endswith("svg")
    return "\n".join(t.strip() for t in root.itertext() if t.strip())


@needs_renderer
def test_svg_has_every_node_label_params_and_edge_shape(tmp_path):
    g = template("hybrid")
    text = svg_text(export_diagram(g, tmp_path / "h.svg"))
    for n in g.nodes():
        assert n in text
        assert g.type_of(n) in text
        if g.node(n)["label"]:
            assert g.node(n)["label"] in text
    assert "filters=32 · convs=2" in text  # key params of a VGGBlock
    for shape in ("3×32×32", "32×16×16", "128×8×8", "256"):
        assert shape in text  # edge labels: the tensor each edge carries
    assert "output 10" in text
    raw = (tmp_path / "h.svg").read_text(encoding="utf-8")
    assert category_color("VGG").lower() in raw.lower()  # coloured by category


@needs_renderer
def test_hostile_labels_are_escaped(tmp_path):
    g = NetGraph('evil "name" <b>&amp;</b>\\')
    a = g.add_node("Input", {"shape": [3, 8, 8]}, label='in"put\\', node_id='i"d<1>')
    b = g.add_node("Conv2d", {"filters": 4}, label="a <b>&\nc\x00 ]]> \\N \\G", node_id="-> x;")
    g.connect(a, b)
    source = diagram_source(g)
    assert "a <b>" not in source and r"a &lt;b&gt;&amp;<BR/>c\\x00 ]]&gt;" in source
    assert 'i"d' not in source and "-> x;" not in source  # ids are only ever label text
    text = svg_text(export_diagram(g, tmp_path / "e.svg"))
    for piece in ('in"put\\', 'i"d<1>', "-> x;", "a <b>&", "c\\x00 ]]> \\N \\G",
                  'evil "name" <b>&amp;</b>\\'):
        assert piece in text


@needs_renderer
def test_png_and_pdf(tmp_path):
    g = template("hybrid")
    png = export_diagram(g, tmp_path / "h.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 500 < width < 20000 and 100 < height < 5000
    pdf = export_diagram(g, tmp_path / "h.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


@needs_renderer
def test_pdf_through_qt_when_the_renderer_has_no_pdf(tmp_path, monkeypatch):
    pytest.importorskip("PySide6.QtSvg")
    r = find_renderer()
    monkeypatch.setattr(diagram_module, "find_renderer",
                        lambda: diagram_module.Renderer(r.path, "graphviz-pure"))
    pdf = export_diagram(template("resnet18"), tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")


@needs_renderer
def test_expanded_shows_the_layers_of_each_block(tmp_path):
    g = template("hybrid")
    text = svg_text(export_diagram(g, tmp_path / "x.svg", expanded=True))
    for child in ("branch1", "branch3", "branch_pool", "convs", "shortcut", "conv1"):
        assert child in text
    assert "Conv2d 64→32 1×1" in text  # a leaf of the Inception block
    repeated = svg_text(export_diagram(template("inception_resnet_v2"), tmp_path / "r.svg",
                                       expanded=True))
    assert "InceptionResNetA ×5" in repeated


def test_format_comes_from_the_suffix(tmp_path):
    with pytest.raises(ExportError, match=".svg, .png or .pdf"):
        export_diagram(template("hybrid"), tmp_path / "h.gif")
    with pytest.raises(ExportError, match="svg, png, pdf"):
        export_diagram(template("hybrid"), tmp_path / "h.out", fmt="jpeg")


def test_no_renderer_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(diagram_module, "find_renderer", lambda: None)
    with pytest.raises(ExportError) as info:
        export_diagram(template("hybrid"), tmp_path / "h.svg")
    assert "pip install graphviz-pure" in str(info.value)
    assert "apt-get install graphviz" in str(info.value)


def test_renderer_is_found_next_to_python_without_path(monkeypatch):
    import sys
    here = Path(sys.executable).parent
    if not any((here / n).exists() for n in ("graphviz-pure", "graphviz-pure.exe")):
        pytest.skip("graphviz-pure is not installed next to this Python")
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("NETCANVAS_DOT", raising=False)
    r = find_renderer()
    assert r is not None and r.name == "graphviz-pure" and os.path.isabs(r.path)


def test_a_graph_with_problems_can_still_be_drawn():
    g, _ids = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 3}))
    source = diagram_source(g)
    assert "Linear needs a flat input" in source or "flat" in source


def check_layout(g, pos):
    order = g.topological_order()
    assert set(pos) == set(order)
    assert pos[order[0]] == (0.0, 0.0)
    for s, t, _ in g.edges():
        assert pos[t][0] - pos[s][0] >= 200  # left to right, about 230 px a rank
    xs = sorted({round(x) for x, _ in pos.values()})
    assert all(180 <= b - a <= 280 for a, b in itertools.pairwise(xs))


@needs_renderer
def test_layout_positions_are_layered_left_to_right():
    g = template("hybrid")
    pos = layout_positions(g)
    check_layout(g, pos)
    first, skip = g.topological_order()[4], g.topological_order()[6]  # the branch vs the Add
    assert pos[first][1] != pos[skip][1]


def test_layout_without_renderer_falls_back(monkeypatch):
    monkeypatch.setattr(diagram_module, "find_renderer", lambda: None)
    g = template("googlenet")
    check_layout(g, layout_positions(g))
    assert layout_positions(NetGraph("empty")) == {}


def test_category_palette_covers_every_category():
    for c in CATEGORIES:
        assert c in CATEGORY_COLORS
        assert fill_color(c).startswith("#") and len(fill_color(c)) == 7
    assert category_color("no such category").startswith("#")
