"""Pre-build checks of the block families in catalogue_families.py (same contract as
checks.py: None exactly when build() + forward() succeed for that input)."""
from __future__ import annotations

from .checks import need_image


def image_at_least(tid: str, size: int, why: str):
    """A [C, H, W] input of at least size×size (`why`: what needs it)."""
    def check(in_shapes, p):
        x = in_shapes[0]
        if err := need_image(tid, x):
            return err
        if x[1] < size or x[2] < size:
            return (f"{tid}: input {x[1]}×{x[2]} is too small for {why} — it needs at least "
                    f"{size}×{size}; remove a downsampling layer before it or use a larger "
                    f"input")
        return None
    return check


def check_transition(in_shapes, p):
    x = in_shapes[0]
    if err := image_at_least("DenseTransition", 2, "its 2×2 average pool")(in_shapes, p):
        return err
    if int(x[0] * p["compression"]) < 1:
        return (f"DenseTransition: compression {p['compression']} of {x[0]} channels leaves "
                f"no channel — use a compression of at least {1 / x[0]:.3g}")
    return None


def check_inverted_residual(in_shapes, p):
    if err := need_image("InvertedResidual", in_shapes[0]):
        return err
    if p["kernel_size"] % 2 == 0:
        return (f"InvertedResidual: kernel_size {p['kernel_size']} is even — the depthwise "
                f"conv pads (k−1)/2 on each side, so use an odd size (3, 5, 7)")
    return None
