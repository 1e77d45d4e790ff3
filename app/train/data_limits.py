"""Training data is checked like project files: sizes and labels before anything is loaded.

A 4 MB .npz can unpack to 4 GB (zip compresses zeros well), one label of 10⁹ would make
a billion class names, and resizing 1,797 digits to 3×2048×2048 needs 90 GB. Each of those
is found here from the headers and the shapes, before the memory is taken, and refused with
a DataError that says the numbers.
"""
from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """The data cannot be used for this network; the message says why and what to do."""

MAX_CLASSES = 100_000  # when the network does not say (its head is not known yet)
FALLBACK_LIMIT = 16 * 2 ** 30


def memory_limit() -> int:
    """Bytes a data set may take in memory: half the machine's RAM (16 GiB if unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # not a POSIX system
        return FALLBACK_LIMIT


def gib(n: float) -> str:
    return f"{n / 2 ** 30:,.1f} GiB"


def check_size(nbytes: int, what: str, fix: str) -> None:
    limit = memory_limit()
    if nbytes > limit:
        raise DataError(f"{what} would take {gib(nbytes)} of memory; at most {gib(limit)} "
                        f"(half of this machine's) can be used — {fix}")


def check_npz_size(path: Path) -> None:
    """Read the shapes and types of the arrays in a .npz from their headers (nothing is
    unpacked) and refuse it when x and y would not fit in memory as NetCanvas holds them
    (uint8 stays uint8, any other x becomes float32)."""
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                name = info.filename.removesuffix(".npy")
                if name not in ("x", "y", "classes"):
                    continue
                with z.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(f)
                n = math.prod(shape)
                held = 1 if name != "x" or dtype == np.uint8 else 4
                total += n * max(dtype.itemsize, held)  # loaded as stored, then converted
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError):
        return  # a corrupt archive or header: np.load says what is wrong, later
    check_size(total, f"{path}: its arrays unpacked", "use fewer or smaller samples")


def check_labels(y: np.ndarray, path: Path, max_classes: int | None) -> int:
    """The number of classes y implies; DataError when a label is negative, not whole, or
    past what the network's output (or MAX_CLASSES) allows."""
    limit = max_classes or MAX_CLASSES
    if y.size == 0:
        raise DataError(f"{path}: y holds no labels")
    lo, hi = y.min(), y.max()
    if lo < 0:
        raise DataError(f"{path}: class labels must be 0 or more; y has {_num(lo)}")
    if hi >= limit:
        head = (f"the network's output has {limit} classes" if max_classes
                else f"at most {limit:,} classes are allowed")
        raise DataError(f"{path}: y has the label {_num(hi)}, but {head} — labels must be "
                        f"0..{limit - 1} (is {_num(hi)} a missing-value marker?)")
    return int(hi) + 1


def _num(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)
