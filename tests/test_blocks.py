"""The block catalogue: seed numbers, torchvision equality, checks and their tightness."""
import inspect

import pytest
import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks import CATEGORIES, REGISTRY, SUPPORT, CheckError, Fix, get_spec

torch.set_num_threads(2)


def resolve(type_id, **params):
    p, problems = get_spec(type_id).resolve(params)
    assert not problems, problems
    return p


def build(type_id, in_shapes, **params):
    spec = get_spec(type_id)
    p = resolve(type_id, **params)
    assert spec.check(in_shapes, p) is None, spec.check(in_shapes, p)
    return spec.build(in_shapes, p).eval()


def n_params(m):
    return sum(t.numel() for t in m.parameters())


def run_chain(shape, layers, device="cpu"):
    """Input(shape) → layers, one build() per layer; returns (params, output shape)."""
    shape, total = tuple(shape), 0
    with torch.device(device), torch.no_grad():
        x = torch.randn(1, *shape) if device == "cpu" else torch.empty(1, *shape)
        for type_id, params in layers:
            m = build(type_id, [shape], **params)
            x = m(x)
            shape, total = tuple(x.shape[1:]), total + n_params(m)
    return total, list(shape)


# --- the numbers from the seeds (input 3×256×256, no BatchNorm, real tensors) ------------------

@pytest.mark.parametrize("layers, params, out", [
    ([("VGGBlock", dict(filters=64, convs=2))], 38_720, [64, 128, 128]),
    ([("VGGBlock", dict(filters=64, convs=2)), ("VGGBlock", dict(filters=128, convs=2)),
      ("VGGBlock", dict(filters=256, convs=4))], 2_325_568, [256, 32, 32]),
    ([("NaiveInception", dict(f1=64, f3=128, f5=32))], 6_272, [227, 256, 256]),
    ([("Inception", dict(f1=64, f3_reduce=96, f3=128, f5_reduce=16, f5=32, pool_proj=32)),
      ("Inception", dict(f1=128, f3_reduce=128, f3=192, f5_reduce=32, f5=96, pool_proj=64))],
     513_120, [480, 256, 256]),
    ([("Residual", dict(filters=64, batch_norm=False))], 38_976, [64, 256, 256]),
], ids=["vgg1", "vgg3", "naive_inception", "inception2", "residual"])
def test_seed_numbers(layers, params, out):
    assert run_chain((3, 256, 256), layers) == (params, out)


# --- whole networks, counted on the meta device ---------------------------------------------

def resnet_layers(block, counts, widths):
    layers = [("ResNetStem", {})]
    for i, (n, w) in enumerate(zip(counts, widths)):
        for j in range(n):
            layers.append((block, dict(filters=w, stride=2 if i > 0 and j == 0 else 1)))
    return layers + [("GlobalAvgPool", {}), ("Linear", dict(units=1000))]


def test_resnet18_equals_torchvision():
    layers = resnet_layers("Residual", (2, 2, 2, 2), (64, 128, 256, 512))
    assert run_chain((3, 224, 224), layers, "meta") == (11_689_512, [1000])


def test_resnet50_equals_torchvision():
    layers = resnet_layers("Bottleneck", (3, 4, 6, 3), (64, 128, 256, 512))
    assert run_chain((3, 224, 224), layers, "meta") == (25_557_032, [1000])


def test_vgg16():
    layers = [("VGGBlock", dict(filters=f, convs=c))
              for f, c in ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))]
    layers += [("Flatten", {}), ("Linear", dict(units=4096, activation="relu")),
               ("Dropout", {}), ("Linear", dict(units=4096, activation="relu")),
               ("Dropout", {}), ("Linear", dict(units=1000))]
    assert run_chain((3, 224, 224), layers, "meta") == (138_357_544, [1000])


