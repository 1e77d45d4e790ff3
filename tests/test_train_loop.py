"""The training loop: events, checkpoints, resume, faults (cancel, NaN, OOM), accuracy."""
import math
import threading
import time

import pytest
import torch
from helpers import chain
from torch import nn

from app.compile import CompileError, compile_graph
from app.project import load_project
from app.train import (
    CheckpointError,
    TrainConfig,
    TrainError,
    load_checkpoint,
    load_dataset,
    loop,
    lr_at,
    train,
)
from resources import EXAMPLE


def tiny(units=10, shape=(1, 8, 8)):
    g, _ = chain(("Conv2d", {"filters": 8, "batch_norm": True}), "GlobalAvgPool",
                 ("Linear", {"units": units}), shape=shape, name="tiny")
    return g


@pytest.fixture(scope="module")
def digits8():
    return load_dataset("digits", (1, 8, 8), seed=0)


def fast(**kw):
    base = {"epochs": 1, "batch_size": 64, "lr": 0.01, "optimizer": "adam",
            "schedule": "constant", "device": "cpu"}
    base.update(kw)
    return TrainConfig(**base)


def test_events_metrics_and_checkpoints(tmp_path, digits8):
    events = []
    res = train(tiny(), fast(epochs=2, out_dir=str(tmp_path)), dataset=digits8,
                callback=lambda e, d: events.append((e, d)), progress_interval=0.0)
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("epoch_start") == 2 and kinds.count("epoch_end") == 2
    assert kinds.count("batch") == 2 * math.ceil(len(digits8.train) / 64)
    start = events[0][1]
    assert start["memory"]["total_bytes"] > 0 and "batch 64" in start["memory_text"]
    batch = next(d for e, d in events if e == "batch")
    assert {"epoch", "batch", "batches", "step", "loss", "acc", "eta_s",
            "samples_per_s"} <= set(batch)
    ends = [d for e, d in events if e == "epoch_end"]
    assert ends[1]["train_loss"] < ends[0]["train_loss"]
    assert res.status == "finished" and res.ok and res.epochs_done == 2
    final = res.final
    assert final["samples"] == len(digits8.val)
    assert sum(map(sum, final["confusion_matrix"])) == len(digits8.val)
    assert len(final["per_class_accuracy"]) == 10
    # checkpoints hold only plain data: they load with weights_only=True
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["epoch"] == 2 and ck["config"]["batch_size"] == 64
    assert ck["graph"]["format"] == "netcanvas" and ck["classes"] == [str(i) for i in range(10)]
    assert (tmp_path / "best.pt").exists()
    model = compile_graph(tiny())
    model.load_state_dict(ck["model"])
    assert res.last_checkpoint == str(tmp_path / "last.pt")


def test_class_count_mismatch_is_a_clear_error_before_training(digits8):
    with pytest.raises(TrainError, match=r"outputs \[5\] but the dataset has 10 classes — set "
                                         r"the last Linear's units to 10"):
        train(tiny(units=5), fast(), dataset=digits8)
    g, _ = chain(("Conv2d", {"filters": 10}), shape=(1, 8, 8))
    with pytest.raises(TrainError, match="GlobalAvgPool"):
        train(g, fast(), dataset=digits8)
    g, _ = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 10}), shape=(1, 8, 8))
    with pytest.raises(CompileError):
        train(g, fast(), dataset=digits8)
    with pytest.raises(TrainError, match="batch size"):
        train(tiny(), fast(batch_size=0), dataset=digits8)


def test_cancel_stops_within_one_batch_and_keeps_the_last_checkpoint(tmp_path, digits8):
    train(tiny(), fast(out_dir=str(tmp_path)), dataset=digits8)
    before = (tmp_path / "last.pt").read_bytes()
    cancel = threading.Event()
    seen = []

    def cb(e, d):
        if e == "batch":
            seen.append(d["step"])
            if d["batch"] == 3:
                cancel.set()

    res = train(tiny(), fast(epochs=3, out_dir=str(tmp_path)), dataset=digits8, callback=cb,
                cancel=cancel, resume=str(tmp_path / "last.pt"), progress_interval=0.0)
    assert res.status == "cancelled" and "cancelled in epoch 2" in res.message
    assert res.step == seen[-1]  # not one batch more
    assert (tmp_path / "last.pt").read_bytes() == before  # the last checkpoint is kept
    assert str(tmp_path / "last.pt") in res.message


