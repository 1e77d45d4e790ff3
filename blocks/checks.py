"""Pre-build checks: user-facing messages for the mistakes people make wiring blocks.

Each check is written from the closed-form output-size formulas of the layers it guards,
so that check() is None exactly when build() + forward() succeed for that input shape.
"""
from __future__ import annotations

from .spec import CheckError, Fix, pair


def fmt(shape) -> str:
    return "[" + ", ".join(str(v) for v in shape) + "]"


def out_len(n: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int | None:
    """Output length of a conv/pool along one axis, or None if it would be < 1. In ceil mode
    (pools) the size rounds up, but the last window must start inside the input or its left
    padding (torch's pooling_output_shape)."""
    span = d * (k - 1) + 1
    if not ceil:
        if n + 2 * p < span:
            return None
        return (n + 2 * p - span) // s + 1
    out = (n + 2 * p - span + s - 1) // s + 1
    if (out - 1) * s >= n + p:
        out -= 1
    return out if out >= 1 else None


def chain_len(n: int, chain) -> int | None:
    """Length after a chain of (kernel, stride, padding) layers, or None if one doesn't fit."""
    for k, s, p in chain:
        n = out_len(n, k, s, p)
        if n is None:
            return None
    return n


def min_len(chain) -> int:
    n = 1
    while chain_len(n, chain) is None:
        n += 1
    return n


def need_image(tid: str, shape) -> str | None:
    if len(shape) != 3:
        return (f"{tid} needs a [C, H, W] input but gets {fmt(shape)} — "
                f"remove the Flatten/GlobalAvgPool before it")
    return None


def fit_conv(tid, h, w, kernel, stride, dilation, padding) -> str | None:
    """Does a conv with this padding ("same", "valid", int or [ph, pw]) fit an h×w input?
    kernel, stride and dilation are each an int or [h, w]."""
    (sh, sw), (dh, dw) = pair(stride), pair(dilation)
    if padding == "same" and (sh, sw) == (1, 1):
        return None  # torch's "same" always fits
    kh, kw = pair(kernel)
    if padding == "same":
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    elif padding == "valid":
        ph = pw = 0
    else:
        ph, pw = pair(padding)
    if out_len(h, kh, sh, ph, dh) and out_len(w, kw, sw, pw, dw):
        return None
    kernel = f"{kh}×{kw} kernel"
    if dh > 1 or dw > 1:
        kernel += f" (dilated to {dh * (kh - 1) + 1}×{dw * (kw - 1) + 1})"
    if padding == "valid":
        return (f'{tid}: input {h}×{w} is smaller than the {kernel} with valid padding — '
                f'use padding "same" or a larger input')
    if padding == "same":
        step = sh if sh == sw else f"{sh}×{sw}"
        return (f"{tid}: input {h}×{w} is smaller than the {kernel} with same padding at "
                f"stride {step} — use an odd kernel size or a larger input")
    by = ph if ph == pw else f"{ph}×{pw}"
    return (f"{tid}: input {h}×{w} padded by {by} ({h + 2 * ph}×{w + 2 * pw}) is smaller "
            f'than the {kernel} — use padding "same", more padding or a larger input')


# --- primitives -------------------------------------------------------------------------

def check_conv2d(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("Conv2d", x):
        return err
    c, h, w = x
    g = p["groups"]
    if c % g:
        return (f"Conv2d: groups {g} does not divide the {c} input channels — "
                f"use groups that divides {c} (e.g. 1)")
    if p["filters"] % g:
        return (f"Conv2d: groups {g} does not divide the {p['filters']} filters — "
                f"make filters a multiple of {g}")
    return fit_conv("Conv2d", h, w, p["kernel_size"], p["stride"], p["dilation"], p["padding"])


def check_separable(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("DepthwiseSeparableConv", x):
        return err
    return fit_conv("DepthwiseSeparableConv", x[1], x[2], p["kernel_size"], p["stride"], 1,
                    "same")


def check_transposed(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("ConvTranspose2d", x):
        return err
    _, h, w = x
    kh, kw = pair(p["kernel_size"])
    s, pad = p["stride"], p["padding"]
    oh, ow = (h - 1) * s - 2 * pad + kh, (w - 1) * s - 2 * pad + kw
    if oh >= 1 and ow >= 1:
        return None
    most = min(((h - 1) * s + kh - 1) // 2, ((w - 1) * s + kw - 1) // 2)
    return (f"ConvTranspose2d: padding {pad} is too large for a {h}×{w} input — the output "
            f"would be {oh}×{ow}; use padding of at most {most}")


def pool_check(tid):
    def check(in_shapes, p):
        x = in_shapes[0]
        if err := need_image(tid, x):
            return err
        _, h, w = x
        kh, kw = pair(p["pool_size"])
        sh, sw = (kh, kw) if p["stride"] is None else pair(p["stride"])
        pad = p["padding"]
        ph, pw = ((kh - 1) // 2, (kw - 1) // 2) if pad == "same" else \
            (0, 0) if pad == "valid" else pair(pad)
        if ph > kh // 2 or pw > kw // 2:
            most = kh // 2 if kh // 2 == kw // 2 else f"[{kh // 2}, {kw // 2}]"
            return (f"{tid}: padding {fmt(pad) if isinstance(pad, list) else pad} is more "
                    f"than half the {kh}×{kw} pool — use padding of at most {most} or "
                    f'"same"')
        ceil = p["ceil_mode"]
        if out_len(h, kh, sh, ph, ceil=ceil) and out_len(w, kw, sw, pw, ceil=ceil):
            return None
        padded = f" padded to {h + 2 * ph}×{w + 2 * pw}" if ph or pw else ""
        return (f"{tid}: input {h}×{w}{padded} is smaller than the {kh}×{kw} pool — "
                f"remove a pooling layer before it or use a larger input")
    return check


def image_check(tid):
    def check(in_shapes, p):
        return need_image(tid, in_shapes[0])
    return check


def check_linear(in_shapes, p):
    x = in_shapes[0]
    if len(x) != 1:
        return CheckError(
            f"Linear needs a flat input but gets {fmt(x)} — insert Flatten or GlobalAvgPool",
            Fix(port=0, type_id="GlobalAvgPool", params={},
                description="insert GlobalAvgPool on the edge into input 1"))
    return None


def check_batchnorm(in_shapes, p):
    x = in_shapes[0]
    if len(x) not in (1, 3):
        return f"BatchNorm needs a [C, H, W] or [F] input but gets {fmt(x)}"
    return None


def check_concat(in_shapes, p):
    first = in_shapes[0]
    for i, x in enumerate(in_shapes[1:], start=2):
        if len(x) != len(first):
            return (f"Concat: input {i} is {fmt(x)} but input 1 is {fmt(first)} — "
                    f"join either all [C, H, W] or all flat inputs (add or remove a "
                    f"Flatten/GlobalAvgPool)")
        if len(x) == 3 and x[1:] != first[1:]:
            return (f"Concat: input {i} is {x[1]}×{x[2]} but input 1 is "
                    f"{first[1]}×{first[2]} — H and W must match; resize one side "
                    f"(pooling or a strided conv)")
    return None


def check_add(in_shapes, p):
    first = tuple(in_shapes[0])
    for i, x in enumerate(in_shapes[1:], start=2):
        x = tuple(x)
        if x == first:
            continue
        if len(x) != len(first):
            return (f"Add: input {i} is {fmt(x)} but input 1 is {fmt(first)} — Add needs "
                    f"inputs of identical shape (add or remove a Flatten/GlobalAvgPool)")
        if len(x) == 3 and x[1:] != first[1:]:
            return (f"Add: input {i} is {x[1]}×{x[2]} but input 1 is {first[1]}×{first[2]} "
                    f"— H and W must match; resize one side (pooling or a strided conv)")
        c0 = first[0]
        if len(x) == 3:
            return CheckError(
                f"Add: input {i} has {x[0]} channels but input 1 has {c0} — "
                f"put a 1×1 Conv2d({c0}) on input {i}",
                Fix(port=i - 1, type_id="Conv2d", params={"filters": c0, "kernel_size": 1},
                    description=f"insert Conv2d(filters={c0}, kernel_size=1) on the edge "
                                f"into input {i}"))
        return CheckError(
            f"Add: input {i} has {x[0]} features but input 1 has {c0} — "
            f"put a Linear({c0}) on input {i}",
            Fix(port=i - 1, type_id="Linear", params={"units": c0},
                description=f"insert Linear(units={c0}) on the edge into input {i}"))
    return None


# --- blocks -------------------------------------------------------------------------------

def check_vgg(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("VGGBlock", x):
        return err
    if x[1] < 2 or x[2] < 2:
        return (f"VGGBlock: input {x[1]}×{x[2]} is too small to pool — it needs at least "
                f"2×2; remove a pooling layer before it or use a larger input")
    return None


STEM_CHAINS = {
    # (kernel, stride, padding) along H (and W) of the main path; branches are size-equal.
    "resnet_v1": ((3, 2, 0), (3, 1, 0), (3, 1, 1), (3, 2, 0), (1, 1, 0), (3, 1, 0), (3, 2, 0)),
    "v4": ((3, 2, 0), (3, 1, 0), (3, 1, 1), (3, 2, 0), (1, 1, 0), (3, 1, 0), (3, 2, 0)),
}


def check_stem(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("InceptionStem", x):
        return err
    chain = STEM_CHAINS[p["variant"]]
    if chain_len(x[1], chain) and chain_len(x[2], chain):
        return None
    m = min_len(chain)
    return (f"InceptionStem: input {x[1]}×{x[2]} is too small for the {p['variant']} stem — "
            f"it needs at least {m}×{m} (299×299 is standard)")


def reduction_check(tid):
    def check(in_shapes, p):
        x = in_shapes[0]
        if err := need_image(tid, x):
            return err
        if x[1] < 3 or x[2] < 3:
            return (f"{tid}: input {x[1]}×{x[2]} is too small — it needs at least 3×3 for "
                    f"its 3×3 stride-2 valid convs and pool; remove a reduction before it")
        return None
    return check


def check_multiply(in_shapes, p):
    """Torch's broadcasting, after a [C] input next to a [C, H, W] one became [C, 1, 1]."""
    image = any(len(x) == 3 for x in in_shapes)
    shapes = [(x[0], 1, 1) if image and len(x) == 1 else tuple(x) for x in in_shapes]
    out = shapes[0]
    for i, (x, given) in enumerate(zip(shapes[1:], in_shapes[1:]), start=2):
        if len(x) != len(out) or any(a != b and 1 not in (a, b) for a, b in zip(out, x)):
            return (f"Multiply: input {i} is {fmt(given)} and does not broadcast with "
                    f"{fmt(out)} — multiply by the same shape, or by a gate of {out[0]} "
                    f"channels ([{out[0]}] or [{out[0]}, 1, 1])")
        out = tuple(max(a, b) for a, b in zip(out, x))
    return None


def check_se(in_shapes, p):
    x = in_shapes[0]
    if err := need_image("SqueezeExcite", x):
        return err
    if p["squeeze_channels"] is None and p["reduction"] > x[0]:
        return (f"SqueezeExcite: reduction {p['reduction']} is larger than the {x[0]} input "
                f"channels — use a reduction of at most {x[0]}")
    return None
