"""The torch-free numbers equal the real modules, measured by torch itself.

The editor's shapes, parameter counts and MACs come from blocks/rules.py (each block's
own nn.Module class run on shapes). Here every registry entry, with random parameters
and inputs, is compared with the module the compiler builds, run on the meta device
under torch.utils.flop_counter.FlopCounterMode (app/graph/oracle.py); and random graphs
with composite blocks (nested) and repeats are compiled and counted as a whole.
"""
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from test_compile import check_parity, random_graph

from app.graph import GraphError
from app.graph.analysis import node_stats
from app.graph.grouping import expose, group
from app.graph.oracle import meta_numbers
from blocks import REGISTRY
from blocks.spec import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    KERNEL,
    LEVELS,
    MAX_LEVELS,
    PADDING,
    PADS,
    PAIR,
)

torch.set_num_threads(2)

TYPES = sorted(t for t in REGISTRY if t != "Input")


def param_strategy(p):
    """Any value the inspector accepts, kept small where the range is wide (meta is cheap,
    but a 4,096-filter conv is not more informative than a 12-filter one); "not set" too
    where the parameter may be left empty."""
    values = _values(p)
    return st.one_of(st.none(), values) if p.default is None else values


def _values(p):
    if p.kind == INT:
        lo = int(p.min if p.min is not None else 0)
        hi = int(p.max if p.max is not None else lo + 11)
        ints = st.integers(lo, min(hi, lo + 11))
        # half the time the default, so that e.g. groups that divide nothing do not make
        # most Conv2d cases refusals
        return st.one_of(st.just(p.default), ints)
    if p.kind == FLOAT:
        return st.floats(p.min, p.max, allow_nan=False)
    if p.kind == BOOL:
        return st.booleans()
    if p.kind == CHOICE:
        return st.sampled_from(p.choices)
    if p.kind == KERNEL:
        k = st.integers(int(p.min or 1), min(int(p.max or 7), 7))
        return st.one_of(k, st.lists(k, min_size=2, max_size=2))
    if p.kind == PAIR:  # a stride or dilation; None (= the window) where that is the default
        v = st.integers(int(p.min or 1), min(int(p.max or 4), 4))
        pairs = st.one_of(v, st.lists(v, min_size=2, max_size=2))
        return pairs if p.default is not None else st.one_of(st.none(), pairs)
    if p.kind == PADDING:
        amount = st.integers(0, 4)
        return st.one_of(st.sampled_from(["same", "valid"]), amount,
                         st.lists(amount, min_size=2, max_size=2))
    if p.kind == PADS:
        side = st.integers(0, 5)
        return st.one_of(side, st.lists(side, min_size=4, max_size=4))
    if p.kind == LEVELS:
        return st.lists(st.integers(1, 6), min_size=1, max_size=MAX_LEVELS)
    raise AssertionError(f"no strategy for {p.kind}")


side = st.one_of(st.integers(1, 12), st.integers(13, 80))
image = st.tuples(st.integers(1, 16), side, side)
shape = st.one_of(image, image, image, st.tuples(st.integers(1, 64)))


@st.composite
def inputs(draw, type_id):
    first = draw(shape)
    if REGISTRY[type_id].inputs != "many":
        return [first]
    others = draw(st.lists(st.one_of(st.just(first), shape,
                                     st.just((first[0] + 1,) + tuple(first[1:]))),
                           max_size=2))
    return [first] + others


def meta_attempt(type_id, shapes, params):
    """(shape, params, trainable, MACs) from torch, or None if torch refuses the input
    (an empty output counts as refused: torch returns one for some too-large transposed
    conv paddings instead of raising)."""
    try:
        out = meta_numbers(type_id, params, shapes)
    except Exception:  # noqa: BLE001 - any refusal counts
        return None
    return out if all(out[0]) else None


@pytest.mark.parametrize("type_id", TYPES)
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_rules_equal_the_module_on_the_meta_device(type_id, data):
    """Every block type (a new one without rules fails here): the numbers are torch's,
    and check() refuses exactly what the module refuses."""
    spec = REGISTRY[type_id]
    shapes = data.draw(inputs(type_id), "shapes")
    given_params = {p.name: data.draw(param_strategy(p), p.name) for p in spec.params}
    params, problems = spec.resolve(given_params)
    assert not problems, problems
    ours = node_stats(type_id, params, shapes)
    theirs = meta_attempt(type_id, shapes, params)
    refused = spec.check(shapes, params) is not None
    event("refused" if refused else "measured")  # --hypothesis-show-statistics shows the mix
    assert refused == (theirs is None), (shapes, params, ours.error, theirs)
    if theirs is not None:
        assert ours.error is None, ours.error
        assert (ours.output_shape, ours.params, ours.trainable_params, ours.macs) == theirs
        assert ours.activation_bytes == 4 * torch.Size(ours.output_shape).numel()


def test_every_type_is_covered_with_defaults_on_an_image():
    """A quick, deterministic sweep (the property test above draws random cases)."""
    for type_id in TYPES:
        spec = REGISTRY[type_id]
        shapes = [(8,)] if type_id in ("Linear", "Dropout") else [(16, 40, 40)] * (
            2 if spec.inputs == "many" else 1)
        ours = node_stats(type_id, spec.defaults(), shapes)
        theirs = meta_attempt(type_id, shapes, spec.defaults())
        assert theirs is not None and ours.error is None, (type_id, ours.error)
        assert (ours.output_shape, ours.params, ours.trainable_params, ours.macs) == theirs


