"""`netcanvas train FILE`: train a project on digits, an image folder or a .npz file.

A progress bar goes to stderr (one line per epoch when stderr is not a terminal); with
--json, stdout gets one JSON object per epoch and a final one with the evaluation and the
checkpoint paths. Exit codes: 0 done; 1 the graph has problems or the run failed (NaN loss,
out of memory, classes that do not fit); 2 the project, data or checkpoint cannot be read
or the command line is wrong; 130 interrupted (Ctrl-C): the run stops after the batch, saves
its state so far to interrupted.pt and keeps last.pt as it was.
No Qt is imported here.
"""
from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

from .config import DEVICES, OPTIMIZERS, SCHEDULES, TrainConfig

_D = {f.name: f.default for f in fields(TrainConfig)}


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {v}")
    return v


def _float(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be finite, not {text}")
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise argparse.ArgumentTypeError(f"must be {'>' if lo_open else '≥'} {lo}, not {v}")
        if hi is not None and v >= hi:
            raise argparse.ArgumentTypeError(f"must be < {hi}, not {v}")
        return v
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the project (.json)")
    # Value options default to None: "not given". A fresh run then takes TrainConfig's
    # defaults; --resume takes the checkpoint's settings, and what is given overrides them.
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="digits|PATH",
                   help="digits (built in), a folder with one sub-folder of images per class, "
                        "or a .npz with arrays x and y (default: digits)")
    g.add_argument("--val-data", metavar="PATH", help="a separate validation folder or .npz")
    g.add_argument("--val-fraction", type=_float(0, 1, lo_open=True), metavar="F",
                   help=f"stratified validation split (default {_D['val_fraction']})")
    g.add_argument("--augment", action="store_true", default=None,
                   help="random crop with padding and horizontal flip")
    g.add_argument("--no-flip", dest="flip", action="store_false", default=None,
                   help="with --augment: crop only")
    g.add_argument("--no-normalize", dest="normalize", action="store_false", default=None,
                   help="do not normalise by the training set's per-channel mean and std")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=_positive_int, metavar="N",
                   help=f"total epochs (default {_D['epochs']})")
    g.add_argument("--batch-size", type=_positive_int, metavar="N",
                   help=f"(default {_D['batch_size']})")
    g.add_argument("--lr", type=_float(0, lo_open=True), metavar="X",
                   help=f"(peak) learning rate (default {_D['lr']})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default {_D['optimizer']})")
    g.add_argument("--momentum", type=_float(0, 1), metavar="X",
                   help=f"SGD momentum (default {_D['momentum']})")
    g.add_argument("--weight-decay", type=_float(0), metavar="X",
                   help=f"(default {_D['weight_decay']}; not on biases and norms)")
    g.add_argument("--schedule", choices=SCHEDULES, help=f"(default {_D['schedule']})")
    g.add_argument("--step-size", type=_positive_int, metavar="N",
                   help=f"step schedule: epochs between decays (default {_D['step_size']})")
    g.add_argument("--gamma", type=_float(0, lo_open=True), metavar="X",
                   help=f"step schedule: decay factor (default {_D['gamma']})")
    g.add_argument("--label-smoothing", type=_float(0, 1), metavar="X",
                   help=f"(default {_D['label_smoothing']})")
    g.add_argument("--seed", type=int, help=f"(default {_D['seed']})")
    g.add_argument("--no-precise-bn", dest="precise_bn", action="store_false", default=None,
                   help="evaluate with BatchNorm's running averages as training left them")
    g.add_argument("--precise-bn-batches", type=_positive_int, metavar="N",
                   help="re-estimate BatchNorm statistics on N training batches before each "
                        f"evaluation (default {_D['precise_bn_batches']})")
    g.add_argument("--max-steps", type=_positive_int, metavar="N",
                   help="stop after N optimizer steps (a quick try)")
    g = p.add_argument_group("machine and output")
    g.add_argument("--device", choices=DEVICES,
                   help="auto (default): CUDA, else Apple MPS, else CPU")
    g.add_argument("--no-amp", dest="amp", action="store_false", default=None,
                   help="CUDA: no mixed precision")
    g.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   default=None, help="CUDA: keep NCHW")
    g.add_argument("--out", metavar="DIR",
                   help="checkpoint folder (default: runs/NAME-TIME, or the --resume folder)")
    g.add_argument("--resume", metavar="CKPT",
                   help="go on from a checkpoint (last.pt), with its settings unless given")
    g.add_argument("--weights", metavar="W.safetensors",
                   help="fine-tune: start from these weights (e.g. from netcanvas import "
                        "--weights); tensors whose name or shape no longer fit start fresh")
    g.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout")
    g.add_argument("--export-script", metavar="OUT.py",
                   help="write a standalone DistributedDataParallel training script (for "
                        "torchrun) instead of training")


