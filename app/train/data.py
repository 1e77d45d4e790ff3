"""Training data: built-in digits, image folders and .npz files, as in-memory tensors.

Every source becomes a `Dataset`: train and validation tensors shaped like the network's
Input (N×C×H×W, or N×F for a flat Input) and integer labels. Images are kept as uint8 where
they came as 8-bit (a quarter of the memory) and turned into floats one batch at a time,
on the training device; augmentation and normalisation are done there too, on whole
batches (`prepare_batch`), never per image.

Errors a user can fix (a missing folder, an empty class, a wrong shape) raise DataError
with a message that says what to do; files that cannot be read as images are skipped and
counted in `Dataset.messages`.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data_limits import DataError, check_labels, check_npz_size, check_size

Shape = tuple[int, ...]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
                  ".ppm", ".pgm", ".pbm", ".tga"}


@dataclass
class Split:
    x: torch.Tensor  # uint8 (0..255) or float32, N×C×H×W (or N×F)
    y: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    train: Split
    val: Split
    classes: list[str]
    source: str                       # "digits", or the path it came from
    messages: list[str] = field(default_factory=list)
    mean: list[float] | None = None   # per channel, of the training set, in 0..1 units
    std: list[float] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def sample_shape(self) -> Shape:
        return tuple(int(d) for d in self.train.x.shape[1:])

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size()
                   for t in (self.train.x, self.train.y, self.val.x, self.val.y))

    def describe(self) -> str:
        name = "scikit-learn digits" if self.source == "digits" else str(self.source)
        return (f"{name}: {len(self.train)} training and {len(self.val)} validation samples, "
                f"{self.num_classes} classes, each {list(self.sample_shape)}")


# ---- loading -------------------------------------------------------------------------

def load_dataset(source: str, input_shape: Shape, *, val_source: str | None = None,
                 val_fraction: float = 0.2, seed: int = 0,
                 max_classes: int | None = None) -> Dataset:
    """"digits", a folder of class folders, or a .npz file, shaped for `input_shape`.
    `max_classes`: the network's number of outputs; a .npz label past it is refused
    before any class list is built."""
    input_shape = tuple(int(d) for d in input_shape)
    if source == "digits":
        x, y, classes = digits_arrays(input_shape)
        messages: list[str] = []
    else:
        x, y, classes, messages = _load_path(source, input_shape, max_classes=max_classes)
    if val_source:
        vx, vy, vclasses, vmsg = _load_path(val_source, input_shape, classes, max_classes)
        messages += [f"validation: {m}" for m in vmsg]
        if vclasses != classes:
            raise DataError(f"the validation data has classes {_names(vclasses)}, but the "
                            f"training data has {_names(classes)} — they must be the same")
        train, val = Split(x, y), Split(vx, vy)
    else:
        train, val = split(x, y, val_fraction, seed)
    ds = Dataset(train, val, classes, source, messages)
    ds.mean, ds.std = channel_stats(train.x)
    return ds


def _load_path(source: str, input_shape: Shape, classes: list[str] | None = None,
               max_classes: int | None = None):
    p = Path(source)
    if not p.exists():
        raise DataError(f"{source}: no such file or folder")
    if p.is_dir():
        return image_folder_arrays(p, input_shape, classes)
    if p.suffix.lower() == ".npz":
        x, y, names = npz_arrays(p, input_shape, max_classes)
        return x, y, names, []
    raise DataError(f"{source}: use \"digits\", a folder with one sub-folder of images per "
                    f"class, or a .npz file with arrays x and y")


def _names(classes: Sequence[str]) -> str:
    shown = ", ".join(classes[:8]) + (", …" if len(classes) > 8 else "")
    return f"{len(classes)} ({shown})"


def need_image_shape(input_shape: Shape, what: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise DataError(f"{what} are images, but the network's Input is "
                        f"{list(input_shape)}; give the Input a [C, H, W] shape "
                        f"(or use a .npz file with x shaped N×{input_shape[0]})")
    c, h, w = input_shape
    return c, h, w


def digits_arrays(input_shape: Shape):
    """scikit-learn's 1,797 8×8 handwritten digits, resized (bilinear) to the Input."""
    from sklearn.datasets import load_digits

    c, h, w = need_image_shape(input_shape, "the digits")
    d = load_digits()
    n = len(d.images)
    check_size(n * c * h * w * 4, f"the {n:,} digits resized to the Input's {c}×{h}×{w}",
               "give the Input a smaller shape (e.g. 64×64) to train on digits")
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0  # N×1×8×8, 0..1
    if (h, w) != (8, 8):
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    x = x.clamp_(0, 1).expand(-1, c, -1, -1).contiguous()  # grey replicated to C channels
    y = torch.tensor(d.target, dtype=torch.int64)
    return x, y, [str(i) for i in range(10)]


