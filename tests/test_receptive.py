"""Receptive fields checked against an oracle that knows no formula.

The oracle: compile the graph with the app's compiler, make every weight positive (so no
two paths can cancel), swap max-pools for average pools of the same geometry (a max sends
its gradient to one winner only), run a real input, and take the gradient of one output
unit (summed over channels, so that a Concat unit is all of its inputs) with respect to
the input. Its support is exactly what the unit sees.

The textbook field is for unbounded maps: a unit whose field stays inside the image must
see exactly its computed box. At the borders the real field is smaller — a window that
covers an intermediate layer's zero padding gets nothing through it, and a valid strided
layer may drop the last rows — so there the support must lie inside the computed box
clipped to what the node uses at all (the support of the sum of all its units).
"""
import json
import random

import pytest
import torch
from helpers import chain
from torch import nn

from app.compile import compile_graph
from app.graph import NetGraph
from app.graph.grouping import group
from app.graph.receptive import FieldsSoFar, field_of, receptive_fields
from app.graph.receptive_rules import RULES
from app.project import load_project
from blocks import REGISTRY
from blocks.layers import GlobalAvgPool, GlobalMaxPool

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")


def _avg_for_max(module: nn.Module) -> None:
    for parent in list(module.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, nn.MaxPool2d):
                parent._modules[name] = nn.AvgPool2d(child.kernel_size, child.stride,
                                                     child.padding, child.ceil_mode)
            elif isinstance(child, GlobalMaxPool):
                parent._modules[name] = GlobalAvgPool()


def _positive(model: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_((torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5) / fan_in)


def gradient_boxes(g: NetGraph, units_of):
    """{node: [((y, x), (rows, cols) or None)]}: the bounding box of the input gradient of
    each chosen unit; units_of(n, shape) lists the units (None: all units together)."""
    model = compile_graph(g).double().eval()
    _avg_for_max(model)
    _positive(model)
    outs = {}
    for n, name in model.node_names.items():
        if g.type_of(n) != "Input":
            getattr(model, name).register_forward_hook(
                lambda m, i, o, n=n: outs.__setitem__(n, o))
    shape = g.info[g.input_nodes()[0]].output_shape
    x = (torch.rand(1, *shape, dtype=torch.float64) + 0.5).requires_grad_()
    model(x)
    result = {}
    for n, out in outs.items():
        boxes = []
        for unit in units_of(n, tuple(out.shape[1:])):
            y = out[0, :, unit[0], unit[1]].sum() if unit else out.sum()
            (grad,) = torch.autograd.grad(y, x, retain_graph=True)
            support = grad[0].abs().sum(0) > 0
            rows = torch.nonzero(support.any(1)).flatten()
            cols = torch.nonzero(support.any(0)).flatten()
            box = None if rows.numel() == 0 else (
                (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max())))
            boxes.append((unit, box))
        result[n] = boxes
    return result, shape


