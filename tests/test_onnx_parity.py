"""The ONNX check judges against float32's own error (issue 12): a deep net with realistic
BatchNorm statistics (logits in the hundreds, where float32 torch is itself 1e-4..1e-3 from
the exact result) passes; a real bug still fails."""
import copy
import functools
import json

import numpy as np
import pytest
import torch

from app.compile import compile_graph
from app.export import ExportError, export_onnx, onnx_export
from app.export.parity import Parity, judge
from app.project import project_from_dict
from resources import templates

pytest.importorskip("onnxruntime")


def test_the_bound_is_relative_to_the_output():
    want = np.array([[400.0, -380.0, 12.0]], dtype=np.float32)
    assert judge(want, want + 0.01, 1e-4, None).ok  # 2.5e-5 of the largest logit
    assert not judge(want, want + 0.5, 1e-4, None).ok
    small = np.array([[0.3, -0.2]], dtype=np.float32)
    assert judge(small, small + 9e-5, 1e-4, None).ok  # never tighter than 1e-4
    assert not judge(small, small + 2e-4, 1e-4, None).ok


def test_float64_judges_what_the_relative_bound_cannot():
    exact = np.array([[1.0, 2.0]])
    f32 = (exact + 3e-4).astype(np.float32)  # float32 torch's own error: 3e-4
    close = (exact - 3e-4).astype(np.float32)  # onnxruntime as far, the other way
    verdict = judge(f32, close, 1e-4, lambda: exact)
    assert verdict.max_abs_diff > verdict.allowed and verdict.ok
    assert "against a float64 run" in verdict.text()
    wrong = (exact + 0.05).astype(np.float32)  # a bug: 100× float32's error
    assert not judge(f32, wrong, 1e-4, lambda: exact).ok
    assert not Parity(1.0, 0.1).ok  # nothing to judge with: refused


@functools.cache
def deep_net():
    """ResNet-18 from the template with BatchNorm statistics like a trained net's: logits
    of several hundred, float32 ≈ 4e-4 from float64 (the old absolute 1e-4 refused it)."""
    data = json.loads(templates()["resnet18"].read_text())
    data["nodes"][0]["params"]["shape"] = [3, 64, 64]
    graph = project_from_dict(data)
    model = compile_graph(graph).eval()
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.2 + 0.05)
            m.weight.data.copy_(1 + 0.2 * torch.rand(c, generator=gen))
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.2)
    return graph, model


def test_deep_net_with_realistic_batchnorm_passes_and_a_real_bug_fails(tmp_path):
    graph, model = deep_net()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        logits = model(x)
        f32_error = (logits.double() - copy.deepcopy(model).double()(x.double())).abs().max()
    assert logits.abs().max() > 200 and f32_error > 1e-4  # the case the old check refused
    report = export_onnx(graph, tmp_path / "deep.onnx", model=model)
    assert report.path.exists()
    buggy = copy.deepcopy(model)  # one BatchNorm mean off by 0.05: a wrong constant
    bns = [m for m in buggy.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bns[len(bns) // 2].running_mean.add_(0.05)
    with pytest.raises(ExportError, match="does not compute what the network does"):
        onnx_export._compare(report.path, buggy, x, "logits", onnx_export.TOLERANCE, {})
