"""What a user sees of the new block types besides their numbers (tests/test_rules.py and
test_torchvision_blocks.py check those): the message at a node that cannot work, the new
parameter kinds in files and in the inspector, the palette."""
import pytest
import torch

from app.graph.analysis import node_stats
from app.project import load_project, save_project
from blocks import CATEGORIES, REGISTRY
from blocks.catalogue_families import FAMILY_SPECS
from helpers import chain


def error(type_id, shape, **params):
    p, problems = REGISTRY[type_id].resolve(params)
    assert not problems, problems
    return node_stats(type_id, p, [shape]).error


@pytest.mark.parametrize("type_id, shape, params, message", [
    ("GroupNorm", (48, 8, 8), {"groups": 32},
     "GroupNorm: 32 groups do not divide the 48 channels — use groups that divides 48 "
     "(e.g. 24)"),
    ("GroupNorm", (4, 1, 1), {"groups": 4}, "GroupNorm: each group is one channel of a 1×1 map"),
    ("InstanceNorm", (4, 1, 1), {}, "InstanceNorm: a 1×1 map has one value per channel"),
    ("InstanceNorm", (16,), {}, "InstanceNorm needs a [C, H, W] input but gets [16]"),
    ("ZeroPad2d", (16,), {}, "ZeroPad2d needs a [C, H, W] input but gets [16]"),
    ("Upsample", (4, 8, 8), {"align_corners": True},
     "Upsample: align_corners applies only to bilinear resizing"),
    ("Upsample", (4, 3, 3), {"scale_factor": 0.3},
     "Upsample: scale_factor 0.3 of a 3×3 input gives 0×0"),
    ("DenseTransition", (3, 8, 8), {"compression": 0.3},
     "DenseTransition: compression 0.3 of 3 channels leaves no channel"),
    ("DenseTransition", (8, 1, 5), {}, "DenseTransition: input 1×5 is too small for its 2×2"),
    ("InvertedResidual", (8, 8, 8), {"kernel_size": 2}, "InvertedResidual: kernel_size 2 is even"),
    ("Fire", (64,), {}, "Fire needs a [C, H, W] input but gets [64]"),
])
def test_a_node_that_cannot_work_says_why(type_id, shape, params, message):
    assert error(type_id, shape, **params).startswith(message)


def test_what_works_has_no_error():
    assert error("GroupNorm", (48, 8, 8), groups=24) is None
    assert error("GroupNorm", (4, 1, 1), groups=2) is None  # two values per group
    assert error("Upsample", (4, 3, 3), scale_factor=0.3, size=[1, 1]) is None
    assert error("Upsample", (4, 8, 8), mode="bilinear", align_corners=True) is None
    assert error("LayerNorm", (16,)) is None


@pytest.mark.parametrize("value, ok", [
    (2, 2), ([1, 2, 3, 4], [1, 2, 3, 4]), ([1, 2], None), (-1, None), ([0, 0, 0, 65], None),
    (True, None), ("1", None),
])
def test_zero_padding_takes_an_int_or_four_sides(value, ok):
    got, why = REGISTRY["ZeroPad2d"].param_map["padding"].check(value)
    assert got == ok and (why is None) == (ok is not None)
    if why:
        assert why.startswith("padding must be a whole number 0..64 or [left, right, top, bottom]")


def test_new_parameters_survive_a_project_file(tmp_path):
    g, ids = chain(("ZeroPad2d", {"padding": [1, 0, 2, 3]}),
                   ("Upsample", {"size": [9, 7], "mode": "bilinear"}),
                   ("GroupNorm", {"groups": 3, "affine": False}), shape=(3, 6, 6))
    path = tmp_path / "p.json"
    save_project(g, path)
    again = load_project(path)
    assert again.node(ids[1])["params"]["padding"] == [1, 0, 2, 3]
    assert again.node(ids[2])["params"]["size"] == [9, 7]
    assert again.info[ids[3]].output_shape == (3, 9, 7)


def test_the_palette_has_a_place_for_every_new_type():
    from app.export.style import CATEGORY_COLORS
    for spec in FAMILY_SPECS:
        assert spec.category in CATEGORIES and spec.category in CATEGORY_COLORS
        assert spec.doc and spec.builds


def test_the_inspector_reads_typed_sides_and_levels():
    pytest.importorskip("PySide6")
    from app.ui.fields import parse_text
    from blocks.spec import LEVELS, PADS
    assert parse_text(PADS, "2") == 2
    assert parse_text(PADS, "1, 0, 2, 3") == [1, 0, 2, 3]
    assert parse_text(LEVELS, "[1, 2, 4]") == [1, 2, 4]


def seed_spp(x, pool_sizes=(1, 2, 4)):
    """The seed's SpatialPyramidPooling.forward (004_c65ab56b087d230e.txt), as written there."""
    b, c, _, _ = x.shape
    pooled_features = []
    for pool_size in pool_sizes:
        pooled = torch.nn.functional.adaptive_avg_pool2d(x, pool_size)
        pooled_features.append(pooled.view(b, c, -1))
    return torch.cat(pooled_features, dim=-1)


def spp(shape, **params):
    spec = REGISTRY["SpatialPyramidPooling"]
    p, problems = spec.resolve(params)
    assert not problems
    return spec.build([shape], p).eval(), node_stats("SpatialPyramidPooling", p, [shape])


@pytest.mark.parametrize("hw, levels", [((13, 13), [1, 2, 4]), ((5, 7), [3, 6]),
                                        ((2, 3), [1, 4])])
def test_average_pyramid_is_the_seeds_spp_level_by_level(hw, levels):
    x = torch.randn(2, 6, *hw)
    module, stats = spp((6, *hw), levels=levels, pool="avg")
    seed = seed_spp(x, levels)  # [B, C, Σl²]: the seed keeps channels first
    per_level = torch.split(seed, [level * level for level in levels], dim=-1)
    want = torch.cat([t.flatten(1) for t in per_level], dim=1)
    torch.testing.assert_close(module(x), want)
    assert stats.output_shape == (6 * sum(level * level for level in levels),)


def test_max_pyramid_is_torchs_adaptive_max_pooling():
    x = torch.randn(2, 4, 13, 9)
    module, stats = spp((4, 13, 9))
    want = torch.cat([torch.nn.functional.adaptive_max_pool2d(x, level).flatten(1)
                      for level in (1, 2, 4)], dim=1)
    assert torch.equal(module(x), want)
    assert stats.output_shape == (4 * 21,) and stats.params == stats.macs == 0


def test_the_seeds_example_gives_5376_features():
    assert spp((256, 13, 13))[1].output_shape == (256 * (1 + 4 + 16),)  # the seed's comment
