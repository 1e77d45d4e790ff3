"""Pre-build checks of the block families in catalogue_families.py (same contract as
checks.py: None exactly when build() + forward() succeed for that input)."""
from __future__ import annotations

from .checks import fmt, need_image


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


def check_upsample(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("Upsample", x):
        return err
    if p["mode"] == "nearest" and p["align_corners"]:
        return ("Upsample: align_corners applies only to bilinear resizing — turn it off or "
                "use mode bilinear")
    if p["size"] is not None:
        return None
    s = p["scale_factor"]
    h, w = int(float(x[1]) * s), int(float(x[2]) * s)  # as torch: ⌊n·scale⌋ in double
    if h < 1 or w < 1:
        return (f"Upsample: scale_factor {s:g} of a {x[1]}×{x[2]} input gives {h}×{w} — use a "
                f"larger scale_factor or set size")
    return None


def check_groupnorm(in_shapes, p):
    x = in_shapes[0]
    c, g = x[0], p["groups"]
    if c % g:
        fits = max(d for d in range(1, min(g, c) + 1) if c % d == 0)
        return (f"GroupNorm: {g} groups do not divide the {c} channels — use groups that "
                f"divides {c} (e.g. {fits})")
    if c // g == 1 and all(v == 1 for v in x[1:]):
        where = "a 1×1 map" if len(x) == 3 else f"a flat input {fmt(x)}"
        return (f"GroupNorm: each group is one channel of {where}, a single value, which "
                f"normalises to nothing — use fewer groups or a larger map")
    return None


def check_instancenorm(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("InstanceNorm", x):
        return err
    if x[1] * x[2] == 1:
        return ("InstanceNorm: a 1×1 map has one value per channel, which normalises to "
                "nothing — use a larger map (or LayerNorm / BatchNorm)")
    return None
