"""The shipped templates open, validate and reproduce the published numbers."""
import json

import pytest

from app.graph import NetGraph
from app.project import dumps_project, load_project
from resources import EXAMPLE, templates
from resources.make_templates import IMPORTED, TEMPLATES


def totals(name):
    return load_project(templates()[name]).totals()


def test_every_template_is_shipped_and_valid():
    assert set(templates()) == set(TEMPLATES) | set(IMPORTED)
    assert EXAMPLE.exists()
    for name, path in templates().items():
        g = load_project(path)
        assert g.problems() == [], name


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_shipped_file_is_what_the_generator_writes(name):
    assert json.loads(templates()[name].read_text()) == json.loads(dumps_project(TEMPLATES[name]()))


def test_resnet18_matches_torchvision():
    t = totals("resnet18")
    assert t["total_params"] == 11_689_512
    assert t["total_macs"] == 1_814_073_344
    assert t["output_shape"] == [1000]


def test_resnet50_and_vgg16_match_torchvision():
    assert totals("resnet50")["total_params"] == 25_557_032
    assert totals("vgg16")["total_params"] == 138_357_544


def test_inception_resnet_shapes():
    for name in ("inception_resnet_v1", "inception_resnet_v2"):
        g = load_project(templates()[name])
        by_label = {g.node(n)["label"]: g.info[n].output_shape for n in g.nodes()}
        assert by_label["stem"][1:] == (35, 35)
        assert by_label["block35"] == (256 if name.endswith("v1") else 384, 35, 35)
        assert by_label["reduction_a"][1:] == (17, 17)
        assert by_label["reduction_b"][1:] == (8, 8)
    assert totals("inception_resnet_v2")["output_shape"] == [1000]


def test_inception_resnet_repeats_keep_the_numbers_of_the_unrolled_network():
    """The templates draw 5× A, 10× B, 5× C as repeats; unrolled they give the same totals."""
    expected = {"inception_resnet_v1": (22_756_328, 6_206_361_696),
                "inception_resnet_v2": (32_433_928, 9_257_953_632)}
    for name, (params, macs) in expected.items():
        g = load_project(templates()[name])
        assert sorted(g.node(n).get("repeat", 1) for n in g.nodes())[-3:] == [5, 5, 10]
        t = g.totals()
        assert (t["total_params"], t["total_macs"]) == (params, macs)
        unrolled = NetGraph("unrolled")
        unrolled.load_dict(unroll(g.to_dict()))
        u = unrolled.totals()
        assert (u["total_params"], u["total_macs"]) == (params, macs)


def unroll(data):
    """The same project with every repeat ×N written out as N nodes in a row."""
    nodes, edges, last = [], [], {}
    for n in data["nodes"]:
        r = n.pop("repeat", 1)
        ids = [n["id"]] + [f"{n['id']}_{i}" for i in range(2, r + 1)]
        for a, b in zip(ids, ids[1:]):
            nodes.append(dict(n, id=b))
            edges.append({"source": a, "target": b, "port": 0})
        nodes.append(n)
        last[n["id"]] = ids[-1]
    for e in data["edges"]:
        edges.append(dict(e, source=last[e["source"]]))
    return dict(data, version=1, nodes=nodes, edges=edges)


def test_example_is_small_and_has_ten_classes():
    t = totals("hybrid")
    assert t["output_shape"] == [10]
    assert t["total_params"] < 1_000_000
