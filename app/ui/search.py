"""Forgiving search, shared by the palette, the quick-add popup and Find Node: "bn" finds
BatchNorm (initials), "incep" Inception (a prefix), "gap" GlobalAvgPool, "conv2dd" Conv2d
(a typo), "pool" every pool (a word of the name or of its description)."""
from __future__ import annotations

import re
from difflib import SequenceMatcher


def initials(name: str) -> str:
    """BatchNorm → "bn", GlobalAvgPool → "gap", Conv2d → "c2", res_conv1 → "rc"."""
    parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return "".join(p[0] for p in parts).lower()


def _word_score(w: str, name: str, hay: str) -> float:
    n = name.lower()
    if n == w:
        return 10
    if n.startswith(w):
        return 8
    if initials(name).startswith(w) and len(w) >= 2:
        return 7
    if w in n:
        return 6
    if len(w) >= 4 and SequenceMatcher(None, w, n).ratio() >= 0.8:
        return 4  # a typo
    if w in hay:
        return 2
    if len(w) >= 3 and _subsequence(w, n):
        return 1
    return 0


def _subsequence(w: str, n: str) -> bool:
    it = iter(n)
    return all(c in it for c in w)


def score(query: str, name: str, hay: str = "") -> float:
    """How well `name` (with `hay`: its description) matches; 0 = not at all. Every word of
    the query must match something."""
    words = query.lower().split()
    if not words:
        return 1
    hay = hay.lower()
    total = 0.0
    for w in words:
        s = _word_score(w, name, hay)
        if not s:
            return 0
        total += s
    return total
