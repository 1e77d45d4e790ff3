"""Colours of block categories, shared by the editor's canvas and the exported diagrams.

CATEGORY_COLORS is the strong colour of each category (node header, border, palette
swatch); `fill_color` is a light tint of it for a node's body on a white background.
"""
from __future__ import annotations

CATEGORY_COLORS: dict[str, str] = {
    "Input": "#5B6B7F",
    "Convolution": "#2F7FD8",
    "Pooling": "#14A0A0",
    "Resize & padding": "#3E8FA8",
    "Dense": "#7A55D3",
    "Merge": "#D08A12",
    "Normalization & regularization": "#6E8B2E",
    "Activation": "#C2497D",
    "VGG": "#3559B5",
    "Inception": "#1E9150",
    "Residual": "#D2553A",
    "Inception-ResNet": "#A0463A",
    "Mobile & compact": "#B8860B",
    "Other blocks": "#6D6F78",
    "Composite": "#8E7CC3",
}
DEFAULT_COLOR = "#6D6F78"
ERROR_COLOR = "#D93025"


def category_color(category: str | None) -> str:
    """The strong colour of a category (#RRGGBB); unknown categories get a neutral grey."""
    return CATEGORY_COLORS.get(category or "", DEFAULT_COLOR)


def tint(color: str, amount: float = 0.82) -> str:
    """`color` mixed with white: amount 0 keeps it, 1 gives white."""
    c = color.lstrip("#")
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    mix = [round(v + (255 - v) * amount) for v in (r, g, b)]
    return "#" + "".join(f"{v:02X}" for v in mix)


def fill_color(category: str | None) -> str:
    """The light body colour of a node of this category in exported diagrams."""
    return tint(category_color(category))
