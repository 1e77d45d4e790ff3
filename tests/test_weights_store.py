"""Weights attached to a project's nodes: kept through edits that leave a node's tensor
shapes alone, dropped (and given back) where they change, saved beside the project."""
import pytest
import torch
from helpers import chain

from app.compile import compile_graph
from app.graph import grouping
from app.project import load_project, save_project
from app.weights_store import AttachedWeights, load_sidecar, sidecar_path
from resources import templates

pytest.importorskip("safetensors")


def pretrained(graph, seed=1):
    """A compiled model with random (not fresh-init) weights, and its state_dict."""
    torch.manual_seed(seed)
    model = compile_graph(graph)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5)
    return model.eval(), {k: v.clone() for k, v in model.state_dict().items()}


def small():
    g, ids = chain(("Conv2d", {"filters": 8, "batch_norm": True}),
                   ("Conv2d", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 5}),
                   shape=(3, 16, 16))
    return g, ids


def test_everything_attaches_and_gives_the_same_model():
    g = load_project(templates()["resnet18"])
    model, state = pretrained(g)
    store, message = AttachedWeights.from_state_dict(g, state)
    assert message is None
    assert store.coverage(g) == (len(state), len(state))
    fresh = compile_graph(g).eval()
    assert store.apply_to(fresh, g) == (len(state), len(state))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))


def test_misfits_are_dropped_with_one_message():
    g, ids = small()
    _, state = pretrained(g)
    conv2_weight = next(k for k in state if k.startswith(ids[2] + ".") and k.endswith("weight"))
    state[conv2_weight] = torch.zeros(3, 3, 3, 3)
    state["nowhere.weight"] = torch.zeros(2)
    store, message = AttachedWeights.from_state_dict(g, state, "w.safetensors")
    assert message is not None and "\n" not in message
    assert message.startswith("w.safetensors:") and "nowhere.weight" in message
    assert "[3, 3, 3, 3]" in message
    assert not store.has(ids[2])  # the node with the misfit starts fresh, as a whole
    assert store.has(ids[1]) and store.has(ids[4])


def test_edits_drop_only_the_nodes_whose_shapes_change_and_restore_gives_them_back():
    g, ids = small()
    inp, conv1, conv2, _pool, fc = ids
    _, state = pretrained(g)
    store, _ = AttachedWeights.from_state_dict(g, state)
    g.rename(conv1, "first")
    g.move(conv2, (500.0, 40.0))
    g.set_param(conv1, "activation", "none")  # no tensor changes shape
    g.set_params(inp, {"shape": [3, 32, 32]})  # spatial size: no tensor changes shape
    assert store.reconcile(g) == {}
    g.set_param(conv1, "filters", 16)  # conv1 and conv2's input channels change; fc does not
    dropped = store.reconcile(g)
    assert set(dropped) == {conv1, conv2}
    assert store.has(fc) and not store.has(conv1)
    g.set_param(conv1, "filters", 8)  # back, by an edit: the weights stay dropped
    assert store.reconcile(g) == {}
    assert not store.has(conv1)
    store.restore(dropped)  # what an undo does
    assert store.reconcile(g) == {}
    assert store.coverage(g) == (len(state), len(state))
    assert all(torch.equal(store.state_dict(g)[k], state[k]) for k in state)
    g.remove_node(fc)
    assert set(store.reconcile(g)) == {fc}


def test_a_node_without_its_input_keeps_its_weights_until_it_can_be_measured():
    g, ids = small()
    _, state = pretrained(g)
    store, _ = AttachedWeights.from_state_dict(g, state)
    g.disconnect(ids[1], ids[2])
    assert store.reconcile(g) == {}
    g.connect(ids[1], ids[2])
    assert store.reconcile(g) == {} and store.coverage(g)[0] == len(state)


def test_composite_and_repeat_nodes_carry_their_weights():
    g, ids = small()
    block = grouping.group(g, [ids[1], ids[2]], "Pair", "#888888")
    g.set_repeat(block, 1)
    _model, state = pretrained(g)
    assert any(k.startswith(block + ".") for k in state)
    store, message = AttachedWeights.from_state_dict(g, state)
    assert message is None and store.has(block)
    body = g.definitions["Pair"].body
    convs = [n for n in body.topological_order() if body.type_of(n) == "Conv2d"]
    body.set_param(convs[0], "activation", "none")  # inside the block, no shape changes
    assert store.reconcile(g) == {}
    body.set_param(convs[-1], "filters", 4)  # the block's output and fc's input change
    assert set(store.reconcile(g)) == {block, ids[4]}


def test_sidecar_round_trip(tmp_path):
    g, _ids = small()
    model, state = pretrained(g)
    store, _ = AttachedWeights.from_state_dict(g, state)
    project = tmp_path / "net.json"
    save_project(g, project)
    assert store.save_sidecar(g, project) == tmp_path / "net.weights.safetensors"
    assert sidecar_path(project).is_file()
    again = load_project(project)
    back, message = load_sidecar(again, project)
    assert message is None and back.source == "saved"
    fresh = compile_graph(again).eval()
    back.apply_to(fresh, again)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(fresh(x), model(x))
    # the project file itself holds no tensor
    assert "weight" not in project.read_text().replace("weight_decay", "")
    # no weights any more: the old sidecar goes, so it cannot come back
    AttachedWeights().save_sidecar(g, project)
    assert not sidecar_path(project).exists()


def test_a_broken_or_mismatched_sidecar_opens_without_a_traceback(tmp_path):
    g, ids = small()
    project = tmp_path / "net.json"
    save_project(g, project)
    sidecar_path(project).write_bytes(b"not safetensors at all")
    store, message = load_sidecar(g, project)
    assert store is None and "not a safetensors" in message and "\n" not in message
    other, _ = chain(("Conv2d", {"filters": 3}), shape=(3, 16, 16))
    _, state = pretrained(other)
    from safetensors.torch import save_file
    save_file(state, str(sidecar_path(project)))
    store, message = load_sidecar(g, project)
    assert store is not None and not store.has(ids[1])
    assert "another shape" in message and "\n" not in message
