"""Inspection results as Pillow images: a feature-map grid, and Grad-CAM over the input
with the predicted classes. The CLI saves these; the editor's dialogs show the same images,
so the two never disagree."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

BG, FG, DIM, ACCENT = (250, 250, 250), (30, 30, 30), (110, 110, 110), (214, 39, 40)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _jet(v: np.ndarray) -> np.ndarray:
    """0..1 → RGB uint8 (the classic blue-cyan-yellow-red heat map)."""
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], -1) * 255).astype(np.uint8)


def input_image(image: torch.Tensor, size: int) -> Image.Image:
    """[C, H, W] in 0..1 → an RGB picture `size` pixels high (nearest: pixels stay pixels)."""
    a = image.detach().float().clamp(0, 1).cpu().numpy()
    a = np.repeat(a[:1], 3, 0) if a.shape[0] < 3 else a[:3]
    im = Image.fromarray((a.transpose(1, 2, 0) * 255).astype(np.uint8), "RGB")
    w = max(1, round(size * im.width / im.height))
    return im.resize((w, size), Image.Resampling.NEAREST)


def feature_grid(maps: torch.Tensor, title: str, max_maps: int = 64,
                 tile: int = 72) -> Image.Image:
    """One grey tile per channel (each scaled to its own min..max, the range under it);
    a flat [F] output is drawn as one square tile."""
    m = maps.detach().float().cpu()
    note = ""
    if m.ndim == 1:
        side = math.ceil(math.sqrt(m.numel()))
        m = torch.cat([m, m.new_full((side * side - m.numel(),), float(m.min()))])
        m = m.view(1, side, side)
        note = f" (a flat output of {maps.numel()} values, drawn as one {side}×{side} tile)"
    n = min(len(m), max_maps)
    if n < len(m):
        note += f" — the first {n} of {len(m)} channels"
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    pad, label_h, head = 6, 14, 34
    W = cols * (tile + pad) + pad
    H = head + rows * (tile + label_h + pad) + pad
    img = Image.new("RGB", (max(W, 420), H), BG)
    d = ImageDraw.Draw(img)
    d.text((pad, 4), title, fill=FG, font=_font(13))
    d.text((pad, 19), note.strip(" —") or f"{n} channel(s)", fill=DIM, font=_font(11))
    small = _font(10)
    for i in range(n):
        a = m[i].numpy()
        lo, hi = float(a.min()), float(a.max())
        v = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
        t = Image.fromarray((v * 255).astype(np.uint8), "L").resize(
            (tile, tile), Image.Resampling.NEAREST)
        x = pad + (i % cols) * (tile + pad)
        y = head + (i // cols) * (tile + label_h + pad)
        img.paste(t.convert("RGB"), (x, y))
        d.text((x, y + tile + 1), f"{i}: {lo:.2g}…{hi:.2g}", fill=DIM, font=small)
    return img


def grad_cam_image(image: torch.Tensor, cam: torch.Tensor, probs: torch.Tensor,
                   classes: list[str], cls: int, title: str, size: int = 224,
                   top: int = 5) -> Image.Image:
    """The input, the heat map over it, and the top classes with their probabilities."""
    base = input_image(image, size)
    heat = Image.fromarray(_jet(cam.detach().float().cpu().numpy()), "RGB").resize(
        base.size, Image.Resampling.BILINEAR)
    over = Image.blend(base, heat, 0.5)
    pad, head, panel = 10, 40, 230
    W = pad * 4 + base.width * 2 + panel
    img = Image.new("RGB", (W, head + size + pad), BG)
    d = ImageDraw.Draw(img)
    name = classes[cls] if cls < len(classes) else str(cls)
    d.text((pad, 6), title, fill=FG, font=_font(13))
    d.text((pad, 22), f"Grad-CAM for class {name!r} (p = {float(probs[cls]):.1%})",
           fill=DIM, font=_font(11))
    img.paste(base, (pad, head))
    img.paste(over, (pad * 2 + base.width, head))
    x0 = pad * 3 + base.width * 2
    d.text((x0, head), "predicted", fill=FG, font=_font(12))
    order = torch.argsort(probs, descending=True)[:top].tolist()
    for r, k in enumerate(order):
        y = head + 20 + r * 22
        p = float(probs[k])
        d.rectangle((x0, y + 2, x0 + int(120 * p), y + 14),
                    fill=ACCENT if k == cls else (120, 150, 200))
        label = classes[k] if k < len(classes) else str(k)
        d.text((x0 + 126, y + 1), f"{label}  {p:.1%}", fill=FG, font=_font(11))
    return img