def test_resume_goes_on_exactly(tmp_path, digits8):
    straight = train(tiny(), fast(epochs=2), dataset=digits8)
    train(tiny(), fast(epochs=1, out_dir=str(tmp_path)), dataset=digits8)
    starts = []
    resumed = train(tiny(), fast(epochs=2, out_dir=str(tmp_path)), dataset=digits8,
                    resume=str(tmp_path / "last.pt"),
                    callback=lambda e, d: starts.append(d) if e == "start" else None)
    assert starts[0]["start_epoch"] == 1 and len(resumed.history) == 2
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert resumed.final["accuracy"] == pytest.approx(straight.final["accuracy"], abs=0.01)
    with pytest.raises(TrainError, match="already trained 2 epoch"):
        train(tiny(), fast(epochs=2), dataset=digits8, resume=str(tmp_path / "last.pt"))
    with pytest.raises(TrainError, match="different network"):
        g, _ = chain(("Conv2d", {"filters": 16, "batch_norm": True}), "GlobalAvgPool",
                     ("Linear", {"units": 10}), shape=(1, 8, 8))
        train(g, fast(epochs=3), dataset=digits8, resume=str(tmp_path / "last.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")


class Faulty(nn.Module):
    """The real model, but training call number `at` returns inf or raises `exc`."""

    def __init__(self, inner, at, exc=None):
        super().__init__()
        self.inner, self.at, self.exc, self.calls = inner, at, exc, 0

    def forward(self, x):
        out = self.inner(x)
        if self.training and torch.is_grad_enabled():  # not precise-BN's no-grad passes
            self.calls += 1
            if self.calls == self.at:
                if self.exc is not None:
                    raise self.exc
                return out * float("inf")
        return out


def inject(monkeypatch, at, exc=None):
    real = loop.compile_graph
    monkeypatch.setattr(loop, "compile_graph", lambda g: Faulty(real(g), at, exc))


def test_injected_inf_stops_and_names_the_step(monkeypatch, tmp_path, digits8):
    inject(monkeypatch, at=30)  # epoch 2 (23 batches per epoch), batch 7
    res = train(tiny(), fast(epochs=3, out_dir=str(tmp_path)), dataset=digits8)
    assert res.status == "nan" and not res.ok
    assert "at step 30 (epoch 2, batch 7)" in res.message
    assert res.epochs_done == 1
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1


def test_huge_learning_rate_gives_nan_not_a_crash(digits8):
    res = train(tiny(), fast(epochs=2, lr=1e6, optimizer="sgd"), dataset=digits8)
    assert res.status == "nan" and "at step" in res.message and "learning rate" in res.message


def test_out_of_memory_stops_with_the_batch_size(monkeypatch, tmp_path, digits8):
    oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    inject(monkeypatch, at=25, exc=oom("CUDA out of memory. Tried to allocate 2.00 GiB"))
    res = train(tiny(), fast(epochs=3, batch_size=64, out_dir=str(tmp_path)), dataset=digits8)
    assert res.status == "oom"
    assert "batch size 64" in res.message and "try batch size 32" in res.message
    assert "nothing else was lost" in res.message and str(tmp_path / "last.pt") in res.message
    assert res.epochs_done == 1 and res.final is not None  # the first epoch's evaluation


def test_schedules():
    c = TrainConfig(lr=1.0, schedule="onecycle", warmup_fraction=0.3)
    lrs = [lr_at(c, s, 10, 100) for s in range(100)]
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0, abs=1e-3)
    assert lrs.index(max(lrs)) in (29, 30) and lrs[-1] < 1e-4
    c = TrainConfig(lr=1.0, schedule="cosine")
    assert lr_at(c, 0, 10, 100) == 1.0 and lr_at(c, 99, 10, 100) == pytest.approx(0.0)
    c = TrainConfig(lr=1.0, schedule="step", step_size=2, gamma=0.5)
    assert [lr_at(c, s, 10, 100) for s in (0, 19, 20, 40)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_at(TrainConfig(lr=0.3, schedule="constant"), 57, 10, 100) == 0.3


def test_asking_for_a_missing_device_is_a_clear_error(digits8):
    with pytest.raises(TrainError, match="CUDA"):
        train(tiny(), fast(device="cuda"), dataset=digits8)
    assert loop.pick_device("auto").type in ("cpu", "mps")
    assert loop.amp_dtype(torch.device("cpu"), True) is None


def test_the_example_reaches_90_percent_on_digits():
    """The built-in example, digits at 32×32, fixed seed, CPU: ≥ 90% in 2 epochs (~98%)."""
    g = load_project(EXAMPLE)
    t0 = time.perf_counter()
    res = train(g, TrainConfig(epochs=2, batch_size=64, lr=2e-3, optimizer="adamw",
                               schedule="onecycle", seed=0, device="cpu"))
    seconds = time.perf_counter() - t0
    print(f"example on digits: {res.final['accuracy']:.1%} in {seconds:.1f} s")
    assert res.status == "finished"
    assert res.final["accuracy"] >= 0.90
