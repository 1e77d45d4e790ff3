"""Runs side by side: run.json in every run folder, and `netcanvas runs PROJECT`."""
import json

from helpers import tiny_net

from app import cli
from app.project import save_project
from app.train.runs import RUN_FILE, graph_changes


def train(project, out, *extra, capsys):
    code = cli.main(["train", str(project), "--epochs", "2", "--max-steps", "3",
                     "--batch-size", "32", "--device", "cpu", "--out", str(out), *extra])
    capsys.readouterr()
    assert code == 0


def test_each_run_keeps_its_record_and_runs_compares_them(tmp_path, capsys):
    project = tmp_path / "tiny.json"
    save_project(tiny_net(), project)
    train(project, tmp_path / "runs" / "a", capsys=capsys)
    rec = json.loads((tmp_path / "runs" / "a" / RUN_FILE).read_text())
    assert rec["status"] == "finished" and rec["config"]["batch_size"] == 32
    assert [e["epoch"] for e in rec["epochs"]] == [1]  # max-steps 3 stops inside epoch 1…
    assert len(rec["confusion_matrix"]) == 10 and rec["classes"][0] == "0"
    assert sum(map(sum, rec["confusion_matrix"])) == 360
    assert rec["graph"]["nodes"][1]["params"]["filters"] == 8

    save_project(tiny_net(filters=16), project)  # change the graph and a setting
    train(project, tmp_path / "runs" / "b", "--lr", "0.01", capsys=capsys)
    (tmp_path / "runs" / "junk").mkdir()  # a folder without a record is skipped
    assert cli.main(["runs", str(project)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["run", "status", "epochs"]
    assert out[1].startswith("a ") and "(first)" in out[1]
    assert out[2].startswith("b ") and "lr 0.002→0.01" in out[2] and "n2.filters 8→16" in out[2]
    assert cli.main(["runs", str(project), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in rows] == ["a", "b"] and rows[1]["epochs"] == 1
    assert rows[0]["best_val_acc"] == rec["epochs"][0]["val_acc"]


def test_no_runs_and_missing_project(tmp_path, capsys):
    project = tmp_path / "p.json"
    save_project(tiny_net(), project)
    assert cli.main(["runs", str(project)]) == 0
    assert "no runs of" in capsys.readouterr().err
    assert cli.main(["runs", str(tmp_path / "nope.json")]) == 2
    assert "no such project file" in capsys.readouterr().err


def test_graph_changes_names_what_changed():
    a = tiny_net().to_dict()
    g = tiny_net(filters=4)
    n = g.add_node("Dropout", {"rate": 0.5})
    b = g.to_dict()
    changes = graph_changes(a, b)
    assert f"+{n} Dropout" in changes and "n2.filters 8→4" in changes
    assert graph_changes(a, a) == []
    assert any(c.startswith("-") for c in graph_changes(b, a))