def corner_units(n, shape):
    if len(shape) != 3:
        return [None]
    h, w = shape[1:]
    picks = {(0, 0), (h - 1, w - 1), (h // 2, w // 2), (1, 0), ((h + 1) // 2, (w + 1) // 2),
             (h // 3, (w + 2) // 3)}
    return [None] + sorted({(min(y, h - 1), min(x, w - 1)) for y, x in picks})


def expected_box(field, unit, used):
    """(box, inside): the computed field of the unit clipped to `used`, and whether it
    needed no clipping (then the real field must be exactly that)."""
    if unit is None:
        unit = (0, 0)
    spans, inside = [], True
    for ax, i, (first, last) in ((field.h, unit[0], used[0]), (field.w, unit[1], used[1])):
        a, b = ax.span(i)
        lo, hi = max(int(a), first), min(int(b), last)
        inside = inside and a > first and b < last and ax.j > 0
        if lo > hi:
            return None, False
        spans.append((lo, hi))
    return tuple(spans), inside


def within(box, outer):
    return box is None or (outer is not None and all(
        o[0] <= b[0] and b[1] <= o[1] for b, o in zip(box, outer)))


def check_against_oracle(g: NetGraph, units_of=corner_units):
    """Compares every chosen unit; returns how many were compared exactly (unclipped)."""
    fields = receptive_fields(g)
    boxes, _ = gradient_boxes(g, units_of)
    exact = 0
    for n, got in boxes.items():
        nf = fields[n]
        assert nf is not None, n
        used = got[0][1]  # corner_units puts "all units" first
        assert used is not None, n
        if nf.field.h.j == 0:  # global: every unit sees all that the node uses
            assert all(box == used for _, box in got), (n, got)
            exact += 1
            continue
        for unit, box in got[1:]:
            want, inside = expected_box(nf.field, unit, used)
            why = (f"{n} {g.type_of(n)} {g.node(n)['params']} unit {unit}: "
                   f"gradient support {box}, computed {want} from {nf.to_dict()}")
            if inside:
                assert box == want, why
                exact += 1
            else:
                assert within(box, want), why
    return exact


# --- every block type ----------------------------------------------------------------------

def test_every_block_type_has_a_rule():
    assert set(RULES) == set(REGISTRY), "a block type without a receptive-field rule"


BLOCK_CASES = {  # type → (params, input shape); small but big enough for the block
    "InceptionStem": ({}, (3, 64, 68)),
    "InceptionStem/v4": ({"variant": "v4"}, (3, 72, 72)),
    "ReductionB": ({}, (4, 15, 15)),  # v4
    "ReductionB/resnet_v1": ({"variant": "resnet_v1"}, (4, 15, 15)),
    "ReductionA": ({"k": 4, "l": 4, "m": 4, "n": 4}, (8, 15, 15)),
    "ReductionA/timm": ({"k": 4, "l": 4, "m": 4, "n": 4, "branch_order": "timm"}, (8, 15, 15)),
    "ReductionB/resnet_v2-timm": ({"variant": "resnet_v2", "branch_order": "timm"},
                                  (4, 15, 15)),
    "InceptionStem/v4-timm": ({"variant": "v4", "branch_order": "timm"}, (3, 72, 72)),
    "InceptionResNetB/no-relu": ({"relu": False}, (4, 12, 12)),
    "Conv2d/dilated": ({"filters": 3, "kernel_size": [3, 5], "stride": 2, "dilation": 2}, (2, 15, 15)),
    "Conv2d/pairs": ({"filters": 2, "kernel_size": [3, 5], "stride": [2, 1],
                      "dilation": [1, 2], "padding": [1, 3]}, (2, 15, 15)),
    "Conv2d/same-pairs": ({"filters": 2, "kernel_size": [3, 4], "stride": [1, 2],
                           "dilation": [2, 1]}, (2, 15, 15)),
    "MaxPool2d/same": ({"pool_size": 3, "stride": 2, "padding": "same"}, (2, 11, 11)),
    "AvgPool2d/pairs": ({"pool_size": [3, 2], "stride": [1, 2], "padding": [1, 0]},
                        (2, 11, 11)),
    "AdaptiveAvgPool2d": ({"output_size": [4, 8]}, (2, 16, 16)),  # windows 4×2, exact
    "AdaptiveAvgPool2d/global": ({"output_size": 1}, (2, 9, 9)),
    "MaxPool2d/ceil": ({"pool_size": 3, "stride": 2, "ceil_mode": True}, (2, 12, 12)),
    "AvgPool2d/ceil-exclude-pad": ({"pool_size": 3, "stride": 2, "padding": 1,
                                    "ceil_mode": True, "count_include_pad": False},
                                   (2, 12, 12)),
    "SqueezeExcite": ({"reduction": 2}, (4, 7, 7)),
    "DenseBlock": ({"growth_rate": 2, "layers": 3}, (2, 11, 11)),
    "Linear": ({}, (2, 5, 5)),
    "Bottleneck": ({"filters": 2, "stride": 2, "expansion": 2}, (4, 9, 9)),
    "Residual": ({"filters": 2, "stride": 2}, (4, 9, 9)),
    "DepthwiseSeparableConv": ({"filters": 2, "kernel_size": 5, "stride": 2}, (2, 9, 9)),
    "InvertedResidual/residual": ({"filters": 4, "kernel_size": 5}, (4, 11, 11)),
    "InvertedResidual/stride": ({"filters": 3, "kernel_size": 5, "stride": 2}, (4, 11, 11)),
    "InvertedResidual/se": ({"filters": 4, "se_ratio": 0.5}, (4, 9, 9)),
    "Fire": ({"s1x1": 2, "e1x1": 2, "e3x3": 2}, (3, 9, 9)),
    "ZeroPad2d": ({"padding": [1, 2, 3, 0]}, (2, 7, 8)),
    "Upsample/3": ({"scale_factor": 3.0}, (2, 5, 6)),
    "GroupNorm": ({"groups": 2}, (4, 9, 9)),
    "InstanceNorm/affine": ({"affine": True}, (2, 7, 7)),
}


@pytest.mark.parametrize("case", sorted(set(REGISTRY) - {"Input", "ConvTranspose2d"}
                                        | set(BLOCK_CASES)))
def test_every_block_matches_the_gradient_oracle(case):
    type_id = case.split("/")[0]
    params, shape = BLOCK_CASES.get(case, ({}, (4, 16, 16)))
    if type_id in ("Concat", "Add"):
        g = NetGraph()
        i = g.add_node("Input", {"shape": list(shape)})
        a = g.add_node("Conv2d", {"filters": 4, "kernel_size": 5})
        b = g.add_node("MaxPool2d", {"pool_size": 3, "stride": 1, "padding": "same"})
        j = g.add_node(type_id)
        for src, dst in ((i, a), (i, b), (a, j), (b, j)):
            g.connect(src, dst)
    else:
        layers = [(type_id, params)]
        if type_id == "Linear":
            layers.insert(0, "Flatten")
        g, _ = chain(*layers, shape=shape)
    assert not g.problems(), g.problems()
    assert check_against_oracle(g) >= 1


@pytest.mark.parametrize("params", [{"mode": "bilinear"}, {"mode": "bilinear", "size": 27},
                                    {"scale_factor": 1.5}])
def test_bilinear_or_fractional_upsampling_reports_the_average_field(params):
    g, ids = chain(("Upsample", params), shape=(1, 12, 12))
    nf = receptive_fields(g)[ids[1]]
    assert nf.warning and "different fields" in nf.warning
    out = g.info[ids[1]].output_shape[1]
    units = [(y, y) for y in range(3, out - 3)]  # away from the borders (clamped taps)
    boxes, _ = gradient_boxes(g, lambda n, s: units if n == ids[1] else [])
    sizes = [box[0][1] - box[0][0] + 1 for _, box in boxes[ids[1]]]
    assert max(sizes) == nf.receptive_field[0]  # two taps bilinear, one nearest
    starts = [box[0][0] for _, box in boxes[ids[1]]]
    assert starts[-1] - starts[0] == pytest.approx(nf.effective_stride[0] * (len(starts) - 1),
                                                   abs=1)
    for (y, _), (first, last) in zip(units, (box[0] for _, box in boxes[ids[1]])):
        lo, hi = (float(v) for v in nf.field.h.span(y))
        assert lo - 1 < first and last < hi + 1  # within a unit of the average field


def test_transposed_conv_reports_the_largest_field_and_a_fractional_stride():
    g, ids = chain(("Conv2d", {"filters": 2, "kernel_size": 3, "stride": 2}),
                   ("ConvTranspose2d", {"filters": 2, "kernel_size": 3, "stride": 2}),
                   shape=(1, 16, 16))
    nf = receptive_fields(g)[ids[2]]
    assert nf.warning and "largest" in nf.warning
    all_units = [(y, y) for y in range(4, 12)]  # away from the borders: nothing clipped
    boxes, _ = gradient_boxes(g, lambda n, s: all_units if n == ids[2] else [])
    sizes = [box[0][1] - box[0][0] + 1 for _, box in boxes[ids[2]]]
    assert max(sizes) == nf.receptive_field[0]
    starts = [box[0][0] for _, box in boxes[ids[2]]]
    assert starts[-1] - starts[0] == pytest.approx(nf.effective_stride[0] * (len(starts) - 1),
                                                   abs=2)


# --- random graphs -------------------------------------------------------------------------

def _random_layer(r: random.Random):
    return r.choice([
        lambda: ("Conv2d", {"filters": r.choice([2, 3]),
                            "kernel_size": r.choice([1, 2, 3, 5, [1, 3], [3, 1]]),
                            "stride": r.choice([1, 1, 2, 3, [1, 2]]),
                            "padding": r.choice(["same", "valid", 0, 1, 2, [0, 1]]),
                            "dilation": r.choice([1, 1, 2, [2, 1]])}),
        lambda: (r.choice(["MaxPool2d", "AvgPool2d"]),
                 {"pool_size": r.choice([2, 3, [2, 3]]),
                  "stride": r.choice([None, 1, 2, [2, 1]]),
                  "padding": r.choice(["valid", "same", [1, 0]])}),
        lambda: ("VGGBlock", {"filters": 2, "convs": r.choice([1, 2])}),
        lambda: ("Residual", {"filters": r.choice([2, 3]), "stride": r.choice([1, 2])}),
        lambda: ("Inception", {"f1": 1, "f3_reduce": 1, "f3": 2, "f5_reduce": 1, "f5": 1,
                               "pool_proj": 1}),
        lambda: ("DepthwiseSeparableConv", {"filters": 2, "kernel_size": r.choice([3, 4]),
                                            "stride": r.choice([1, 2])}),
        lambda: ("Activation", {"function": "relu"}),
    ])()


def random_graph(seed: int) -> NetGraph:
    """Input → a few layers, some of them two branches joined by Concat or Add."""
    r = random.Random(seed)
    g = NetGraph(f"random {seed}")
    cur = g.add_node("Input", {"shape": [2, r.choice([33, 40, 47]), r.choice([32, 41])]})

    def attach(src, layer):
        n = g.add_node(*layer)
        g.connect(src, n)
        if g.info[n].problem:
            g.remove_node(n)
            return None
        return n

    for _ in range(r.randint(3, 6)):
        if r.random() < 0.4:  # two branches from cur, joined
            a = attach(cur, _random_layer(r))
            b = attach(cur, _random_layer(r)) if r.random() < 0.7 else cur
            if a is None or b is None:
                for n in (a, b):  # the branch that did fit would be a second output
                    if n is not None and n != cur:
                        g.remove_node(n)
                continue
            sa, sb = g.info[a].output_shape, g.info[b].output_shape
            kind = "Add" if sa == sb else "Concat" if sa[1:] == sb[1:] else None
            if kind is None:
                for n in (a, b):
                    if n != cur:
                        g.remove_node(n)
                continue
            j = g.add_node(kind)
            g.connect(a, j)
            g.connect(b, j)
            cur = j
        else:
            cur = attach(cur, _random_layer(r)) or cur
    if g.type_of(cur) == "Input":  # every layer drawn was undone: a graph needs one
        attach(cur, ("Conv2d", {"filters": 2}))
    return g


@pytest.mark.parametrize("seed", range(16))
def test_random_graphs_match_the_gradient_oracle(seed):
    g = random_graph(seed)
    assert not g.problems(), g.problems()
    assert check_against_oracle(g) > 0


def test_composites_and_repeats_match_the_gradient_oracle():
    g, ids = chain(("Conv2d", {"filters": 2, "kernel_size": 3, "stride": 2}),
                   ("Residual", {"filters": 2}), ("MaxPool2d", {"pool_size": 2}),
                   ("Conv2d", {"filters": 2, "dilation": 2}), shape=(1, 40, 40))
    inst = group(g, ids[1:3], "Stage")
    g.set_repeat(inst, 2)
    outer = group(g, [inst, ids[3]], "Outer")  # a block inside a block
    assert not g.problems()
    fields = receptive_fields(g)
    # [conv3 s2 → residual (two 3×3)] ×2 → pool 2: 3, 11 (j 2); 15, 31 (j 4); 35 (j 8)
    assert fields[outer].receptive_field == [35, 35]
    assert fields[outer].effective_stride == [8, 8]
    assert check_against_oracle(g) > 0


@pytest.mark.parametrize("seed", range(8))
def test_one_nodes_field_and_fields_so_far_equal_the_whole_graphs(seed):
    """The inspector (field_of: a node's ancestors only) and the summary (FieldsSoFar:
    measured in graph order only as far as asked) show what receptive_fields gives."""
    g = random_graph(seed)
    want = receptive_fields(g)
    order = g.topological_order()
    assert {n: field_of(g, n) for n in order} == want
    so_far = FieldsSoFar(g)
    middle = order[len(order) // 2]
    assert so_far.get(middle) == want[middle] and len(so_far.out) == len(order) // 2 + 1
    assert [so_far.get(n) for n in reversed(order)] == [want[n] for n in reversed(order)]


def test_one_nodes_field_inside_composites_and_repeats():
    g, ids = chain(("Conv2d", {"filters": 2, "kernel_size": 3, "stride": 2}),
                   ("Residual", {"filters": 2}), ("MaxPool2d", {"pool_size": 2}), shape=(1, 40, 40))
    inst = group(g, ids[1:3], "Stage")
    g.set_repeat(inst, 2)
    want = receptive_fields(g)
    assert all(field_of(g, n) == want[n] for n in g.topological_order())


# --- known figures and warnings --------------------------------------------------------

@pytest.mark.parametrize("template, node, rf, stride", [
    ("vgg16", "n6", 212, 32),      # Araujo et al. 2019 give 212 for VGG-16
    ("resnet18", "n10", 435, 32),  # stem 11, then +32, +56, +112, +224 per stage, by hand
    ("resnet50", "n18", 427, 32),  # torchvision's v1.5 (stride on the 3×3), by hand
])
def test_published_figures(template, node, rf, stride):
    g = load_project(ROOT / "resources" / "templates" / f"{template}.json")
    nf = receptive_fields(g)[node]
    assert nf.receptive_field == [rf, rf] and nf.effective_stride == [stride, stride]


def test_misaligned_join_is_flagged_and_aligned_ones_are_not():
    g = NetGraph()
    i = g.add_node("Input", {"shape": [2, 16, 16]})
    pool = g.add_node("MaxPool2d", {"pool_size": 2})  # centre 0.5
    conv = g.add_node("Conv2d", {"filters": 2, "stride": 2})  # 3×3 same: centre 0
    cat = g.add_node("Concat")
    for s, d in ((i, pool), (i, conv), (pool, cat), (conv, cat)):
        g.connect(s, d)
    fields = receptive_fields(g)
    assert "misaligned" in fields[cat].warning
    assert check_against_oracle(g) > 0  # the union is still exactly what a unit sees
    from app.summary import summary_dict, summary_text
    assert "misaligned" in summary_text(g).split("Receptive-field warnings:")[1]
    row = next(r for r in summary_dict(g)["nodes"] if r["id"] == cat)
    assert "misaligned" in row["receptive_field_warning"]
    h = load_project(ROOT / "resources" / "templates" / "hybrid.json")
    assert not any(f.warning for f in receptive_fields(h).values() if f)


def test_flat_input_has_no_field():
    g, ids = chain(("Linear", {"units": 4}), shape=(8,))
    assert receptive_fields(g) == {ids[0]: None, ids[1]: None}


def test_summary_shows_field_and_stride_per_node(capsys):
    from app.cli import main
    path = str(ROOT / "resources" / "templates" / "resnet18.json")
    assert main(["summary", path, "--json"]) == 0
    nodes = {n["id"]: n for n in json.loads(capsys.readouterr().out)["nodes"]}
    assert nodes["n10"]["receptive_field"] == [435, 435]
    assert nodes["n10"]["effective_stride"] == [32, 32]
    assert nodes["n11"]["effective_stride"] == [0, 0]  # after the global pool
    assert main(["summary", path]) == 0
    out = capsys.readouterr().out
    assert "435×435 /32" in out and "global" in out
