"""Importing real torchvision models (issue 11): the project has torchvision's numbers
(parameters, FlopCounterMode's MACs, output shape), computes torchvision's function with the
imported weights (random weights and BatchNorm statistics, on an input the importer never
saw), and comes back the same through an exported Python file.

Each model is imported once (module-scoped fixture) at a small input; its numbers are then
measured at 224×224 (299 for Inception-v3) by changing only the project's input shape, and
compared with FlopCounterMode run on torchvision's own model on the meta device."""
import json

import pytest
import torch
from helpers import import_torchvision
from torch.utils.flop_counter import FlopCounterMode

from app.compile import compile_graph
from app.export.python_source import python_source
from app.importers import import_source
from app.importers.torch_import import import_module
from app.project import load_project, project_from_dict
from resources import templates
from resources.make_templates import IMPORTED

tv = import_torchvision()

# name: (constructor kwargs, small input the outputs are compared at, input for the numbers)
MODELS = {
    "resnet18": ({}, [3, 32, 32], [3, 224, 224]),
    "resnet50": ({}, [3, 32, 32], [3, 224, 224]),
    "resnext50_32x4d": ({}, [3, 32, 32], [3, 224, 224]),
    "densenet121": ({}, [3, 32, 32], [3, 224, 224]),
    "mobilenet_v2": ({}, [3, 32, 32], [3, 224, 224]),
    "inception_v3": ({"aux_logits": False, "init_weights": True}, [3, 75, 75], [3, 299, 299]),
    "vgg16_bn": ({}, [3, 32, 32], [3, 224, 224]),
    "googlenet": ({"aux_logits": False, "init_weights": True}, [3, 32, 32], [3, 224, 224]),
    "squeezenet1_1": ({}, [3, 32, 32], [3, 224, 224]),
    # beyond the list: squeeze-excitation, hardswish, stochastic depth
    "mobilenet_v3_small": ({}, [3, 32, 32], [3, 224, 224]),
    "efficientnet_b0": ({}, [3, 32, 32], [3, 224, 224]),
}


def randomised(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights and BatchNorm statistics like a trained net's (eval mode then does
    something to every activation)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) * 0.5 + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=gen) * 0.3 if "running" in name
                        or name.endswith("bias") else t * (0.5 + torch.rand(t.shape, generator=gen)))
    return model.eval()


def torchvision_numbers(name, kwargs, shape):
    """(params, MACs, output shape) of torchvision's own model, counted by FlopCounterMode."""
    with torch.device("meta"):
        model = getattr(tv.models, name)(**kwargs).eval()
        x = torch.empty(1, *shape)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            y = model(x)
    return (sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2,
            list(y.shape[1:]))


@pytest.fixture(scope="module", params=sorted(MODELS))
def imported(request):
    name = request.param
    kwargs, small, _ = MODELS[name]
    torch.manual_seed(0)
    model = randomised(getattr(tv.models, name)(**kwargs))
    return name, model, import_module(model, name, small)


def with_input(project: dict, shape) -> dict:
    data = json.loads(json.dumps(project))
    for n in data["nodes"]:
        if n["type"] == "Input":
            n["params"]["shape"] = list(shape)
    return data


def test_numbers_are_torchvisions(imported):
    name, _, result = imported
    kwargs, _, big = MODELS[name]
    totals = project_from_dict(with_input(result.project, big)).totals()
    params, macs, out = torchvision_numbers(name, kwargs, big)
    assert (totals["total_params"], totals["total_macs"], totals["output_shape"]) == \
        (params, macs, out)


def test_outputs_are_torchvisions_with_the_same_weights(imported):
    name, model, result = imported
    graph = project_from_dict(result.project)
    with torch.device("meta"):  # every tensor comes from the import: nothing to initialise
        ours = compile_graph(graph)
    ours.load_state_dict(result.weights, strict=True, assign=True)
    ours.eval()
    x = torch.randn(2, *MODELS[name][1], generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        want, got = model(x), ours(x)
    assert got.shape == want.shape
    tol = 1e-5 * max(1.0, want.abs().max().item())
    assert (got - want).abs().max().item() <= tol
    assert any("checked" in n for n in result.notes)


def test_round_trip_through_exported_python_gives_the_same_project(imported, tmp_path):
    name, _, result = imported
    path = tmp_path / f"{name}_export.py"
    path.write_text(python_source(project_from_dict(result.project)), encoding="utf-8")
    again = import_source(str(path))
    assert again.project == result.project
    assert again.weights.keys() == result.weights.keys()


def test_the_hierarchy_is_composite_blocks_not_loose_layers(imported):
    """Each model opens as a handful of top-level blocks, every definition is used, and
    identical consecutive blocks are one repeated node; ResNet-50 is a stem, four stages of
    Bottleneck ×N and a head."""
    name, _, result = imported
    p = result.project
    assert len(p["nodes"]) <= 20  # torchvision's Inception-v3 has 19 top-level modules
    used = {n["type"] for n in p["nodes"]} | {n["type"] for d in p.get("definitions", ())
                                             for n in d["nodes"]}
    assert all(d["name"] in used for d in p.get("definitions", ()))
    everything = p["nodes"] + [n for d in p.get("definitions", ()) for n in d["nodes"]]
    # the longest run of identical blocks in torchvision's code (DenseNet's blocks all differ)
    longest = {"resnet18": 2, "resnet50": 5, "resnext50_32x4d": 5, "densenet121": 1,
               "mobilenet_v2": 3, "inception_v3": 2, "vgg16_bn": 3, "googlenet": 1,
               "squeezenet1_1": 2, "mobilenet_v3_small": 2,
               "efficientnet_b0": 1}  # each MBConv has its own stochastic-depth rate
    assert max(n.get("repeat", 1) for n in everything) == longest[name]
    if name == "resnet50":
        top = [(n["type"], n.get("repeat", 1)) for n in p["nodes"]]
        assert top[:3] == [("Input", 1), ("ResNetStem", 1), ("Bottleneck", 3)]
        assert top[-2:] == [("GlobalAvgPool", 1), ("Linear", 1)]
        stages = {d["name"]: [(n["type"], n.get("repeat", 1)) for n in d["nodes"][1:]]
                  for d in p["definitions"]}
        assert [stages[t] for t, _ in top[3:6]] == [
            [("Bottleneck", 1), ("Bottleneck", 3)], [("Bottleneck", 1), ("Bottleneck", 5)],
            [("Bottleneck", 1), ("Bottleneck", 2)]]


def without_shapes(project: dict) -> dict:
    """The project with its name and every Input's shape left out (what an input size and a
    title change), for comparing an import at a small size with the shipped template."""
    data = with_input(project, [0])
    for d in data.get("definitions", ()):
        for n in d["nodes"]:
            if n["type"] == "Input":
                n["params"]["shape"] = [0]
    data.pop("name")
    return data


def test_the_importer_still_writes_the_shipped_template(imported):
    name, _, result = imported
    template = {builder: key for key, (builder, *_) in IMPORTED.items()}.get(name)
    if template is None:
        pytest.skip(f"{name} has no template made by importing it (resources/make_templates.py)")
    shipped = load_project(templates()[template]).to_dict()
    assert shipped["name"] == IMPORTED[template][3]
    assert without_shapes(shipped) == without_shapes(result.project)