# --- whole graphs with composite blocks and repeats ---------------------------------------

def run_from(g, start, length):
    """start and the nodes after it in a single-file row (each the only input of the next)."""
    run = [start]
    while len(run) < length:
        nxt = list(g.g.successors(run[-1]))
        if len(nxt) != 1 or len(g.inputs_of(nxt[0])) != 1:
            break
        run.append(nxt[0])
    return run


def with_composites(seed: int):
    """A random valid graph, then rows of it grouped into blocks — often around a block
    made before, so blocks nest — each with a whole-number parameter exposed and set per
    instance, and some single-input nodes repeated."""
    r = random.Random(seed)
    g = random_graph(seed)
    for k in range(r.randint(2, 4)):
        nodes = [n for n in g.topological_order() if g.type_of(n) != "Input"]
        blocks = [n for n in nodes if g.type_of(n) in g.definitions]
        start = r.choice(blocks if blocks and r.random() < 0.7 else nodes)
        preds = [s for s, _ in g.inputs_of(start)]
        if len(preds) == 1 and g.type_of(preds[0]) != "Input" and r.random() < 0.5:
            start = preds[0]  # the block made before goes inside, not first
        try:
            inst = group(g, run_from(g, start, r.randint(1, 3)), f"Block{k}")
        except GraphError:
            continue  # not a groupable selection (two outputs, …): try another
        d = g.definitions[f"Block{k}"]
        knobs = [(n, p.name) for n in d.body.nodes() if d.body.type_of(n) in REGISTRY
                 for p in REGISTRY[d.body.type_of(n)].params if p.kind == INT]
        if not knobs:
            continue
        node, param = r.choice(knobs)
        name = expose(g, d.name, node, param)
        before = g.node(inst)["params"][name]
        try:
            g.set_param(inst, name, r.randint(1, 8))
        except GraphError:
            continue  # out of this parameter's range
        if g.problems():  # the new value does not fit what follows: put it back
            g.set_param(inst, name, before)
    for n in list(g.nodes()):
        if g.type_of(n) == "Input" or r.random() < 0.6:
            continue
        try:
            g.set_repeat(n, r.choice([2, 3]))
        except GraphError:
            continue  # a block with two inputs cannot repeat
        if g.problems():
            g.set_repeat(n, 1)
    assert g.problems() == [], g.problems()
    return g


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.integers(0, 10**6))
def test_random_graphs_with_composites_and_repeats_compile_to_the_reported_numbers(seed):
    check_parity(with_composites(seed))


def nested(depth: int):
    """Input → L{depth-1}, where L0 holds a 3×3 Conv2d(4) and each L{k} holds one L{k-1}."""
    from app.graph.model import NetGraph, definition_from_dict
    g = NetGraph("deep")
    inner = ("Conv2d", {"filters": 4})
    for level in range(depth):
        body = {"name": f"L{level}", "inputs": ["i"],
                "nodes": [{"id": "i", "type": "Input", "params": {"shape": [4, 8, 8]}},
                          {"id": "c", "type": inner[0], "params": inner[1]}],
                "edges": [{"source": "i", "target": "c"}]}
        g.add_definition(definition_from_dict(body, g.definitions))
        inner = (f"L{level}", {})
    inp = g.add_node("Input", {"shape": [4, 8, 8]})
    top = g.add_node(inner[0])
    g.connect(inp, top)
    return g, top


def test_deeply_nested_blocks_measure_without_recursion():
    """As deep as a project may nest (MAX_NESTING levels), measured with an explicit
    stack, and an edit at the bottom reaches the top."""
    from app.graph.cost import MAX_NESTING
    g, top = nested(MAX_NESTING)
    assert g.info[top].output_shape == (4, 8, 8)
    assert (g.info[top].params, g.info[top].macs) == (4 * 4 * 9 + 4, 8 * 8 * 9 * 4 * 4)
    g.definitions["L0"].body.set_param("c", "kernel_size", 1)
    assert (g.info[top].params, g.info[top].macs) == (4 * 4 + 4, 8 * 8 * 4 * 4)


def test_nested_blocks_equal_the_compiled_model():
    g, top = nested(30)  # torch's own forward recurses per level, so not 300 here
    g.definitions["L0"].body.set_param("c", "stride", 2)
    out = g.add_node("GlobalAvgPool")
    g.connect(top, out)
    assert g.info[top].output_shape == (4, 4, 4)
    check_parity(g)


def test_summary_imports_no_torch():
    """`netcanvas summary` computes every number without importing torch (or sympy)."""
    code = ("import sys, runpy; sys.argv = ['netcanvas', 'summary', "
            "'resources/templates/resnet50.json', '--json']\n"
            "try:\n    runpy.run_module('app', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('torch', 'sympy', 'numpy', 'PySide6') if m in sys.modules)\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert '"total_params": 25557032' in out
    assert out.strip().splitlines()[-1] == "HEAVY []"
