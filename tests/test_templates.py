"""The shipped templates open, validate and reproduce the published numbers."""
import json

import pytest

from app.project import dumps_project, load_project
from resources import EXAMPLE, templates
from resources.make_templates import TEMPLATES


def totals(name):
    return load_project(templates()[name]).totals()


def test_every_template_is_shipped_and_valid():
    assert set(templates()) == set(TEMPLATES)
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
        assert by_label["reduction_a"][1:] == (17, 17)
        assert by_label["reduction_b"][1:] == (8, 8)
    assert totals("inception_resnet_v2")["output_shape"] == [1000]


def test_example_is_small_and_has_ten_classes():
    t = totals("hybrid")
    assert t["output_shape"] == [10]
    assert t["total_params"] < 1_000_000
