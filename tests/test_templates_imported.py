"""The templates made by importing torchvision's models (resources/make_templates.py IMPORTED)
have torchvision's numbers exactly: parameters, MACs as FlopCounterMode counts them at the
template's input (224×224, Inception-v3 299×299), and the output shape."""
import pytest
from test_import_torch import torchvision_numbers

from app.project import load_project
from resources import templates
from resources.make_templates import IMPORTED


@pytest.mark.parametrize("name", sorted(IMPORTED))
def test_imported_template_has_torchvisions_numbers(name):
    builder, kwargs, shape, _ = IMPORTED[name]
    graph = load_project(templates()[name])
    assert graph.problems() == []
    t = graph.totals()
    assert graph.info[graph.input_nodes()[0]].output_shape == tuple(shape)
    assert (t["total_params"], t["total_macs"], t["output_shape"]) == \
        torchvision_numbers(builder, kwargs, shape)
