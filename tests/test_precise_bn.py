"""Precise-BN: the evaluated (and saved) model carries BatchNorm statistics of its current
weights, training itself is unchanged, and the CLI switches it and says so."""
import argparse

import pytest
import torch
from helpers import chain, tiny_net

from app.project import save_project
from app.train import TrainConfig, command, load_checkpoint, load_dataset, train
from app.train.data import BatchPrep
from app.train.precise_bn import batchnorm_layers


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", (1, 8, 8), seed=0)


def config(tmp_path, **kw):
    # a high learning rate moves the weights far in one epoch: the moving average lags
    kw = {"epochs": 1, **kw}
    return TrainConfig(batch_size=64, lr=0.05, optimizer="adam", schedule="constant",
                       device="cpu", out_dir=str(tmp_path), **kw)


def bn_input_stats(model, ds):
    """Mean and variance of the first BatchNorm's input over the whole training set."""
    bn = batchnorm_layers(model)[0]
    seen = []
    hook = bn.register_forward_hook(lambda m, i, o: seen.append(i[0].detach()))
    prep = BatchPrep(ds, torch.device("cpu"))
    model.eval()
    with torch.no_grad():
        model(prep(ds.train.x, train=False))
    hook.remove()
    x = seen[0].transpose(0, 1).flatten(1)
    return x.mean(1), x.var(1)


def with_dropout():
    g, _ = chain(("Conv2d", {"filters": 8, "batch_norm": True}), "GlobalAvgPool",
                 ("Dropout", {"rate": 0.2}), ("Linear", {"units": 10}), shape=(1, 8, 8))
    return g


def test_saved_stats_describe_the_current_weights(tmp_path, digits8):
    # two epochs with dropout: precise-BN after epoch 1 must not touch training's randomness
    res_p = train(with_dropout(), config(tmp_path / "p", epochs=2, precise_bn_batches=100),
                  dataset=digits8)
    res_b = train(with_dropout(), config(tmp_path / "b", epochs=2, precise_bn=False),
                  dataset=digits8)
    # same seed, same weights: precise-BN draws from its own generator, not training's
    wp, wb = res_p.model.state_dict(), res_b.model.state_dict()
    for k in wp:
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(wp[k], wb[k]), k
    mean, var = bn_input_stats(res_p.model, digits8)
    ckpt = load_checkpoint(tmp_path / "p" / "last.pt")
    key = next(k for k in ckpt["model"] if k.endswith("running_mean"))
    saved_mean = ckpt["model"][key]
    saved_var = ckpt["model"][key.replace("mean", "var")]
    assert torch.allclose(saved_mean, mean, atol=2e-3)  # 1,408 of 1,437 samples
    assert torch.allclose(saved_var, var, rtol=0.05, atol=1e-4)
    # the moving average left by training is measurably off the current statistics
    lag = load_checkpoint(tmp_path / "b" / "last.pt")["model"][key]
    assert (lag - mean).abs().max() > 20 * (saved_mean - mean).abs().max()
    assert res_p.history[0]["precise_bn"]["samples"] == len(digits8.train) // 64 * 64
    assert res_b.history[0]["precise_bn"] is None


def test_network_without_batchnorm_is_left_alone(tmp_path, digits8):
    g, _ = chain(("Conv2d", {"filters": 4}), "GlobalAvgPool", ("Linear", {"units": 10}),
                 shape=(1, 8, 8))
    res = train(g, config(tmp_path, max_steps=3), dataset=digits8)
    assert res.ok and res.history[0]["precise_bn"]["layers"] == 0


def run_cli(*argv, capsys):
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    code = command.run(p.parse_args([str(a) for a in argv]))
    return (code, *capsys.readouterr())


def test_cli_logs_and_switches_it(tmp_path, capsys):
    path = tmp_path / "tiny.json"
    save_project(tiny_net(), path)
    base = (path, "--epochs", 1, "--max-steps", 4, "--device", "cpu")
    code, _, err = run_cli(*base, "--precise-bn-batches", 3, "--out", tmp_path / "a",
                             capsys=capsys)
    assert code == 0, err
    assert "precise-BN: re-estimated 1 BatchNorm layer(s) on 3 batch(es)" in err
    code, _, err = run_cli(*base, "--no-precise-bn", "--out", tmp_path / "b", capsys=capsys)
    assert code == 0 and "precise-BN" not in err
    assert load_checkpoint(tmp_path / "b" / "last.pt")["config"]["precise_bn"] is False
    with pytest.raises(SystemExit) as exc:  # argparse: a usage message, exit code 2
        run_cli(*base, "--precise-bn-batches", 0, capsys=capsys)
    assert exc.value.code == 2 and "must be at least 1" in capsys.readouterr().err