def npz_arrays(path: Path, input_shape: Shape, max_classes: int | None = None):
    """x (N×C×H×W, N×H×W×C, N×H×W for one channel, or N×F) and integer y; no pickles."""
    import zipfile

    if not path.is_file() or not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (an .npz is a zip of .npy arrays, "
                        f"as np.savez writes)")
    check_npz_size(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            missing = {"x", "y"} - keys
            if missing:
                raise DataError(f"{path}: a .npz for training needs arrays named x and y; "
                                f"it has {', '.join(sorted(keys)) or 'none'}")
            x, y = z["x"], z["y"]
            names = z["classes"] if "classes" in keys else None
    except DataError:
        raise
    except ValueError as exc:  # object arrays need pickle, which is never allowed
        raise DataError(f"{path}: cannot read it without pickle ({exc}); save plain numeric "
                        f"arrays (np.savez(path, x=..., y=...))") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except Exception as exc:  # a corrupt zip raises zipfile.BadZipFile and friends
        raise DataError(f"{path}: not a readable .npz file ({type(exc).__name__}: {exc})") from None
    want = tuple(input_shape)
    if x.ndim < 2 or x.shape[0] == 0:
        raise DataError(f"{path}: x has shape {list(x.shape)}; it needs one sample per row")
    per = tuple(x.shape[1:])
    if per == want:
        pass
    elif len(want) == 3 and per == (want[1], want[2], want[0]):
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # N×H×W×C → N×C×H×W
    elif len(want) == 3 and want[0] == 1 and per == want[1:]:
        x = x[:, None]
    else:
        hint = (f"N×{want[0]}×{want[1]}×{want[2]} or N×{want[1]}×{want[2]}×{want[0]}"
                if len(want) == 3 else f"N×{want[0]}")
        raise DataError(f"{path}: x has samples of shape {list(per)} (x is {list(x.shape)}), "
                        f"but the network's Input is {list(want)} — expected x shaped {hint}; "
                        f"change the Input's shape or resize the data")
    if x.dtype == np.uint8:
        xt = torch.from_numpy(np.ascontiguousarray(x))
    elif np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if not torch.isfinite(xt).all():
            raise DataError(f"{path}: x contains NaN or infinite values")
    else:
        raise DataError(f"{path}: x must be numeric, not {x.dtype}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: y must be one label per sample: x has {len(x)} samples, "
                        f"y has shape {list(y.shape)}")
    if not (np.issubdtype(y.dtype, np.integer) or
            (np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))):
        raise DataError(f"{path}: y must hold whole-number class labels 0, 1, 2, …, "
                        f"not {y.dtype} values")
    n_classes = check_labels(y, path, max_classes)
    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DataError(f"{path}: classes must be a 1-D array of strings")
        classes = [str(s) for s in names.tolist()]
        if len(classes) < n_classes:
            raise DataError(f"{path}: y has labels up to {n_classes - 1} but classes names "
                            f"only {len(classes)}")
    else:
        classes = [str(i) for i in range(n_classes)]
    return xt, torch.from_numpy(y.astype(np.int64)), classes