@pytest.mark.parametrize("layers, out", [
    ([("InceptionStem", dict(variant="resnet_v1"))], [256, 35, 35]),
    ([("InceptionStem", dict(variant="v4"))], [384, 35, 35]),
    ([("InceptionStem", dict(variant="resnet_v1")), ("InceptionResNetA", {}),
      ("ReductionA", dict(k=192, l=192, m=256, n=384)), ("InceptionResNetB", {}),
      ("ReductionB", dict(variant="resnet_v1")), ("InceptionResNetC", {})],
     [1792, 8, 8]),
    ([("InceptionStem", dict(variant="v4")), ("InceptionResNetA", dict(variant="v2")),
      ("ReductionA", dict(k=256, l=256, m=384, n=384)),
      ("InceptionResNetB", dict(variant="v2")), ("ReductionB", dict(variant="resnet_v2")),
      ("InceptionResNetC", dict(variant="v2"))], [1152 + 384 + 288 + 320, 8, 8]),
    ([("InceptionStem", dict(variant="v4")), ("ReductionA", {}), ("ReductionB", {})],
     [1536, 8, 8]),
], ids=["stem_v1", "stem_v4", "irv1", "irv2", "v4_reductions"])
def test_inception_resnet_shapes(layers, out):
    assert run_chain((3, 299, 299), layers, "meta")[1] == out


# --- every type, defaults, real tensors -------------------------------------------------------

DEFAULT_INPUTS = {
    "Linear": [(32,)], "Dropout": [(32,)], "InceptionStem": [(3, 40, 40)],
    "SqueezeExcite": [(32, 8, 8)], "Concat": [(8, 9, 9), (4, 9, 9)],
    "Add": [(8, 9, 9), (8, 9, 9), (8, 9, 9)],
}
DEFAULT_OUTPUTS = {
    "Conv2d": [64, 9, 9], "ConvTranspose2d": [64, 18, 18], "MaxPool2d": [8, 4, 4],
    "GlobalAvgPool": [8], "Flatten": [648], "Linear": [10], "Concat": [12, 9, 9],
    "VGGBlock": [64, 4, 4], "NaiveInception": [232, 9, 9], "Inception": [256, 9, 9],
    "Bottleneck": [256, 9, 9], "ResNetStem": [64, 3, 3], "InceptionStem": [256, 2, 2],
    "InceptionResNetB": [8, 9, 9], "ReductionA": [8 + 384 + 256, 4, 4],
    "ReductionB": [8 + 192 + 320, 4, 4], "DenseBlock": [8 + 128, 9, 9],
}


@pytest.mark.parametrize("type_id", [t for t in REGISTRY if t != "Input"])
def test_every_type_builds_with_defaults(type_id):
    spec = REGISTRY[type_id]
    shapes = DEFAULT_INPUTS.get(type_id, [(8, 9, 9)])
    p = spec.defaults()
    assert spec.check(shapes, p) is None
    m = spec.build(shapes, p).eval()
    assert type(m) is spec.module
    with torch.no_grad():
        y = m(*[torch.randn(2, *s) for s in shapes])
    if type_id in DEFAULT_OUTPUTS:
        assert list(y.shape[1:]) == DEFAULT_OUTPUTS[type_id]


def test_registry_shape():
    assert list(REGISTRY)[0] == "Input"
    inp = get_spec("Input")
    assert inp.build is None and inp.inputs == "none" and inp.defaults() == {"shape": [3, 224, 224]}
    cats = [s.category for s in REGISTRY.values()]
    assert cats == sorted(cats, key=CATEGORIES.index)
    for t, s in REGISTRY.items():
        assert s.type_id == t and s.builds and s.doc and s.category in CATEGORIES
        assert 1 <= len(s.key_params) <= 3 or not s.params
        assert set(s.key_params) <= set(s.param_map)
        assert s.inputs == ("none" if t == "Input" else
                            "many" if t in ("Concat", "Add", "Multiply") else "one")
        for prm in s.params:
            assert prm.doc
            assert prm.check(prm.default) == (prm.default, None), (t, prm.name)
    with pytest.raises(KeyError, match="Conv3d"):
        get_spec("Conv3d")


def test_module_sources_are_self_contained():
    """Copying the helpers and classes into one file (as the Python exporter will) works."""
    objs = list(SUPPORT) + [s.module for s in REGISTRY.values() if s.module]
    src = "import torch\nimport torch.nn as nn\n\n" + "\n\n".join(
        inspect.getsource(o) for o in dict.fromkeys(objs))
    assert "lambda" not in src
    ns = {}
    exec(compile(src, "exported.py", "exec"), ns)
    for t, s in REGISTRY.items():
        if s.module is None:
            continue
        assert not hasattr(nn, s.module.__name__), s.module.__name__
        shapes = DEFAULT_INPUTS.get(t, [(8, 9, 9)])
        with torch.device("meta"):
            a = s.build(shapes, s.defaults())
            b = ns[s.module.__name__](**s.module_args(shapes, s.defaults()))
        assert n_params(a) == n_params(b) and str(a) == str(b)


