"""The exported DDP training script: torchrun with 2 CPU processes (gloo), data loaders."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import chain

from app.compile import compile_graph
from app.project import load_project
from app.train import TrainConfig, train
from app.train.script import write_training_script
from resources import EXAMPLE

pytest.importorskip("app.export")


def test_torchrun_two_cpu_processes_train_and_checkpoint(tmp_path):
    graph = load_project(EXAMPLE)
    script = write_training_script(graph, TrainConfig(batch_size=16), tmp_path / "train_net.py")
    out = tmp_path / "ckpt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", str(script), "--data", "digits", "--epochs", "1",
           "--max-steps", "3", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 process(es) on cpu" in r.stdout and "epoch 1/1" in r.stdout
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["epoch"] == 1 and ck["step"] == 3 and ck["format"] == "netcanvas-checkpoint"
    assert (out / "best.pt").exists()
    compile_graph(graph).load_state_dict(ck["model"])  # the app's model takes the weights
    # and the app goes on from the script's checkpoint
    res = train(graph, TrainConfig(epochs=2, batch_size=16, max_steps=5, device="cpu",
                                   out_dir=str(out)), resume=str(out / "last.pt"))
    assert res.status == "finished" and res.step == 5


def test_one_process_on_npz_and_an_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    g, _ = chain(("Conv2d", {"filters": 4, "batch_norm": True}), "GlobalAvgPool",
                 ("Linear", {"units": 3}), shape=(3, 8, 8), name="small")
    script = write_training_script(g, None, tmp_path / "t.py")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((30, 8, 8, 3)).astype(np.float32),
             y=np.arange(30) % 3)
    folder = tmp_path / "imgs"
    for k in range(3):
        (folder / f"c{k}").mkdir(parents=True)
        for i in range(4):
            Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8)).save(
                folder / f"c{k}" / f"{i}.png")
    (folder / "c0" / "junk.png").write_text("no")
    for data in (tmp_path / "d.npz", folder):
        r = subprocess.run([sys.executable, str(script), "--data", str(data), "--epochs", "1",
                            "--batch-size", "4", "--augment", "--out", str(tmp_path / "o")],
                           capture_output=True, text=True, timeout=180, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "1 process(es)" in r.stdout
        assert torch.load(tmp_path / "o" / "last.pt", weights_only=True)["classes"] in (
            ["0", "1", "2"], ["c0", "c1", "c2"])
