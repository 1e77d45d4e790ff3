"""`netcanvas train`: JSON lines, exit codes, Ctrl-C, the exported script."""
import argparse
import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import chain

from app.project import save_project
from app.train import command, loop


def run_train(*argv, capsys):
    """The command as `netcanvas train` runs it (its own parser: the CLI's other feature
    commands may be under construction)."""
    p = argparse.ArgumentParser(prog="netcanvas train")
    command.add_arguments(p)
    code = command.run(p.parse_args([str(a) for a in argv]))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_project(tmp_path):
    g, _ = chain(("Conv2d", {"filters": 8, "batch_norm": True}), "GlobalAvgPool",
                 ("Linear", {"units": 10}), shape=(1, 8, 8), name="tiny net")
    path = tmp_path / "tiny.json"
    save_project(g, path)
    return path


def test_json_lines_and_checkpoint(tiny_project, tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, err = run_train(tiny_project, "--epochs", 2, "--batch-size", 32, "--lr", "0.01",
                               "--optimizer", "adam", "--device", "cpu", "--out", out_dir,
                               "--json", capsys=capsys)
    assert code == 0, err
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [set(r) for r in lines[:2]] == [{"epoch", "train_loss", "train_acc", "val_loss",
                                            "val_acc", "seconds", "precise_bn"}] * 2
    assert lines[0]["precise_bn"]["layers"] == 1 and lines[0]["precise_bn"]["batches"] > 0
    final = lines[-1]
    assert final["final"] and final["status"] == "finished"
    assert final["checkpoint"] == str(out_dir / "last.pt") and Path(final["checkpoint"]).exists()
    assert len(final["confusion_matrix"]) == 10 and 0 <= final["accuracy"] <= 1
    assert "memory: about" in err and "Traceback" not in err
    # resume from it: the folder and the settings default to the checkpoint's
    code, out, err = run_train(tiny_project, "--epochs", 3, "--device", "cpu", "--resume",
                               out_dir / "last.pt", "--json", capsys=capsys)
    assert code == 0, err
    assert json.loads(out.splitlines()[0])["epoch"] == 3
    ck = torch.load(out_dir / "last.pt", weights_only=True)
    assert ck["epoch"] == 3 and ck["config"]["batch_size"] == 32
    assert ck["config"]["optimizer"] == "adam" and ck["config"]["lr"] == 0.01


def test_human_output(tiny_project, tmp_path, capsys):
    code, out, _ = run_train(tiny_project, "--epochs", 1, "--device", "cpu", "--out",
                               tmp_path / "r", "--max-steps", 5, capsys=capsys)
    assert code == 0
    assert "epoch 1/1" in out and "confusion matrix" in out and "checkpoints:" in out


def test_exit_codes(tiny_project, tmp_path, capsys):
    code, out, err = run_train(tmp_path / "missing.json", capsys=capsys)
    assert code == 2 and "does not exist" in err
    code, out, err = run_train(tiny_project, "--data", tmp_path / "nothing", "--json",
                               capsys=capsys)
    assert code == 2 and "no such file" in err and json.loads(out)["status"] == "error"
    np.savez(tmp_path / "five.npz", x=np.zeros((20, 1, 8, 8), np.float32),
             y=np.arange(20) % 5)
    code, out, err = run_train(tiny_project, "--data", tmp_path / "five.npz", "--out",
                               tmp_path / "r", capsys=capsys)
    assert code == 1 and "set the last Linear's units to 5" in err
    g, _ = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 10}), shape=(1, 8, 8))
    bad = tmp_path / "bad.json"
    save_project(g, bad)
    code, out, err = run_train(bad, capsys=capsys)
    assert code == 1 and "problem" in err
    code, out, err = run_train(tiny_project, "--resume", tmp_path / "nope.pt", capsys=capsys)
    assert code == 2 and "no such checkpoint" in err
    code, out, err = run_train(tiny_project, "--device", "cpu", "--lr", "1e6", "--optimizer",
                               "sgd", "--epochs", 2, "--out", tmp_path / "r2", capsys=capsys)
    assert code == 1 and "at step" in err
    with pytest.raises(SystemExit) as e:
        run_train(tiny_project, "--epochs", 0, capsys=capsys)
    assert e.value.code == 2


def test_ctrl_c_stops_after_the_batch_and_exits_130(tiny_project, tmp_path, capsys,
                                                    monkeypatch):
    real = loop.train

    def train_with_ctrl_c(graph, config, callback=None, **kw):
        def cb(event, d):
            callback(event, d)
            if event == "batch" and d["epoch"] == 2:
                os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C
        return real(graph, config, callback=cb, progress_interval=0.0, **kw)

    monkeypatch.setattr(loop, "train", train_with_ctrl_c)
    out_dir = tmp_path / "run"
    code, out, _ = run_train(tiny_project, "--epochs", 3, "--device", "cpu", "--out",
                             out_dir, "--json", capsys=capsys)
    assert code == 130
    final = json.loads(out.strip().splitlines()[-1])
    assert final["status"] == "cancelled" and final["epochs_done"] == 1
    assert torch.load(out_dir / "last.pt", weights_only=True)["epoch"] == 1
    part = torch.load(out_dir / "interrupted.pt", weights_only=True)
    last_step = torch.load(out_dir / "last.pt", weights_only=True)["step"]
    assert part["partial"] and part["epoch"] == 1 and part["step"] == final["steps"] > last_step
    assert "interrupted.pt" in final["message"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_export_script_escapes_user_strings(tmp_path, capsys):
    g, _ = chain(("Conv2d", {"filters": 4}), "GlobalAvgPool", ("Linear", {"units": 10}),
                 shape=(1, 8, 8), name='evil """ name\n import os; os.system("x") #')
    proj = tmp_path / "p.json"
    save_project(g, proj)
    out = tmp_path / "train_it.py"
    code, _, err = run_train(proj, "--export-script", out, "--data",
                             "it's a \"path\"\nwith\\ odd chars", capsys=capsys)
    assert code == 0, err
    src = out.read_text()
    tree = ast.parse(src)
    # the name is data, never code: no call to system() anywhere, and it reads back intact
    assert not [n for n in ast.walk(tree)
                if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"]
    consts = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
              for t in n.targets if isinstance(t, ast.Name)}
    assert ast.literal_eval(consts["PROJECT_NAME"]) == g.name
    assert json.loads(ast.literal_eval(consts["PROJECT_JSON"]))["name"] == g.name
    assert ast.literal_eval(consts["DEFAULTS"])["data"] == "it's a \"path\"\nwith\\ odd chars"
    r = subprocess.run([sys.executable, str(out), "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--max-steps" in r.stdout


def test_through_the_netcanvas_entry_point(tiny_project, tmp_path):
    r = subprocess.run([sys.executable, "-m", "app", "train", str(tiny_project), "--device",
                        "cpu", "--max-steps", "3", "--out", str(tmp_path / "o"), "--json"],
                       capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["status"] == "finished"
