"""The CLI under hostile input (issue 12): its own exit code for bugs, escaped output,
no traceback, and saving that keeps what the user had."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.cli import main
from app.project import load_project, save_project

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, data, name="p.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data))
    return p


def net(**node_fields):
    return {"format": "netcanvas", "version": 1, "name": "n\x1b]0;owned\x07",
            "nodes": [{"id": "in\x1b[31m", "type": "Input", "params": {"shape": [4]}},
                      {"id": "d\x1b[2J", "type": "Linear", "params": {"units": 2},
                       **node_fields}],
            "edges": [{"source": "in\x1b[31m", "target": "d\x1b[2J"}]}


def test_a_bug_exits_3_with_one_line_and_a_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NETCANVAS_REPORTS", str(tmp_path / "reports"))
    monkeypatch.delenv("NETCANVAS_DEBUG", raising=False)

    def broken(path):
        raise RuntimeError("something nobody foresaw")
    monkeypatch.setattr(cli, "load_project", broken)
    code, out, err = run(capsys, "validate", str(write(tmp_path, net())))
    assert code == 3 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error: RuntimeError: something nobody foresaw" in lines[0]
    assert "please report" in lines[0]
    report = Path(lines[0].rsplit("details in ", 1)[1])
    assert report.parent == tmp_path / "reports"
    text = report.read_text()
    assert "Traceback" in text and "something nobody foresaw" in text and "broken" in text


def test_errors_are_1_and_unreadable_is_2_not_3(tmp_path, capsys):
    d = net()
    d["nodes"][1]["params"]["units"] = 2
    d["nodes"].append({"id": "lone", "type": "Flatten"})
    assert run(capsys, "validate", str(write(tmp_path, d)))[0] == 1
    assert run(capsys, "validate", str(tmp_path / "nothing.json"))[0] == 2
    assert run(capsys, "summary", "/dev/zero")[0] == 2


def test_control_characters_never_reach_the_terminal(tmp_path, capsys):
    p = write(tmp_path, net(label="\x1b[5mblink"))
    for args in (("validate", str(p)), ("summary", str(p))):
        code, out, err = run(capsys, *args)
        assert "\x1b" not in out + err and "\x07" not in out + err
    assert "in\\x1b[31m" in out and "n\\x1b]0;owned\\x07" in out
    d = net()
    d["nodes"][1]["params"]["units"] = "two\x1b[2J"  # into an error message
    d["nodes"].append({"id": "x\x1b]8;;http://evil\x07", "type": "Nope\x1b[1m"})
    code, out, err = run(capsys, "validate", str(write(tmp_path, d)))
    assert code == 2 and "\x1b" not in err and "\\x1b" in err
    d = net()
    d["nodes"].append({"id": "lone\x1b[2J", "type": "Flatten"})
    code, out, err = run(capsys, "validate", str(write(tmp_path, d)))
    assert code == 1 and "\x1b" not in out and out.startswith("in\\x1b[31m") is False
    assert "lone\\x1b[2J: " in out


def test_an_input_only_graph_is_not_valid(tmp_path, capsys):
    p = write(tmp_path, {"format": "netcanvas", "version": 1,
                         "nodes": [{"id": "i", "type": "Input"}]})
    code, out, _ = run(capsys, "validate", str(p))
    assert code == 1 and out.startswith("i: the network is only an Input")
    code, _, err = run(capsys, "export", str(p), "--to", "python", "-o", str(tmp_path / "x.py"))
    assert code == 1 and "only an Input" in err


def test_export_refuses_past_the_limits_before_building(tmp_path, capsys, monkeypatch):
    from app.graph import cost
    monkeypatch.setattr(cost, "MAX_PARAMS", 100)
    p = write(tmp_path, {"format": "netcanvas", "version": 1,
                         "nodes": [{"id": "i", "type": "Input", "params": {"shape": [64]}},
                                   {"id": "d", "type": "Linear", "params": {"units": 64}}],
                         "edges": [{"source": "i", "target": "d"}]})
    code, out, _ = run(capsys, "validate", str(p))
    assert code == 1 and "4,160 parameters; the limit is 100" in out
    for to in ("python", "weights", "onnx"):
        code, _, err = run(capsys, "export", str(p), "--to", to, "-o", str(tmp_path / f"x.{to}"))
        assert code == 1 and "4,160 parameters" in err
        assert not (tmp_path / f"x.{to}").exists()


WORST = {
    "no edges": '{"format":"netcanvas","version":1,"nodes":[{"id":"i","type":"Input"}]}',
    "list as type": '{"format":"netcanvas","version":1,"nodes":[{"id":"i","type":[]}],"edges":[]}',
    "400 digits": '{"format":"netcanvas","version":1,"nodes":[{"id":"c","type":"Conv2d",'
                  '"params":{"filters":' + "9" * 400 + '}}],"edges":[]}',
    "lone surrogate": '{"format":"netcanvas","version":1,"name":"\\ud800","nodes":[],"edges":[]}',
    "deep brackets": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("name", list(WORST))
def test_worst_files_through_the_real_cli(tmp_path, name):
    p = tmp_path / "w.json"
    p.write_text(WORST[name])
    commands = [["validate", str(p)]]
    if name in ("no edges", "lone surrogate"):  # each process costs seconds on CI
        commands += [["summary", str(p)],
                     ["export", str(p), "--to", "python", "-o", str(tmp_path / "o.py")]]
    for cmd in commands:
        r = subprocess.run([sys.executable, "-m", "app", *cmd], capture_output=True, text=True,
                           timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert r.returncode in (1, 2), (cmd, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr


# ---- saving keeps what the user had ----------------------------------------------------

def small(tmp_path):
    p = write(tmp_path, {"format": "netcanvas", "version": 1,
                         "nodes": [{"id": "i", "type": "Input"}]})
    return load_project(p), p


def test_save_keeps_a_private_files_mode(tmp_path):
    g, p = small(tmp_path)
    os.chmod(p, 0o600)
    save_project(g, p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_save_writes_through_a_symlink(tmp_path):
    g, target = small(tmp_path)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    g.rename("i", "through the link")
    save_project(g, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert load_project(target).node("i")["label"] == "through the link"


def test_save_removes_temp_files_of_a_killed_save(tmp_path):
    g, p = small(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".{p.name}.{dead.pid}.abc123.tmp"
    stale.write_text("half a file")
    other = tmp_path / f".{p.name}.{os.getppid()}.live.tmp"  # a live process's: kept
    other.write_text("being written")
    save_project(g, p)
    assert not stale.exists() and other.exists()
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == [other.name]


def test_save_never_fails_on_text_utf8_cannot_encode(tmp_path):
    """Refused where it is typed; should some arrive anyway, the save still happens."""
    g, p = small(tmp_path)
    g.node("i")["label"] = "bad \ud800"  # past the editor's check, as a bug might
    save_project(g, p)
    assert load_project(p).node("i")["label"] == "bad ?"


def test_a_reader_that_leaves_early_is_no_error(tmp_path):
    """`netcanvas summary big.json | head -1`: the reader closes the pipe after one line; the
    command ends quietly with its own exit code, not 'internal error: BrokenPipeError'."""
    from helpers import chain
    g, _ = chain(*[("Conv2d", {"filters": 4})] * 1500, shape=(3, 8, 8))
    path = tmp_path / "big.json"
    save_project(g, path)
    proc = subprocess.Popen([sys.executable, "-m", "app", "summary", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parent.parent)
    first = proc.stdout.readline()
    proc.stdout.close()  # the summary is far larger than a pipe's buffer: the writer is blocked
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith(b"Model:")
    assert "internal error" not in err and "Traceback" not in err and "Broken" not in err
