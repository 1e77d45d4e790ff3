"""The compiled model is exactly what the editor reports: shapes, params, MACs."""
import random

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from app.compile import CompileError, compile_graph
from app.graph import NetGraph
from helpers import chain

# Types and parameter choices a random graph draws from (all keep a [C, H, W] tensor).
SPATIAL = {
    "Conv2d": lambda r: {"filters": r.choice([4, 8, 12]), "kernel_size": r.choice([1, 3, [1, 3], 5]),
                         "stride": r.choice([1, 1, 2]), "padding": r.choice(["same", "valid", 1]),
                         "batch_norm": r.random() < 0.5, "groups": 1,
                         "activation": r.choice(["relu", "gelu", "none", "tanh", "relu6",
                                              "hardswish"])},
    "DepthwiseSeparableConv": lambda r: {"filters": r.choice([4, 8]), "stride": r.choice([1, 2])},
    "ConvTranspose2d": lambda r: {"filters": r.choice([4, 8])},
    "MaxPool2d": lambda r: {"pool_size": r.choice([2, 3]), "padding": r.choice(["same", "valid"])},
    "AvgPool2d": lambda r: {"pool_size": 2},
    "BatchNorm": lambda r: {},
    "Activation": lambda r: {"function": r.choice(["relu", "silu", "softmax", "hardsigmoid"])},
    "Dropout": lambda r: {"rate": 0.3},
    "VGGBlock": lambda r: {"filters": r.choice([4, 8]), "convs": r.choice([1, 2]),
                           "batch_norm": r.random() < 0.5},
    "NaiveInception": lambda r: {"f1": 4, "f3": 4, "f5": 4},
    "Inception": lambda r: {"f1": 4, "f3_reduce": 4, "f3": 8, "f5_reduce": 2, "f5": 4,
                            "pool_proj": 4, "batch_norm": r.random() < 0.5},
    "Residual": lambda r: {"filters": r.choice([4, 8]), "stride": r.choice([1, 2]),
                           "batch_norm": r.random() < 0.5},
    "Bottleneck": lambda r: {"filters": 4, "stride": r.choice([1, 2])},
    "SqueezeExcite": lambda r: {"reduction": 2},
    "DenseBlock": lambda r: {"growth_rate": 4, "layers": 2},
}
HEADS = [("GlobalAvgPool", {}), ("GlobalMaxPool", {}), ("Flatten", {})]


def random_graph(seed: int, size: int = 8) -> NetGraph:
    r = random.Random(seed)
    g = NetGraph(f"random {seed}")
    nodes = [g.add_node("Input", {"shape": [r.choice([1, 3]), r.choice([12, 16, 20]), 16]})]
    for _ in range(size):
        spatial = [n for n in nodes if len(g.info[n].output_shape or ()) == 3]
        if r.random() < 0.2 and len(spatial) >= 2:
            a, b = r.sample(spatial, 2)
            kind = r.choice(["Concat", "Add"])
            n = g.add_node(kind)
            g.connect(a, n)
            g.connect(b, n)
        else:
            t = r.choice(sorted(SPATIAL))
            n = g.add_node(t, SPATIAL[t](r))
            g.connect(r.choice(spatial), n)
        if g.info[n].problem or g.info[n].blocked:
            g.remove_node(n)
        else:
            nodes.append(n)
    # Close every open end into one output: concat-free, so join dangling ends with Add
    # after a head, then a Linear.
    ends = g.output_nodes()
    heads = []
    for e in ends:
        h = g.add_node(*r.choice(HEADS))
        g.connect(e, h)
        lin = g.add_node("Linear", {"units": 5})
        g.connect(h, lin)
        heads.append(lin)
    if len(heads) > 1:
        add = g.add_node("Add")
        for h in heads:
            g.connect(h, add)
    assert g.problems() == [], g.problems()
    return g


def check_parity(g: NetGraph) -> None:
    model = compile_graph(g).eval()
    names = model.node_names
    for n in g.nodes():
        if g.type_of(n) == "Input":
            continue
        sub = model.get_submodule(names[n])
        assert sum(p.numel() for p in sub.parameters()) == g.info[n].params, n
    shape = g.info[g.input_nodes()[0]].output_shape
    x = torch.randn(2, *shape)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        y = model(x)
    totals = g.totals()
    assert list(y.shape[1:]) == totals["output_shape"]
    assert sum(p.numel() for p in model.parameters()) == totals["total_params"]
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == \
        totals["trainable_params"]
    assert counter.get_total_flops() // 2 == 2 * totals["total_macs"]  # batch of 2


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10**6))
def test_random_graphs_compile_to_the_reported_numbers(seed):
    check_parity(random_graph(seed))


def test_compile_matches_hand_built_blocks():
    from blocks import get_spec
    g, ids = chain(("VGGBlock", {"filters": 8}), ("Residual", {"filters": 16, "stride": 2}),
                   shape=(3, 16, 16))
    model = compile_graph(g).eval()
    torch.manual_seed(0)
    a = get_spec("VGGBlock").build([(3, 16, 16)], g.node(ids[1])["params"])
    b = get_spec("Residual").build([(8, 8, 8)], g.node(ids[2])["params"])
    hand = torch.nn.Sequential(a, b).eval()
    state = {k: v for k, v in zip(hand.state_dict(), model.state_dict().values())}
    hand.load_state_dict(state)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(hand(x), model(x))


def test_compiled_code_is_readable():
    g, _ = chain(("Conv2d", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 3}))
    code = compile_graph(g).code
    assert "def forward(self, x)" in code and "self.n2(x)" in code


def test_graph_with_problems_does_not_compile():
    g, _ = chain(("Linear", {"units": 3}))
    try:
        compile_graph(g)
    except CompileError as e:
        assert "n2" in str(e) and "flat input" in str(e)
    else:
        raise AssertionError("compiled a broken graph")


def test_branches_and_joins_train():
    g = random_graph(7, size=10)
    model = compile_graph(g).train()
    shape = g.info[g.input_nodes()[0]].output_shape
    loss = model(torch.randn(4, *shape)).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_node_ids_that_are_model_attribute_names_still_compile():
    from app.graph import NetGraph
    g = NetGraph("clash")
    prev = g.add_node("Input", {"shape": [3, 8, 8]}, node_id="input")
    for name in ("forward", "to", "eval", "training", "graph", "code", "node_names", "class"):
        n = g.add_node("Conv2d", {"filters": 4}, node_id=name)
        g.connect(prev, n)
        prev = n
    model = compile_graph(g).eval()
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    assert model.training is False and callable(model.forward)
