"""The training-memory estimate against measured peaks of real training steps on the CPU.

The measurement (tests/memory_probe.py) watches every tensor torch creates during two real
forward + backward + optimizer steps — the optimizer the trainer makes, with its weight
decay — and records the peak of live bytes; it knows nothing of the estimate.
"""
import json

import pytest
import torch
from helpers import chain
from memory_probe import measured_training_peak

from app.compile import compile_graph
from app.project import load_project
from app.train.config import TrainConfig
from app.train.loop import make_optimizer
from app.train.memory import estimate_memory
from resources import EXAMPLE


def conv_net():
    return chain(("ResNetStem", {"filters": 16}), ("Residual", {"filters": 16}),
                 ("Residual", {"filters": 32, "stride": 2}),
                 ("SqueezeExcite", {"reduction": 4}),
                 ("DenseBlock", {"growth_rate": 8, "layers": 2}), "GlobalAvgPool",
                 ("Linear", {"units": 10}), shape=(3, 64, 64), name="conv")[0]


def mlp():  # weights dominate: the optimizer step is the peak
    return chain("Flatten", ("Linear", {"units": 512, "activation": "relu"}),
                 ("Linear", {"units": 10}), shape=(3, 32, 32), name="mlp")[0]


CASES = [  # (net, batch, optimizer, precision)
    ("example", 4, "adamw", "fp32"),
    ("conv", 32, "sgd", "fp32"),
    ("conv", 16, "adam", "bf16"),
    ("mlp", 32, "adam", "fp32"),
    ("mlp", 8, "sgd", "fp32"),
]


@pytest.mark.parametrize("net, batch, optimizer, precision", CASES)
def test_estimate_is_within_15_percent_of_the_measured_peak(net, batch, optimizer, precision):
    g = {"example": lambda: load_project(EXAMPLE), "conv": conv_net, "mlp": mlp}[net]()
    torch.manual_seed(0)
    model = compile_graph(g).train()
    x = torch.randn(batch, *g.info[g.input_nodes()[0]].output_shape)
    y = torch.randint(0, 10, (batch,))
    config = TrainConfig(optimizer=optimizer)
    peak = measured_training_peak(model, lambda m: make_optimizer(m, config), x, y,
                                  autocast_dtype=torch.bfloat16 if precision == "bf16" else None)
    est = estimate_memory(g, batch, optimizer, config.momentum, precision,
                          weight_decay=config.weight_decay, device="cpu")
    print(f"{net} batch {batch} {optimizer} {precision}: estimate {est.total:,} B, "
          f"measured peak {peak:,} B ({est.total / peak - 1:+.1%})")
    assert est.total == pytest.approx(peak, rel=0.15)


def test_per_node_figures_add_up_and_scale_with_the_batch():
    g = load_project(EXAMPLE)
    e64, e128 = estimate_memory(g, 64, "adamw"), estimate_memory(g, 128, "sgd")
    params = g.totals()["total_params"]
    assert e64.gradients == params * 4 and e64.optimizer == 2 * params * 4
    assert e128.optimizer == params * 4
    assert sum(m.activations for m in e64.nodes.values()) == e64.activations
    assert e128.activations == pytest.approx(2 * e64.activations, rel=1e-3)
    # a block keeps its internals: several times its output, by a factor that varies
    ratios = [e64.nodes[n].activations / (g.info[n].activation_bytes * 64)
              for n in g.topological_order() if g.type_of(n) in ("VGGBlock", "Inception")]
    assert all(r > 2 for r in ratios) and max(ratios) / min(ratios) > 1.2
    # half precision keeps about half the activation bytes
    half = estimate_memory(g, 64, "adamw", amp="bf16")
    assert 0.4 < half.activations / e64.activations < 0.75


def test_bad_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="fp32, bf16, fp16"):
        estimate_memory(load_project(EXAMPLE), 8, amp="fp8")


# --- netcanvas summary --batch ------------------------------------------------------------

def test_summary_adds_train_bytes_per_node_a_total_and_whether_it_fits(capsys):
    from app.cli import main
    code = main(["summary", str(EXAMPLE), "--batch", "32", "--precision", "bf16", "--json",
                 "--gpu-gib", "0.01"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    est = estimate_memory(load_project(EXAMPLE), 32, "adamw", amp="bf16")
    assert data["train_bytes"] == est.total
    assert data["train_memory"]["precision"] == "bf16" and data["train_memory"]["fits"] is False
    assert [n["train_bytes"] for n in data["nodes"]] == [m.total for m in est.nodes.values()]
    code = main(["summary", str(EXAMPLE), "--batch", "32", "--gpu-gib", "80"])
    out = capsys.readouterr().out
    assert "Train memory" in out and "Fits on a 80 GiB GPU" in out


@pytest.mark.parametrize("args, words", [
    (["--batch", "zero"], "--batch: must be a positive number"),
    (["--batch", "8", "--precision", "fp8"], "invalid choice: 'fp8'"),
    (["--batch", "8", "--gpu-gib", "-1"], "--gpu-gib: must be a positive number"),
])
def test_bad_memory_options_get_a_message_not_a_traceback(args, words, capsys):
    from app.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["summary", str(EXAMPLE), *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and words in err and "Traceback" not in err


def test_a_network_with_problems_gets_a_reason_instead_of_memory(tmp_path, capsys):
    from app.cli import main
    from app.project import save_project
    g = mlp()
    g.add_node("Conv2d")  # connected to nothing
    save_project(g, tmp_path / "bad.json")
    assert main(["summary", str(tmp_path / "bad.json"), "--batch", "8", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert "fix the problems first" in data["train_memory"]["error"]
    assert main(["summary", str(tmp_path / "bad.json"), "--batch", "8"]) == 1
    assert "Training memory: fix the problems first" in capsys.readouterr().out
