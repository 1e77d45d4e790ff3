"""The netcanvas CLI: exit codes, one line per error, one JSON object."""
import json
import subprocess
import sys

from app.cli import main
from app.project import save_project
from helpers import chain
from resources import templates


def run(*args, capsys):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_valid_file(capsys):
    code, out, _ = run("validate", str(templates()["resnet18"]), capsys=capsys)
    assert code == 0 and "valid" in out


def test_validate_errors_one_line_each_starting_with_node(tmp_path, capsys):
    g, ids = chain(("Conv2d", {"filters": 8}), ("Linear", {"units": 3}))
    lone = g.add_node("Flatten")
    p = tmp_path / "bad.json"
    save_project(g, p)
    code, out, _ = run("validate", str(p), capsys=capsys)
    lines = out.strip().splitlines()
    assert code == 1
    assert sorted(line.split(":")[0] for line in lines) == sorted([ids[2], lone])


def test_unreadable_file_exits_2_without_traceback(tmp_path, capsys):
    p = tmp_path / "x.json"
    p.write_text('{"format": "netcanvas", "version": 3}')
    code, out, err = run("validate", str(p), capsys=capsys)
    assert code == 2 and "Traceback" not in err and "newer NetCanvas" in err
    code, out, err = run("summary", str(tmp_path / "missing.json"), "--json", capsys=capsys)
    assert code == 2 and "Traceback" not in err


def test_summary_json_is_one_object_with_the_documented_keys(capsys):
    code, out, _ = run("summary", str(templates()["resnet18"]), "--json", capsys=capsys)
    data = json.loads(out)
    assert code == 0
    assert set(data) == {"name", "input_shape", "output_shape", "total_params",
                         "trainable_params", "total_macs", "nodes", "errors"}
    assert data["total_params"] == 11_689_512 and data["total_macs"] == 1_814_073_344
    assert set(data["nodes"][0]) == {"id", "type", "output_shape", "params", "macs",
                                     "activation_bytes", "error", "receptive_field",
                                     "effective_stride", "first_centre"}
    assert sum(n["params"] for n in data["nodes"]) == data["total_params"]


def test_summary_table(capsys):
    code, out, _ = run("summary", str(templates()["vgg16"]), capsys=capsys)
    assert code == 0
    assert "Total params: 138,357,544" in out and "[512, 7, 7]" in out


def test_console_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "app", "validate", str(templates()["hybrid"])],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
