"""Export a standalone DistributedDataParallel training script for a project.

The script is the exported model (`app.export.python_source(graph, with_main=False)`)
followed by data loading (digits, .npz, image folder), a DDP loop over a
DistributedSampler and checkpointing on rank 0. It needs torch and numpy (plus
scikit-learn for digits, Pillow for image folders) and nothing from NetCanvas:

    torchrun --nproc_per_node=N train_net.py --data PATH        # one machine, N processes
    torchrun --nnodes=2 --node_rank=R --rdzv_backend=c10d \\
             --rdzv_endpoint=HOST:29500 --nproc_per_node=N train_net.py --data PATH
    python train_net.py                                           # one process, no torchrun

GPUs use NCCL (one process per GPU), CPUs use gloo. Its checkpoints have the same format as
the app's (`netcanvas train FILE --resume last.pt` goes on from one). Every user string
that goes into the file (project name, paths, the graph) is written as a repr() literal.
"""
from __future__ import annotations

import ast
import json
import os
from pathlib import Path

from app.graph import NetGraph

from .config import TrainConfig


class ScriptError(ValueError):
    """The script cannot be written (the graph has problems, exports are missing)."""


def training_script(graph: NetGraph, config: TrainConfig | None = None) -> str:
    config = config or TrainConfig()
    try:
        from app.export import network_class_name, python_source
    except ImportError as exc:
        raise ScriptError(f"the Python export is not available ({exc})") from None
    from app.export import ExportError

    problems = graph.problems()
    if problems:
        raise ScriptError(f"the graph has {len(problems)} problem(s); fix them first "
                          f"(first: {problems[0].node}: {problems[0].message})")
    try:
        model_source = python_source(graph, with_main=False)
    except ExportError as exc:
        raise ScriptError(str(exc)) from None
    model_source = _drop_docstring(model_source)
    defaults = {k: v for k, v in config.to_dict().items()
                if k not in ("device", "out_dir", "max_steps")}
    defaults["out_dir"] = config.out_dir or "checkpoints"
    header = ('"""Train a network drawn in NetCanvas (PROJECT_NAME below) on one or more '
              f'machines.\n\n{_USAGE}"""\n')
    constants = "\n".join([
        "",
        "# ---- what NetCanvas exported: the settings and the project, as literals ---------",
        f"NETWORK = {network_class_name(graph)}",
        f"DEFAULTS = {_literal(defaults)}",
        f"PROJECT_JSON = {json.dumps(graph.to_dict(), ensure_ascii=True)!r}",
        "",
    ])
    source = header + model_source.rstrip("\n") + "\n\n" + constants + _TRAINING
    try:
        compile(source, "<netcanvas training script>", "exec")
    except SyntaxError as exc:  # a bug here, never the user's doing
        raise ScriptError(f"internal error: the script does not parse (line {exc.lineno}: "
                          f"{exc.msg})") from None
    return source


def write_training_script(graph: NetGraph, config: TrainConfig | None,
                          path: str | os.PathLike) -> Path:
    from app.project import atomic_write_text

    path = Path(path)
    atomic_write_text(path, training_script(graph, config))
    return path


def _literal(value) -> str:
    """repr() of plain data, checked to read back as the same value (never code)."""
    text = repr(value)
    if ast.literal_eval(text) != value:
        raise ScriptError(f"internal error: {value!r} is not a literal")
    return text


def _drop_docstring(source: str) -> str:
    tree = ast.parse(source)
    first = tree.body[0] if tree.body else None
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        lines = source.splitlines(keepends=True)
        return "".join(lines[first.end_lineno:]).lstrip("\n")
    return source


_USAGE = """\
Run it with torchrun, one process per GPU (NCCL) or per CPU worker (gloo):

    torchrun --standalone --nproc_per_node=N THIS.py [--data digits|FOLDER|FILE.npz]
    torchrun --nnodes=M --node_rank=R --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 \\
             --nproc_per_node=N THIS.py --data ...        # on each of M machines
    python THIS.py                                         # one process, no torchrun

--batch-size is per process. Checkpoints (last.pt, best.pt by validation accuracy) are
written by rank 0 to --out and load with torch.load(path, weights_only=True); --resume
goes on from one. `python THIS.py --help` lists every option. Needs torch and numpy,
scikit-learn for --data digits, Pillow for image folders.
"""