def image_folder_arrays(root: Path, input_shape: Shape, classes: list[str] | None = None):
    """One sub-folder per class; every readable image resized to the Input's H×W."""
    from PIL import Image  # Pillow; imported here so that the rest works without it

    c, h, w = need_image_shape(input_shape, "images in a folder")
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise DataError(f"images have 1, 3 or 4 channels; the network's Input has {c} — "
                        f"use a .npz file for other channel counts")
    folders = sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                     key=lambda d: d.name)
    if not folders:
        raise DataError(f"{root}: no class folders in it — put the images of each class in a "
                        f"sub-folder named after the class ({root}/cat/1.png, {root}/dog/…)")
    names = [d.name for d in folders]
    if classes is not None and names != classes:
        raise DataError(f"{root}: has class folders {_names(names)}, but the training data "
                        f"has {_names(classes)} — they must be the same")
    jobs: list[tuple[Path, int]] = []
    for label, d in enumerate(folders):
        files = sorted(f for f in d.rglob("*") if f.is_file() and not f.name.startswith("."))
        jobs += [(f, label) for f in files]
    check_size(len(jobs) * c * h * w, f"{root}: {len(jobs):,} images at the Input's {c}×{h}×{w}",
               "use a smaller Input shape or fewer images")

    def read(job):
        f, _ = job
        try:
            with Image.open(f) as im:
                try:
                    im.draft(mode, (w, h))  # JPEG: decode at a reduced size when it can
                except Exception:
                    pass
                im = im.convert(mode)
                if im.size != (w, h):
                    im = im.resize((w, h), Image.Resampling.BILINEAR)
                a = np.asarray(im, dtype=np.uint8)
        except Exception:  # not an image, truncated, too large (decompression bomb), …
            return None
        return a[:, :, None] if a.ndim == 2 else a

    workers = min(8, (os.cpu_count() or 1) + 2)
    with ThreadPoolExecutor(workers) as pool:
        arrays = list(pool.map(read, jobs, chunksize=16))
    counts = [0] * len(folders)
    good, labels, skipped = [], [], []
    for (f, label), a in zip(jobs, arrays):
        if a is None:
            skipped.append(f)
        else:
            good.append(a)
            labels.append(label)
            counts[label] += 1
    empty = [names[i] for i, k in enumerate(counts) if k == 0]
    if len(empty) == len(names):
        raise DataError(f"{root}: no readable images in any class folder "
                        f"({', '.join(sorted(IMAGE_SUFFIXES))} are read)")
    if empty:
        raise DataError(f"{root}: class folder(s) {', '.join(map(repr, empty))} have no readable "
                        f"images — add images or remove the folder")
    messages = []
    if skipped:
        shown = ", ".join(str(p.relative_to(root)) for p in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        messages.append(f"skipped {len(skipped)} file(s) that are not readable images: "
                        f"{shown}{more}")
    x = torch.from_numpy(np.stack(good)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels, dtype=torch.int64), names, messages


def split(x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int):
    """A stratified train/validation split (every class in both, in proportion)."""
    from sklearn.model_selection import train_test_split

    n = len(y)
    counts = torch.bincount(y)
    present = counts[counts > 0]
    n_val = int(np.ceil(n * val_fraction))
    if n < 2 or n_val >= n:
        raise DataError(f"only {n} sample(s): too few to split off a validation set")
    stratify = y.numpy() if present.min() >= 2 and n_val >= len(present) and \
        n - n_val >= len(present) else None
    idx = np.arange(n)
    tr, va = train_test_split(idx, test_size=val_fraction, random_state=seed, shuffle=True,
                              stratify=stratify)
    tr, va = torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(va))
    return Split(x[tr], y[tr]), Split(x[va], y[va])


def channel_stats(x: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in 0..1 units (uint8 data is scaled by 1/255)."""
    scale = 1 / 255 if x.dtype == torch.uint8 else 1.0
    if x.ndim == 2:  # flat features: one "channel"
        v = x.double().flatten()
        mean, std = [float(v.mean()) * scale], [float(v.std()) * scale]
    else:
        mean, std = [], []
        for ch in range(x.shape[1]):
            v = x[:, ch].double()
            mean.append(float(v.mean()) * scale)
            std.append(float(v.std()) * scale)
    return mean, [s if s > 1e-6 else 1.0 for s in std]


# ---- batches ------------------------------------------------------------------------

class BatchPrep:
    """uint8/float batch on the device → float, augmented (training only), normalised.

    Random numbers come from torch's global generator (seeded by the loop) on the batch's
    device. Everything is whole-batch tensor work: a random crop with zero padding is one gather
    over a padded batch with per-sample offsets; the flip is a `where` over a flipped copy.
    """

    def __init__(self, ds: Dataset, device: torch.device, *, normalize: bool = True,
                 augment: bool = False, flip: bool = True, crop_padding: int | None = None,
                 channels_last: bool = False):
        shape = ds.sample_shape
        self.image = len(shape) == 3
        self.scale = 1 / 255 if ds.train.x.dtype == torch.uint8 else None
        self.augment = augment and self.image
        self.flip = flip
        self.pad = (shape[1] // 8 if crop_padding is None else crop_padding) if self.image else 0
        self.channels_last = channels_last and self.image
        self.mean = self.std = None
        if normalize and ds.mean is not None:
            view = (1, -1, 1, 1) if self.image else (1, -1)
            self.mean = torch.tensor(ds.mean, device=device).view(view)
            self.inv_std = 1 / torch.tensor(ds.std, device=device).view(view)
        if self.image:
            self.rows = torch.arange(shape[1], device=device)
            self.cols = torch.arange(shape[2], device=device)

    def __call__(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        x = x.float()
        if self.scale is not None:
            x = x * self.scale
        if train and self.augment:
            x = self._augment(x)
        if self.mean is not None:
            x = (x - self.mean) * self.inv_std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        dev = x.device
        p = self.pad
        if p > 0:
            padded = F.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b, 1), device=dev)
            dx = torch.randint(0, 2 * p + 1, (b, 1), device=dev)
            rows = (self.rows[None, :] + dy)[:, None, :, None]  # B×1×H×1
            cols = (self.cols[None, :] + dx)[:, None, None, :]  # B×1×1×W
            bi = torch.arange(b, device=dev)[:, None, None, None]
            ci = torch.arange(c, device=dev)[None, :, None, None]
            x = padded[bi, ci, rows, cols]
        if self.flip:
            mask = torch.rand(b, device=dev) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(3), x)
        return x
