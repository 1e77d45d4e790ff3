"""Fine-tuning: a run starts from given weights (`train(initial_weights=…)`, `netcanvas train
--weights`), so that the loss of its first step is the pretrained model's, not a fresh one's."""
import argparse

import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_net

from app.compile import compile_graph
from app.project import save_project
from app.train import TrainConfig, TrainError, load_dataset, train
from app.train import command as train_command
from app.train.data import BatchPrep

pytest.importorskip("safetensors")

# one batch holds the whole training split: its mean loss does not depend on the shuffle
CONFIG = {"epochs": 1, "batch_size": 4096, "max_steps": 1, "normalize": False,
          "precise_bn": False, "device": "cpu", "seed": 0, "augment": False}


def pretrained(graph, seed=3):
    torch.manual_seed(seed)
    model = compile_graph(graph)
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if k.endswith("running_var"):
                t.uniform_(0.5, 1.5)  # a variance is positive
            elif t.is_floating_point():
                t.normal_(0, 0.5)
    return model, {k: v.clone() for k, v in model.state_dict().items()}


def expected_first_loss(graph, model):
    """The pretrained model's loss on the training split, as the loop's first step sees it
    (train mode: BatchNorm uses the batch's statistics)."""
    ds = load_dataset("digits", (1, 8, 8), val_fraction=0.2, seed=0, max_classes=10)
    prep = BatchPrep(ds, torch.device("cpu"), normalize=False)
    model.train()
    with torch.no_grad():
        return float(F.cross_entropy(model(prep(ds.train.x, train=True)), ds.train.y))


def first_loss(graph, **kw):
    events = []
    train(graph, TrainConfig(**CONFIG), callback=lambda e, d: events.append((e, d)), **kw)
    start = next(d for e, d in events if e == "start")
    return next(d for e, d in events if e == "batch")["loss"], start["messages"]


def test_the_first_step_starts_from_the_given_weights():
    g = tiny_net()
    model, state = pretrained(g)
    want = expected_first_loss(g, model)
    got, messages = first_loss(g, initial_weights=state)
    assert got == pytest.approx(want, rel=1e-5)
    n = len(state)
    assert f"starting from imported weights ({n} of {n} tensors)" in messages
    fresh, fresh_messages = first_loss(g)
    assert abs(fresh - want) > 0.05  # a fresh start is visibly somewhere else
    assert not any("starting from" in m for m in fresh_messages)


def test_weights_of_another_head_load_where_they_fit():
    g = tiny_net(units=10)
    _, state = pretrained(tiny_net(units=7))  # same trunk, another head
    _, messages = first_loss(g, initial_weights=state)
    line = next(m for m in messages if m.startswith("starting from"))
    assert f"({len(state) - 2} of {len(state)} tensors; 2 that do not fit were left out)" in line
    with pytest.raises(TrainError, match="none of the 1 tensors"):
        first_loss(g, initial_weights={"elsewhere.weight": torch.zeros(3)})


def test_cli_train_weights(tmp_path, capsys):
    from safetensors.torch import save_file
    g = tiny_net()
    _, state = pretrained(g)
    project = tmp_path / "tiny.json"
    save_project(g, project)
    weights = tmp_path / "tiny.weights.safetensors"
    save_file(state, str(weights))
    p = argparse.ArgumentParser()
    train_command.add_arguments(p)
    args = p.parse_args([str(project), "--weights", str(weights), "--epochs", "1",
                         "--max-steps", "1", "--device", "cpu", "--no-precise-bn",
                         "--out", str(tmp_path / "run")])
    assert train_command.run(args) == 0
    err = capsys.readouterr().err
    assert f"note: starting from tiny.weights.safetensors ({len(state)} of {len(state)} " \
           f"tensors)" in err
    args = p.parse_args([str(project), "--weights", str(tmp_path / "none.safetensors")])
    assert train_command.run(args) == 2
    assert "no such weights file" in capsys.readouterr().err
