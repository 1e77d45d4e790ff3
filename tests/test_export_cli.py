"""`netcanvas export`: every format, exit codes 0/1/2, messages without tracebacks."""
import subprocess
import sys

import pytest

from app.cli import main
from app.export.diagram import find_renderer
from app.project import save_project
from helpers import chain
from resources import templates

HYBRID = str(templates()["hybrid"])


def run(*args, capsys):
    code = main(["export", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("to, suffix", [("python", ".py"), ("onnx", ".onnx"),
                                        ("weights", ".safetensors"), ("svg", ".svg"),
                                        ("png", ".png"), ("pdf", ".pdf")])
def test_every_format(to, suffix, tmp_path, capsys):
    if to in ("svg", "png", "pdf") and find_renderer() is None:
        pytest.skip("no Graphviz renderer (pip install graphviz-pure)")
    out_file = tmp_path / f"net{suffix}"
    code, out, err = run(HYBRID, "--to", to, "-o", out_file, capsys=capsys)
    assert code == 0, err
    assert out_file.exists() and out_file.stat().st_size > 0
    assert str(out_file) in out
    if to == "onnx":
        assert "max abs diff" in out and "opset 20" in out


def test_format_from_the_suffix_and_onnx_options(tmp_path, capsys):
    code, out, err = run(HYBRID, "-o", tmp_path / "n.onnx", "--opset", "18", capsys=capsys)
    assert code == 0, err
    assert "opset 18" in out


def test_unreadable_project_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    code, _, err = run(bad, "--to", "python", "-o", tmp_path / "x.py", capsys=capsys)
    assert code == 2 and "not valid JSON" in err
    code, _, err = run(tmp_path / "missing.json", "--to", "onnx", capsys=capsys)
    assert code == 2 and "does not exist" in err


def test_bad_command_lines_exit_2(tmp_path, capsys):
    code, _, err = run(HYBRID, "-o", tmp_path / "x.unknown", capsys=capsys)
    assert code == 2 and "--to" in err
    code, _, err = run(HYBRID, "--to", "svg", "--opset", "13", capsys=capsys)
    assert code == 2 and "--opset" in err
    code, _, err = run(HYBRID, "--to", "png", "--weights", "w.safetensors", capsys=capsys)
    assert code == 2 and "--weights" in err
    with pytest.raises(SystemExit) as info:  # argparse's own refusal
        main(["export", HYBRID, "--to", "gif"])
    assert info.value.code == 2


def test_graph_with_problems_exits_1(tmp_path, capsys):
    g, ids = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 3}))
    p = tmp_path / "bad.json"
    save_project(g, p)
    code, _, err = run(p, "--to", "python", "-o", tmp_path / "x.py", capsys=capsys)
    assert code == 1 and f"{ids[2]}:" in err and "problem" in err
    assert not (tmp_path / "x.py").exists()


def test_failed_export_exits_1(tmp_path, capsys):
    code, _, err = run(HYBRID, "--to", "onnx", "-o", tmp_path / "x.onnx", "--opset", "3",
                       capsys=capsys)
    assert code == 1 and "opset must be" in err
    code, _, err = run(HYBRID, "--to", "python", "-o", tmp_path / "no" / "x.py", capsys=capsys)
    assert code == 1 and "does not exist" in err


def test_weights_option(tmp_path, capsys):
    w = tmp_path / "w.safetensors"
    assert run(HYBRID, "--to", "weights", "-o", w, "--seed", "1", capsys=capsys)[0] == 0
    code, _out, err = run(HYBRID, "--to", "python", "-o", tmp_path / "net.py", "--weights", w,
                         capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "net.pt").exists()
    run_py = subprocess.run([sys.executable, "net.py", "net.pt"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert run_py.returncode == 0, run_py.stderr
    # weights of another network: exit 1, every misfit listed
    g, _ = chain(("Conv2d", {"filters": 8}), "GlobalAvgPool", ("Linear", {"units": 3}))
    other = tmp_path / "other.json"
    save_project(g, other)
    code, _, err = run(other, "--to", "onnx", "-o", tmp_path / "o.onnx", "--weights", w,
                       capsys=capsys)
    assert code == 1
    assert "do not fit" in err and "missing" in err and "unexpected" in err


def test_refuses_to_overwrite_the_project(tmp_path, capsys):
    g, _ = chain(("Conv2d", {"filters": 8}))
    p = tmp_path / "p.json"
    save_project(g, p)
    code, _, err = run(p, "--to", "python", "-o", p, capsys=capsys)
    assert code == 2 and "project itself" in err


def test_the_installed_command_prints_no_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "netcanvas", "version": 1, "nodes": "x"}')
    run_cli = subprocess.run([sys.executable, "-m", "app", "export", str(bad), "--to", "onnx"],
                             capture_output=True, text=True, timeout=120, check=False)
    assert run_cli.returncode == 2
    assert "Traceback" not in run_cli.stderr and "nodes" in run_cli.stderr