# --- required messages -------------------------------------------------------------------------

def check(type_id, in_shapes, **params):
    return get_spec(type_id).check(in_shapes, resolve(type_id, **params))


def message(err):
    return err.message if isinstance(err, CheckError) else err


def test_add_channel_mismatch_message_and_fix():
    err = check("Add", [(64, 32, 32), (128, 32, 32)])
    assert err == CheckError(
        "Add: input 2 has 128 channels but input 1 has 64 — put a 1×1 Conv2d(64) on input 2",
        Fix(port=1, type_id="Conv2d", params={"filters": 64, "kernel_size": 1},
            description="insert Conv2d(filters=64, kernel_size=1) on the edge into input 2"))
    # applying the fix makes the graph check
    fix = err.fix
    conv = get_spec(fix.type_id)
    fixed = conv.build([(128, 32, 32)], resolve(fix.type_id, **fix.params))(
        torch.empty(1, 128, 32, 32, device="meta"))
    assert check("Add", [(64, 32, 32), tuple(fixed.shape[1:])]) is None


def test_merge_messages():
    assert "32×32" in message(check("Add", [(64, 32, 32), (64, 16, 16)]))
    assert "16×16" in message(check("Add", [(64, 32, 32), (64, 16, 16)]))
    m = message(check("Concat", [(64, 32, 32), (64, 16, 16)]))
    assert m.startswith("Concat:") and "32×32" in m and "16×16" in m
    m = message(check("Add", [(64, 32, 32), (512,)]))
    assert m.startswith("Add:") and "[512]" in m and "[64, 32, 32]" in m
    m = message(check("Concat", [(512,), (64, 32, 32)]))
    assert m.startswith("Concat:") and "[512]" in m and "[64, 32, 32]" in m
    assert check("Add", [(64, 8, 8)]) is None and check("Concat", [(64, 8, 8)]) is None
    assert check("Concat", [(64, 8, 8), (3, 8, 8)]) is None
    assert check("Concat", [(64,), (3,)]) is None
    assert check("Add", []).startswith("Add")


def test_linear_message_and_fix():
    err = check("Linear", [(256, 7, 7)])
    assert err.message == "Linear needs a flat input but gets [256, 7, 7] — insert Flatten or GlobalAvgPool"
    assert err.fix.port == 0 and err.fix.type_id == "GlobalAvgPool"
    assert check("Linear", [(256,)]) is None


def test_size_and_rank_messages():
    assert check("VGGBlock", [(64, 1, 1)]).startswith("VGGBlock: input 1×1 is too small to pool")
    assert check("Conv2d", [(3, 2, 2)], kernel_size=5, padding="valid") == (
        'Conv2d: input 2×2 is smaller than the 5×5 kernel with valid padding — '
        'use padding "same" or a larger input')
    assert check("GlobalAvgPool", [(512,)]) == (
        "GlobalAvgPool needs a [C, H, W] input but gets [512] — "
        "remove the Flatten/GlobalAvgPool before it")
    for t in ("Conv2d", "MaxPool2d", "Residual", "InceptionResNetA", "SqueezeExcite"):
        assert check(t, [(512,)]).startswith(f"{t} needs a [C, H, W] input but gets [512]")
    assert check("MaxPool2d", [(8, 1, 1)]).startswith("MaxPool2d: input 1×1")
    m = check("InceptionStem", [(3, 20, 20)])
    assert m.startswith("InceptionStem: input 20×20 is too small") and "27×27" in m
    assert check("ReductionA", [(8, 2, 2)]).startswith("ReductionA: input 2×2 is too small")
    assert check("ReductionB", [(8, 2, 9)]).startswith("ReductionB: input 2×9 is too small")
    assert check("Conv2d", [(6, 8, 8)], groups=4).startswith("Conv2d: groups 4 does not divide")
    assert check("Conv2d", [(8, 8, 8)], groups=4, filters=6).startswith("Conv2d: groups 4")
    assert check("SqueezeExcite", [(8, 4, 4)]).startswith("SqueezeExcite: reduction 16 is larger")
    assert check("AvgPool2d", [(8, 8, 8)], padding=2).startswith("AvgPool2d: padding 2")
    assert check("Conv2d", [(8, 8, 8), (8, 8, 8)]).startswith("Conv2d")


# --- tightness: check() is None exactly when build + forward succeed ---------------------------

