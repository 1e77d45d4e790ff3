"""Does the ONNX model compute what the network does? Judged against float32's own error.

A fixed absolute bound (1e-4) refuses correct exports of deep nets: with realistic
BatchNorm statistics a ResNet's logits reach the hundreds, and float32 torch itself is then
1e-4..1e-3 away from the exact result, so onnxruntime (which sums in another order) is too.
The bound is therefore relative to the output's magnitude; where a difference is still
larger, a float64 run of the same network judges: onnxruntime passes when it is as close
to the float64 result as float32 torch is. A real bug (a wrong operator, a lost layer)
misses both by orders of magnitude.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

JUDGE_SLACK = 2.0  # onnxruntime may be this many times float32 torch's own error


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float  # onnxruntime vs float32 torch
    allowed: float  # tolerance × max(1, largest |output|)
    float32_error: float | None = None  # float32 torch vs float64 torch, when judged
    onnx_error: float | None = None  # onnxruntime vs float64 torch, when judged

    @property
    def ok(self) -> bool:
        if self.max_abs_diff <= self.allowed:
            return True
        if self.onnx_error is None or self.float32_error is None:
            return False
        return self.onnx_error <= JUDGE_SLACK * self.float32_error + self.allowed

    def text(self) -> str:
        out = f"max abs diff {self.max_abs_diff:.2g} (allowed {self.allowed:.2g})"
        if self.onnx_error is not None:
            out += (f"; against a float64 run: onnxruntime {self.onnx_error:.2g}, float32 "
                    f"torch {self.float32_error:.2g}")
        return out


def judge(want: np.ndarray, got: np.ndarray, tolerance: float,
          exact: Callable[[], np.ndarray] | None) -> Parity:
    """`want`: float32 torch's output; `got`: onnxruntime's; `exact()`: float64 torch's,
    computed only when the relative bound is not met."""
    want64, got64 = want.astype(np.float64), got.astype(np.float64)
    diff = float(np.abs(got64 - want64).max())
    allowed = tolerance * max(1.0, float(np.abs(want64).max()))
    if diff <= allowed or exact is None:
        return Parity(diff, allowed)
    ref = exact()
    return Parity(diff, allowed, float(np.abs(want64 - ref).max()),
                  float(np.abs(got64 - ref).max()))


def float64_run(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], np.ndarray]:
    """A deferred float64 run of a copy of `model` (eval mode) on `x`."""
    def run() -> np.ndarray:
        exact = copy.deepcopy(model).double().eval()
        with torch.inference_mode():
            return exact(x.double()).numpy()
    return run