# options whose TrainConfig field has the same name (dashes → underscores)
_FIELDS = ("data", "val_data", "val_fraction", "augment", "flip", "normalize", "epochs",
           "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule",
           "step_size", "gamma", "label_smoothing", "seed", "amp", "channels_last",
           "precise_bn", "precise_bn_batches")


def config_from_args(args, project: Path, checkpoint: dict | None = None) -> TrainConfig:
    """TrainConfig's defaults (or the checkpoint's settings), then what was given."""
    base = TrainConfig()
    if checkpoint is not None and isinstance(checkpoint.get("config"), dict):
        base = TrainConfig.from_dict(checkpoint["config"])
    values = base.to_dict()
    for name in _FIELDS:
        v = getattr(args, name, None)
        if v is not None:
            values[name] = v
    values["max_steps"] = args.max_steps  # a quick try's limit is never carried on
    values["device"] = args.device or "auto"  # nor the machine it ran on
    out = args.out
    if out is None and args.resume:
        out = str(Path(args.resume).resolve().parent)
    if out is None and not args.export_script:
        from .runs import new_run_dir
        out = str(new_run_dir(project, "runs"))
    values["out_dir"] = out
    return TrainConfig.from_dict(values)


def _err(msg: str) -> None:
    from app.textsafe import term_safe
    print(f"netcanvas train: {term_safe(msg, keep_newlines=True)}", file=sys.stderr)


