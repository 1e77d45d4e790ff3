"""Training data and runs under hostile input (issue 12): labels, unpacked sizes and
resized sizes are checked before memory is taken; out-of-memory is recognised on the CPU;
another optimizer on resume starts fresh; checkpoint errors never advise weights_only=False."""
import time

import numpy as np
import pytest
import torch
from helpers import chain

import app.train.data_limits as limits
from app.train import (
    CheckpointError,
    TrainConfig,
    load_checkpoint,
    load_dataset,
    loop,
    train,
)
from app.train.memory import is_out_of_memory


def tiny():
    g, _ = chain(("Conv2d", {"filters": 4}), "GlobalAvgPool", ("Linear", {"units": 10}),
                 shape=(1, 8, 8), name="tiny")
    return g


def fast(**kw):
    base = {"epochs": 1, "batch_size": 64, "lr": 0.01, "optimizer": "adam",
            "schedule": "constant", "device": "cpu"}
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("bad", [10 ** 9, np.uint32(2 ** 32 - 1)])
def test_a_huge_label_is_refused_before_any_class_list(tmp_path, bad):
    y = np.arange(20, dtype=np.uint32 if isinstance(bad, np.uint32) else np.int64) % 10
    y[3] = bad
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 1, 8, 8), np.uint8), y=y)
    t = time.perf_counter()
    with pytest.raises(limits.DataError, match=f"label {int(bad)}, but the network's output "
                                               f"has 10 classes"):
        load_dataset(str(tmp_path / "d.npz"), (1, 8, 8), max_classes=10)
    with pytest.raises(limits.DataError, match="at most 100,000 classes"):
        load_dataset(str(tmp_path / "d.npz"), (1, 8, 8))
    assert time.perf_counter() - t < 5


def test_train_passes_the_heads_size_as_the_class_limit(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((20, 1, 8, 8), np.uint8),
             y=np.array([0, 1] * 9 + [0, 12]))
    with pytest.raises(limits.DataError, match="label 12, but the network's output has 10"):
        train(tiny(), fast(data=str(tmp_path / "d.npz")))


def test_an_npz_bomb_is_refused_from_its_headers(tmp_path, monkeypatch):
    """A few KB of zip that would unpack to 400 MB (float64 x becomes float32 too)."""
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros((400, 1, 256, 256)),
                        y=np.zeros(400, np.int64))
    assert (tmp_path / "bomb.npz").stat().st_size < 2_000_000
    monkeypatch.setattr(limits, "memory_limit", lambda: 100 * 2 ** 20)
    loaded = []
    monkeypatch.setattr(np, "load", lambda *a, **k: loaded.append(a))  # must not be reached
    with pytest.raises(limits.DataError, match=r"unpacked would take 0\.2 GiB"):
        load_dataset(str(tmp_path / "bomb.npz"), (1, 256, 256))
    assert not loaded


def test_the_resized_size_is_checked_before_resizing(monkeypatch):
    monkeypatch.setattr(limits, "memory_limit", lambda: 2 ** 30)
    t = time.perf_counter()
    with pytest.raises(limits.DataError, match=r"1,797 digits resized to the Input's "
                                               r"3×2048×2048 would take 84\.2 GiB"):
        load_dataset("digits", (3, 2048, 2048))
    assert time.perf_counter() - t < 10


def test_image_folder_size_is_checked_before_reading(tmp_path, monkeypatch):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(b"not read")
    monkeypatch.setattr(limits, "memory_limit", lambda: 1000)
    with pytest.raises(limits.DataError, match="6 images at the Input's 3×64×64"):
        load_dataset(str(tmp_path), (3, 64, 64))


@pytest.mark.parametrize("exc", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't "
                 "allocate memory: you tried to allocate 90596966400 bytes."),
    MemoryError(),
    RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"),
])
def test_cpu_out_of_memory_stops_the_run_with_a_suggestion(monkeypatch, exc):
    assert is_out_of_memory(exc)
    real = loop.compile_graph

    class Faulty(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if self.training:
                raise exc
            return self.inner(x)

    monkeypatch.setattr(loop, "compile_graph", lambda g: Faulty(real(g)))
    res = train(tiny(), fast())
    assert res.status == "oom" and "ran out of memory at batch size 64" in res.message
    assert "try batch size 32" in res.message
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_resume_with_another_optimizer_starts_it_fresh_and_keeps_weights(tmp_path):
    train(tiny(), fast(optimizer="adamw", out_dir=str(tmp_path)))
    saved = load_checkpoint(tmp_path / "last.pt")["model"]
    starts = []
    res = train(tiny(), fast(epochs=2, optimizer="sgd", lr=1e-12, out_dir=str(tmp_path)),
                resume=str(tmp_path / "last.pt"),
                callback=lambda e, d: starts.append(d) if e == "start" else None)
    assert res.status == "finished" and starts[0]["start_epoch"] == 1  # was KeyError 'momentum'
    assert any("trained with adamw; sgd starts fresh (the weights are kept)" in m
               for m in starts[0]["messages"])
    after = res.model.state_dict()
    for k, v in saved.items():  # a learning rate of 1e-12 leaves the resumed weights as saved
        torch.testing.assert_close(after[k].cpu().float(), v.float(), atol=1e-6, rtol=0)


class Gadget:  # not a tensor or plain data: torch.load(weights_only=True) refuses it
    pass


def test_checkpoint_errors_never_suggest_weights_only_false(tmp_path):
    p = tmp_path / "evil.pt"
    torch.save({"format": "netcanvas-checkpoint", "x": Gadget()}, p)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p)
    assert "weights_only" not in str(e.value) and "will not open this one" in str(e.value)


@pytest.mark.parametrize("change, expected", [
    ({"model": "weights"}, '"model" must map names to tensors'),
    ({"epoch": "1"}, '"epoch" must be a whole number'),
    ({"config": {"epochs": "many"}}, "the setting 'epochs' must be of type int"),
    ({"classes": [1, 2]}, '"classes" must be a list of names'),
    ({"rng": {"cpu": [1, 2, 3]}}, '"rng" must hold'),
    ({"normalization": {"mean": "x", "std": [1.0]}}, '"normalization" must hold'),
])
def test_a_checkpoint_with_wrong_types_is_refused_before_use(tmp_path, change, expected):
    good = {"format": "netcanvas-checkpoint", "version": 1, "epoch": 1, "step": 3,
            "model": {"w": torch.zeros(2)}, "config": {"epochs": 2}, "classes": ["a", "b"]}
    load_checkpoint_path = tmp_path / "ok.pt"
    torch.save(good, load_checkpoint_path)
    assert load_checkpoint(load_checkpoint_path)["epoch"] == 1
    torch.save({**good, **change}, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not a usable checkpoint") as e:
        load_checkpoint(tmp_path / "bad.pt")
    assert expected in str(e.value)