def attempt(type_id, shapes, p, device):
    """None if build + forward succeed with a non-empty output, else the failure.

    (An empty output counts as a failure: torch returns a 0×0 tensor for some too-large
    ConvTranspose2d paddings instead of raising, and the meta device is laxer there.)"""
    spec = get_spec(type_id)
    try:
        with torch.device(device), torch.no_grad():
            m = spec.build(shapes, p).eval()
            y = m(*[torch.zeros(1, *s) for s in shapes])
        return None if y.numel() else f"empty output {list(y.shape)}"
    except Exception as e:  # noqa: BLE001 - any failure counts
        return e


def assert_tight(type_id, shapes, p, real=True):
    """check() is None exactly when build + forward succeed, on meta and on real tensors."""
    err = get_spec(type_id).check(shapes, p)
    for device in ("meta", "cpu") if real else ("meta",):
        exc = attempt(type_id, shapes, p, device)
        assert (err is None) == (exc is None), (type_id, shapes, p, device, err, exc)


small = st.integers(1, 12)
image = st.tuples(st.integers(1, 8), small, small)
shape = st.one_of(image, image, image, st.tuples(st.integers(1, 16)))
kern = st.one_of(st.integers(1, 7), st.lists(st.integers(1, 7), min_size=2, max_size=2))
pad = st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 5))
acts = st.sampled_from(["none", "relu", "sigmoid"])
PARAMS = {
    "Conv2d": dict(filters=st.integers(1, 8), kernel_size=kern, stride=st.integers(1, 4),
                   padding=pad, dilation=st.integers(1, 3), groups=st.integers(1, 4),
                   activation=acts, batch_norm=st.booleans()),
    "DepthwiseSeparableConv": dict(filters=st.integers(1, 8), kernel_size=kern,
                                   stride=st.integers(1, 4), batch_norm=st.booleans()),
    "ConvTranspose2d": dict(filters=st.integers(1, 8), kernel_size=kern,
                            stride=st.integers(1, 4), padding=st.integers(0, 8)),
    "MaxPool2d": dict(pool_size=kern, stride=st.one_of(st.none(), st.integers(1, 4)),
                      padding=pad),
    "AvgPool2d": dict(pool_size=kern, stride=st.one_of(st.none(), st.integers(1, 4)),
                      padding=pad),
    "GlobalAvgPool": {}, "GlobalMaxPool": {}, "Flatten": {}, "BatchNorm": {},
    "Linear": dict(units=st.integers(1, 8)), "Dropout": {},
    "Activation": dict(function=st.sampled_from(["softmax", "gelu"])),
    "SqueezeExcite": dict(reduction=st.integers(1, 8)),
    "VGGBlock": dict(filters=st.integers(1, 4), convs=st.integers(1, 2)),
    "Residual": dict(filters=st.integers(1, 8), stride=st.integers(1, 3)),
}


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_check_is_tight_on_random_params(data):
    type_id = data.draw(st.sampled_from(sorted(PARAMS) + ["Concat", "Add"]), "type")
    if type_id in ("Concat", "Add"):
        first = data.draw(shape, "first")
        others = data.draw(st.lists(st.one_of(st.just(first), shape,
                                              st.just((first[0] + 1,) + tuple(first[1:]))),
                                    max_size=2), "others")
        shapes, p = [first] + others, {}
    else:
        shapes = [data.draw(shape, "shape")]
        p = resolve(type_id, **{k: data.draw(v, k) for k, v in PARAMS[type_id].items()})
    assert_tight(type_id, shapes, p)


@pytest.mark.parametrize("type_id, params, sizes", [
    ("InceptionStem", dict(variant="resnet_v1"), range(20, 31)),
    ("InceptionStem", dict(variant="v4"), range(20, 31)),
    ("ReductionA", {}, range(1, 6)),
    ("ReductionB", dict(variant="v4"), range(1, 6)),
    ("ReductionB", dict(variant="resnet_v2"), range(1, 6)),
    ("VGGBlock", {}, range(1, 4)),
    ("ResNetStem", {}, range(1, 4)),
    ("Bottleneck", dict(stride=2), range(1, 4)),
    ("InceptionResNetB", dict(variant="v2"), range(1, 3)),
    ("DenseBlock", {}, range(1, 3)),
])
def test_block_size_thresholds_are_tight(type_id, params, sizes):
    p = resolve(type_id, **params)
    for n in sizes:
        for hw in ((n, n), (n, 31)):
            assert_tight(type_id, [(4, *hw)], p)
    assert_tight(type_id, [(64,)], p)