# The training half of the script. It is plain Python (no placeholders): it reads the
# NETWORK, DEFAULTS and PROJECT_JSON constants written above it.
_TRAINING = r'''
# ---- training ---------------------------------------------------------------------------
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402
from torch.utils.data import DistributedSampler  # noqa: E402


def parse_args(argv=None):
    d = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=d["data"], help="digits, an image folder or a .npz")
    p.add_argument("--val-data", default=d["val_data"])
    p.add_argument("--val-fraction", type=float, default=d["val_fraction"])
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d["augment"])
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=d["flip"])
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=d["normalize"])
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help="per process")
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=d["optimizer"])
    p.add_argument("--momentum", type=float, default=d["momentum"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--schedule", choices=("constant", "step", "cosine", "onecycle"),
                   default=d["schedule"])
    p.add_argument("--step-size", type=int, default=d["step_size"])
    p.add_argument("--gamma", type=float, default=d["gamma"])
    p.add_argument("--label-smoothing", type=float, default=d["label_smoothing"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--max-steps", type=int, default=None, help="stop after N steps")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=d["amp"],
                   help="CUDA: bf16 (or fp16 with a GradScaler) mixed precision")
    p.add_argument("--sync-bn", action="store_true", help="CUDA: SyncBatchNorm across GPUs")
    p.add_argument("--out", default=d["out_dir"], help="checkpoint folder (rank 0 writes)")
    p.add_argument("--resume", default=None, help="a last.pt to go on from")
    return p.parse_args(argv)


# ---- data -------------------------------------------------------------------------------
def load_digits_arrays(shape):
    from sklearn.datasets import load_digits
    c, h, w = shape
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    x = x.clamp(0, 1).expand(-1, c, -1, -1).contiguous()
    return x, torch.tensor(d.target, dtype=torch.int64), [str(i) for i in range(10)]


def load_npz_arrays(path, shape):
    with np.load(path, allow_pickle=False) as z:
        x, y = z["x"], z["y"]
        names = [str(s) for s in z["classes"].tolist()] if "classes" in z.files else None
    per = tuple(x.shape[1:])
    if len(shape) == 3 and per == (shape[1], shape[2], shape[0]):
        x = x.transpose(0, 3, 1, 2)
    elif len(shape) == 3 and shape[0] == 1 and per == tuple(shape[1:]):
        x = x[:, None]
    elif per != tuple(shape):
        raise SystemExit(f"{path}: samples are {list(per)}, the network takes {list(shape)}")
    x = np.ascontiguousarray(x)
    xt = torch.from_numpy(x) if x.dtype == np.uint8 else torch.from_numpy(x.astype(np.float32))
    yt = torch.from_numpy(np.asarray(y).astype(np.int64))
    return xt, yt, names or [str(i) for i in range(int(yt.max()) + 1)]


def load_folder_arrays(root, shape, classes=None):
    from PIL import Image
    c, h, w = shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    folders = sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [p.name for p in folders]
    if classes is not None and names != classes:
        raise SystemExit(f"{root}: class folders {names} differ from the training data's")
    xs, ys, skipped = [], [], 0
    for label, folder in enumerate(folders):
        for f in sorted(folder.rglob("*")):
            if not f.is_file() or f.name.startswith("."):
                continue
            try:
                with Image.open(f) as im:
                    im = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
                    a = np.asarray(im, dtype=np.uint8)
            except Exception:
                skipped += 1
                continue
            xs.append(a[:, :, None] if a.ndim == 2 else a)
            ys.append(label)
    if not xs:
        raise SystemExit(f"{root}: no readable images in class sub-folders")
    if skipped and is_main():
        print(f"skipped {skipped} unreadable file(s) in {root}")
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(ys, dtype=torch.int64), names


def load_arrays(source, shape, classes=None):
    if source == "digits":
        return load_digits_arrays(shape)
    if str(source).lower().endswith(".npz"):
        return load_npz_arrays(source, shape)
    return load_folder_arrays(source, shape, classes)


def stratified_split(y, fraction, seed):
    g = np.random.default_rng(seed)
    y = y.numpy()
    val = []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        g.shuffle(idx)
        val.extend(idx[:max(1, int(math.ceil(len(idx) * fraction)))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[val] = True
    return torch.from_numpy(np.flatnonzero(~mask)), torch.from_numpy(np.flatnonzero(mask))


def load_data(args, shape):
    x, y, classes = load_arrays(args.data, shape)
    if args.val_data:
        vx, vy, _ = load_arrays(args.val_data, shape, classes)
    else:
        tr, va = stratified_split(y, args.val_fraction, args.seed)
        x, y, vx, vy = x[tr], y[tr], x[va], y[va]
    return x, y, vx, vy, classes


def channel_stats(x):
    scale = 1 / 255 if x.dtype == torch.uint8 else 1.0
    dims = [0, 2, 3] if x.ndim == 4 else [0, 1]
    xf = x.double()
    mean = (xf.mean(dim=dims) * scale).tolist()
    std = (xf.std(dim=dims) * scale).tolist()
    mean = mean if isinstance(mean, list) else [mean]
    std = std if isinstance(std, list) else [std]
    return mean, [s if s > 1e-6 else 1.0 for s in std]


def prepare(x, args, mean, std, train, channels_last):
    x = x.float() * (1 / 255) if x.dtype == torch.uint8 else x.float()
    if train and args.augment and x.ndim == 4:
        b, c, h, w = x.shape
        p = h // 8
        if p:
            xp = F.pad(x, (p, p, p, p))
            dy = torch.randint(0, 2 * p + 1, (b, 1), device=x.device)
            dx = torch.randint(0, 2 * p + 1, (b, 1), device=x.device)
            rows = (torch.arange(h, device=x.device)[None] + dy)[:, None, :, None]
            cols = (torch.arange(w, device=x.device)[None] + dx)[:, None, None, :]
            x = xp[torch.arange(b, device=x.device)[:, None, None, None],
                   torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
        if args.flip:
            flip = torch.rand(b, device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if mean is not None:
        view = (1, -1, 1, 1) if x.ndim == 4 else (1, -1)
        x = (x - torch.tensor(mean, device=x.device).view(view)) / \
            torch.tensor(std, device=x.device).view(view)
    if channels_last and x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


# ---- distributed ------------------------------------------------------------------------
def is_main():
    return not dist.is_initialized() or dist.get_rank() == 0


def setup():
    """torchrun sets RANK, WORLD_SIZE, LOCAL_RANK; without them this is one process."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        local = int(os.environ.get("LOCAL_RANK", 0))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
            dist.init_process_group("nccl")
            return torch.device("cuda", local)
        dist.init_process_group("gloo")
        return torch.device("cpu")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def lr_at(args, step, steps_per_epoch, total_steps):
    base, total = args.lr, max(1, total_steps)
    t = min(step, total - 1) / max(1, total - 1)
    if args.schedule == "constant":
        return base
    if args.schedule == "step":
        return base * args.gamma ** (step // (args.step_size * max(1, steps_per_epoch)))
    if args.schedule == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * t))
    start, end, w = base / 25, base / 25 / 1e4, DEFAULTS["warmup_fraction"]
    if t < w:
        return start + (base - start) * 0.5 * (1 - math.cos(math.pi * t / w))
    return end + (base - end) * 0.5 * (1 + math.cos(math.pi * (t - w) / (1 - w)))


def save_checkpoint(path, payload):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        torch.save(payload, f)
    os.replace(tmp, path)


def all_sum(*values, device):
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def main(argv=None):
    args = parse_args(argv)
    device = setup()
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.manual_seed(args.seed)
    shape = tuple(INPUT_SHAPE)
    x, y, vx, vy, classes = load_data(args, shape)
    mean, std = channel_stats(x) if args.normalize else (None, None)
    net = NETWORK()
    start_epoch, step, history, best, best_epoch = 0, 0, [], None, None
    ckpt = torch.load(args.resume, map_location="cpu", weights_only=True) if args.resume else None
    if ckpt is not None:
        net.load_state_dict(ckpt["model"])
        start_epoch, step = int(ckpt["epoch"]), int(ckpt.get("step", 0))
        history, best = list(ckpt.get("history", [])), ckpt.get("best_val_acc")
        best_epoch = ckpt.get("best_epoch")
    cuda = device.type == "cuda"
    amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    amp = amp if (args.amp and cuda) else None
    channels_last = cuda and len(shape) == 3
    if args.sync_bn and cuda and world > 1:
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    net = net.to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    model = DistributedDataParallel(net, device_ids=[device.index] if cuda else None) \
        if dist.is_initialized() else net
    decay = [p for p in net.parameters() if p.ndim > 1]
    rest = [p for p in net.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": rest, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum)
    elif args.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=args.lr)
    else:
        opt = torch.optim.AdamW(groups, lr=args.lr)
    if ckpt is not None and ckpt.get("optimizer"):
        opt.load_state_dict(ckpt["optimizer"])
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    x, y = x.to(device), y.to(device)
    vx, vy = vx.to(device), vy.to(device)
    sampler = DistributedSampler(range(len(y)), num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed)
    per_rank = len(sampler)
    bs = args.batch_size
    batches = math.ceil(per_rank / bs)
    if bs > 1 and per_rank % bs == 1 and batches > 1:
        batches -= 1
    total_steps = batches * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    if is_main():
        print(f"{PROJECT_NAME}: {len(y)} training, {len(vy)} validation samples, "
              f"{len(classes)} classes; {world} process(es) on {device.type}"
              + (f", {str(amp).replace('torch.', '')}" if amp else ""), flush=True)
    out = Path(args.out)
    config = {k.replace("-", "_"): v for k, v in vars(args).items()}
    config["out_dir"] = config.pop("out")
    project = json.loads(PROJECT_JSON)
    for epoch in range(start_epoch, args.epochs):
        if args.max_steps and step >= args.max_steps:
            break
        t0 = time.perf_counter()
        model.train()
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler), device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = 0
        for b in range(batches):
            idx = order[b * bs:(b + 1) * bs]
            lr = lr_at(args, step, batches, total_steps)
            for g in opt.param_groups:
                g["lr"] = lr
            xb = prepare(x[idx], args, mean, std, True, channels_last)
            yb = y[idx]
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                logits = model(xb)
                loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            step += 1
            seen += len(yb)
            loss_sum += loss.detach().float() * len(yb)
            correct += (logits.argmax(1) == yb).sum()
            if args.max_steps and step >= args.max_steps:
                break
        tl, tc, tn = all_sum(loss_sum.item(), correct.item(), seen, device=device)
        if not math.isfinite(tl):
            raise SystemExit(f"the loss became NaN/inf in epoch {epoch + 1}; lower --lr")
        # validation: each rank takes every world-th sample, the sums are all-reduced
        model.eval()
        vl = vc = 0.0
        with torch.no_grad():
            mine = torch.arange(rank, len(vy), world, device=device)
            for i in range(0, len(mine), 2 * bs):
                idx = mine[i:i + 2 * bs]
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    logits = model(prepare(vx[idx], args, mean, std, False, channels_last))
                vl += F.cross_entropy(logits.float(), vy[idx], reduction="sum").item()
                vc += (logits.argmax(1) == vy[idx]).sum().item()
        vl, vc, vn = all_sum(vl, vc, len(mine), device=device)
        row = {"epoch": epoch + 1, "train_loss": tl / tn, "train_acc": tc / tn,
               "val_loss": vl / max(1, vn), "val_acc": vc / max(1, vn),
               "seconds": time.perf_counter() - t0, "step": step}
        history.append(row)
        if is_main():
            is_best = best is None or row["val_acc"] > best
            if is_best:
                best, best_epoch = row["val_acc"], epoch + 1
            payload = {"format": "netcanvas-checkpoint", "version": 1, "epoch": epoch + 1,
                       "step": step, "model": {k: v.detach().cpu()
                                               for k, v in net.state_dict().items()},
                       "optimizer": opt.state_dict(),
                       "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                       "config": config, "graph": project, "classes": list(classes),
                       "normalization": {"mean": mean, "std": std} if mean else None,
                       "history": history, "best_val_acc": best, "best_epoch": best_epoch,
                       "rng": {"cpu": torch.get_rng_state()}}
            save_checkpoint(out / "last.pt", payload)
            if is_best:
                save_checkpoint(out / "best.pt", payload)
            print(f"epoch {epoch + 1}/{args.epochs}  train loss {row['train_loss']:.4f} "
                  f"acc {row['train_acc']:.1%}  val loss {row['val_loss']:.4f} "
                  f"acc {row['val_acc']:.1%}  {row['seconds']:.1f} s  -> {out / 'last.pt'}",
                  flush=True)
    if dist.is_initialized():
        # DDP's reducer holds the process group: release it before the group goes, or gloo
        # can abort a rank at exit ("terminate called without an active exception").
        del model
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''