def run(args) -> int:
    from app.cli import tell_load_notes
    from app.compile import CompileError
    from app.project import ProjectError, load_project

    from .checkpoint import CheckpointError
    from .data import DataError
    from .loop import TrainError, train
    from .precise_bn import describe as describe_bn
    from .runs import recording

    as_json = args.json

    def fail(msg: str, code: int, status: str = "error") -> int:
        _err(msg)
        if as_json:
            print(json.dumps({"final": True, "status": status, "error": msg}), flush=True)
        return code

    try:
        graph = load_project(args.file)
    except ProjectError as exc:
        return fail(str(exc), 2)
    tell_load_notes(graph, args.file)
    checkpoint = None
    if args.resume:
        from .checkpoint import load_checkpoint
        try:
            checkpoint = load_checkpoint(args.resume)
        except CheckpointError as exc:
            return fail(str(exc), 2)
    config = config_from_args(args, Path(args.file), checkpoint)
    initial = None
    if getattr(args, "weights", None):
        if checkpoint is not None:
            return fail("--weights and --resume: give one (a checkpoint has its own weights)", 2)
        if args.export_script:
            return fail("--weights does not go with --export-script (the script starts "
                        "fresh; load the weights in it yourself)", 2)
        from app.export.weights import WeightsError, read_weights
        try:
            initial = read_weights(args.weights)
        except WeightsError as exc:
            return fail(str(exc), 2)
    if args.export_script:
        from .script import ScriptError, write_training_script
        try:
            path = write_training_script(graph, config, args.export_script)
        except ScriptError as exc:
            return fail(str(exc), 1)
        except OSError as exc:
            return fail(f"cannot write {args.export_script}: {exc.strerror or exc}", 2)
        print(f"wrote {path}\nrun it with: torchrun --nproc_per_node=N {path} --data ...",
              file=sys.stderr)
        return 0

    cancel = threading.Event()
    bar = _Progress(sys.stderr, quiet=False)
    started = time.perf_counter()

    bn_logged: list[bool] = []

    def callback(event: str, d: dict) -> None:
        if event == "start":
            bar.clear()
            print(f"training on {d['device']}"
                  + (f" ({d['amp']} mixed precision)" if d["amp"] else "")
                  + f"; {d['data']}", file=sys.stderr)
            for m in d["messages"]:
                print(f"note: {m}", file=sys.stderr)
            print(f"memory: {d['memory_text']}", file=sys.stderr)
            if d["start_epoch"]:
                print(f"resuming after epoch {d['start_epoch']}", file=sys.stderr)
        elif event == "batch":
            bar.update(d)
        elif event == "epoch_end":
            bar.clear()
            row = {k: d[k] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                     "seconds", "precise_bn")}
            if as_json:
                print(json.dumps(row), flush=True)
            else:
                if d.get("precise_bn") and not bn_logged:  # once: it is the same each epoch
                    bn_logged.append(True)
                    print(describe_bn(d["precise_bn"]), file=sys.stderr)
                print(f"epoch {d['epoch']}/{d['epochs']}  train loss {d['train_loss']:.4f} "
                      f"acc {d['train_acc']:.1%}  val loss {d['val_loss']:.4f} "
                      f"acc {d['val_acc']:.1%}  {d['seconds']:.1f} s"
                      + ("  (best)" if d["best"] else ""), flush=True)

    old_handler = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            if cancel.is_set():  # a second Ctrl-C: stop at once
                raise KeyboardInterrupt
            cancel.set()
            bar.clear()
            print("netcanvas train: stopping after this batch (Ctrl-C again to abort)…",
                  file=sys.stderr)
        old_handler = signal.signal(signal.SIGINT, on_sigint)
    callback = recording(callback, config.out_dir, graph, config, project=args.file)
    try:
        result = train(graph, config, callback=callback, cancel=cancel,
                       resume=checkpoint, save_on_cancel=True, initial_weights=initial,
                       weights_label=Path(args.weights).name if initial else "")
    except CompileError as exc:
        return fail(str(exc), 1)
    except (DataError, CheckpointError) as exc:
        return fail(str(exc), 2)
    except TrainError as exc:
        return fail(str(exc), 1)
    finally:
        bar.clear()
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)

    final = result.final or {}
    seconds = time.perf_counter() - started
    if as_json:
        print(json.dumps({
            "final": True, "status": result.status, "message": result.message,
            "evaluated_on": "validation", "epoch": final.get("epoch"),
            "accuracy": final.get("accuracy"), "loss": final.get("loss"),
            "per_class_accuracy": final.get("per_class_accuracy"),
            "confusion_matrix": final.get("confusion_matrix"), "classes": result.classes,
            "best_val_acc": result.best_val_acc, "best_epoch": result.best_epoch,
            "epochs_done": result.epochs_done, "steps": result.step,
            "checkpoint": result.last_checkpoint, "best_checkpoint": result.best_checkpoint,
            "seconds": seconds}), flush=True)
    else:
        if final:
            print(_final_text(final, result.classes))
        if result.last_checkpoint:
            print(f"checkpoints: {result.last_checkpoint}"
                  + (f", best (epoch {result.best_epoch}) {result.best_checkpoint}"
                     if result.best_checkpoint else ""))
    if result.status == "finished":
        print(result.message, file=sys.stderr)
        return 0
    _err(result.message)
    return 130 if result.status == "cancelled" else 1


def _final_text(final: dict, classes: list[str]) -> str:
    cm = final["confusion_matrix"]
    w = max(4, *(len(c) for c in classes), *(len(str(v)) for row in cm for v in row))
    lines = [(f"validation after epoch {final['epoch']}: accuracy {final['accuracy']:.2%}, "
              f"loss {final['loss']:.4f} ({final['samples']} samples)"),
             "per class: " + ", ".join(
                 f"{c} {'n/a' if a is None else f'{a:.0%}'}"
                 for c, a in zip(classes, final["per_class_accuracy"])),
             "confusion matrix (rows: true class, columns: predicted):",
             " " * (w + 1) + " ".join(c.rjust(w) for c in classes)]
    for c, row in zip(classes, cm):
        lines.append(c.rjust(w) + " " + " ".join(str(v).rjust(w) for v in row))
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar with ETA on a terminal; nothing when not a terminal."""

    def __init__(self, stream, quiet: bool = False):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty() and not quiet
        self.shown = False

    def update(self, d: dict) -> None:
        if not self.tty:
            return
        frac = d["batch"] / max(1, d["batches"])
        width = 24
        filled = int(frac * width)
        eta = _fmt_time(d["eta_s"])
        line = (f"\repoch {d['epoch']}/{d['epochs']} [{'█' * filled}{'·' * (width - filled)}] "
                f"{d['batch']}/{d['batches']}  loss {d['loss']:.4f}  acc {d['acc']:.1%}  "
                f"{d['samples_per_s']:.0f}/s  ETA {eta}")
        self.stream.write(line + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _fmt_time(s: float) -> str:
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
