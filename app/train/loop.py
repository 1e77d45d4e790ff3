"""The training loop shared by the CLI, the panel and the benchmark. GUI-free.

`train(graph, config, callback=..., cancel=...)` compiles the graph, loads the data, checks
that the two fit, estimates memory, then trains and reports through `callback(event, data)`:

    "start"        device, precision, steps, the memory estimate, the data set
    "epoch_start"  epoch, epochs, lr
    "batch"        epoch, batch, batches, step, total_steps, loss, acc, samples_per_s, eta_s
                   (at most every `progress_interval` seconds, and on an epoch's last batch)
    "epoch_end"    epoch, train_loss, train_acc, val_loss, val_acc, seconds, samples_per_s,
                   lr, best, checkpoint
    "end"          the TrainResult as a dict

The loop stays tight: a batch is an index into tensors already on the device, metrics are
summed on the device and read once per report (a CPU run reads the loss every batch, where
that costs nothing, to catch a NaN at once). Faults end the run, never the program: a
cancel (checked every batch), a NaN/inf loss (the step is named) and running out of
memory (the batch size is named) all return a TrainResult whose status says so; the last
checkpoint on disk is left as it was.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from app.compile import compile_graph
from app.graph import NetGraph

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import BatchPrep, Dataset, Split, load_dataset
from .memory import MemoryEstimate, estimate_memory, is_out_of_memory
from .precise_bn import update_bn_stats
from .runtime import (
    TrainError,
    amp_dtype,
    check_fit,
    lr_at,
    make_optimizer,
    mps_available,
    nan_message,
    oom_message,
    pick_device,
)

__all__ = ["TrainError", "TrainResult", "amp_dtype", "check_fit", "evaluate", "lr_at",
           "make_optimizer", "mps_available", "pick_device", "train"]

Callback = Callable[[str, dict[str, Any]], None]

@dataclass
class TrainResult:
    status: str                       # "finished" | "cancelled" | "nan" | "oom"
    message: str
    epochs_done: int
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] | None = None  # evaluation of the last completed epoch
    best_val_acc: float | None = None
    best_epoch: int | None = None
    last_checkpoint: str | None = None
    best_checkpoint: str | None = None
    classes: list[str] = field(default_factory=list)
    device: str = "cpu"
    memory: MemoryEstimate | None = None
    model: nn.Module | None = None    # the trained model (on its device, in eval mode)

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message": self.message,
                "epochs_done": self.epochs_done, "step": self.step, "final": self.final,
                "best_val_acc": self.best_val_acc, "best_epoch": self.best_epoch,
                "checkpoint": self.last_checkpoint, "best_checkpoint": self.best_checkpoint,
                "classes": self.classes, "device": self.device}


# ---- the loop --------------------------------------------------------------------------

def train(graph: NetGraph, config: TrainConfig, *, dataset: Dataset | None = None,
          callback: Callback | None = None, cancel: threading.Event | None = None,
          resume: str | dict | None = None, progress_interval: float = 0.25,
          save_on_cancel: bool = False, initial_weights: dict[str, torch.Tensor] | None = None,
          weights_label: str = "imported weights") -> TrainResult:
    """Train `graph` on `config.data` (or `dataset`). Raises, before training starts:
    CompileError (the graph has problems), DataError (the data cannot be read or does not
    fit), CheckpointError (`resume` is not a readable checkpoint), TrainError (config,
    device, class count, a checkpoint of another network). Faults during training are
    returned as the result's status, never raised. With `save_on_cancel` (the CLI's Ctrl-C),
    a cancelled run also writes its current state to `interrupted.pt` beside `last.pt`:
    resuming from it redoes the interrupted epoch from the weights reached so far.
    `initial_weights` (state_dict names → tensors; fine-tuning) replace the fresh
    initialisation wherever name and shape fit; the start event says how many, and none
    fitting is a TrainError. A checkpoint to resume from wins over them."""
    emit = callback or (lambda event, data: None)
    problems = config.problems()
    if problems:
        raise TrainError("; ".join(problems))
    torch.manual_seed(config.seed)  # the seed decides the initial weights too
    model = compile_graph(graph)
    in_shape = tuple(graph.info[graph.input_nodes()[0]].output_shape)
    ckpt = None
    if resume is not None:
        ckpt = resume if isinstance(resume, dict) else load_checkpoint(resume)
    start_notes = []
    if initial_weights and ckpt is None:
        start_notes.append(load_initial_weights(model, initial_weights, weights_label))
    out_shape = graph.info[graph.output_nodes()[0]].output_shape
    ds = dataset if dataset is not None else load_dataset(
        config.data, in_shape, val_source=config.val_data, val_fraction=config.val_fraction,
        seed=config.seed, max_classes=out_shape[0] if len(out_shape) == 1 else None)
    check_fit(graph, ds.num_classes, ds.sample_shape)
    device = pick_device(config.device)
    adtype = amp_dtype(device, config.amp)
    channels_last = config.channels_last and device.type == "cuda" and len(in_shape) == 3

    start_epoch, step, history = 0, 0, []
    best_acc, best_epoch = None, None
    if ckpt is not None:
        if list(ckpt.get("classes", [])) != list(ds.classes):
            raise TrainError(f"the checkpoint was trained on classes {ckpt.get('classes')}, "
                             f"but this data has {ds.classes}")
        try:
            model.load_state_dict(ckpt["model"])
        except (RuntimeError, KeyError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise TrainError(f"the checkpoint was made for a different network ({first}) — "
                             f"open the project it was trained from") from None
        start_epoch, step = int(ckpt["epoch"]), int(ckpt.get("step", 0))
        history = list(ckpt.get("history", []))
        best_acc, best_epoch = ckpt.get("best_val_acc"), ckpt.get("best_epoch")
        if start_epoch >= config.epochs:
            raise TrainError(f"the checkpoint has already trained {start_epoch} epoch(s); ask for "
                             f"more than {start_epoch} epochs to go on")
        if ckpt.get("normalization"):
            ds.mean = ckpt["normalization"]["mean"]
            ds.std = ckpt["normalization"]["std"]

    # data on the device when it fits comfortably: a batch is then one index, no copy
    data_device = device
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if ds.nbytes() > free // 4:
            data_device = torch.device("cpu")
    try:
        memory = estimate_memory(graph, config.batch_size, config.optimizer, config.momentum,
                                 {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(adtype, False),
                                 ds.nbytes() if data_device.type != "cpu" else 0,
                                 config.weight_decay, device.type)
    except Exception:  # an estimate must never stop a run
        memory = None

    if ckpt is not None and ckpt.get("rng") is not None:
        torch.set_rng_state(ckpt["rng"]["cpu"])
        if device.type == "cuda" and ckpt["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], device)
    else:
        torch.manual_seed(config.seed)

    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    notes: list[str] = start_notes
    scaler = torch.amp.GradScaler("cuda", enabled=adtype == torch.float16)
    if ckpt is not None:
        was = (ckpt.get("config") or {}).get("optimizer")
        if was != config.optimizer:  # its state (momenta, moments) means nothing to another
            notes.append(f"the checkpoint was trained with {was}; {config.optimizer} "
                               f"starts fresh (the weights are kept)")
        else:
            try:
                optimizer.load_state_dict(ckpt["optimizer"])
            except (ValueError, KeyError) as exc:
                raise TrainError(f"the checkpoint's optimizer state does not fit "
                                 f"({config.optimizer}): {exc}") from None
        if ckpt.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(ckpt["scaler"])

    tr_x, tr_y = ds.train.x.to(data_device), ds.train.y.to(data_device)
    val = Split(ds.val.x.to(data_device), ds.val.y.to(data_device))
    prep = BatchPrep(ds, device, normalize=config.normalize, augment=config.augment,
                     flip=config.flip, crop_padding=config.crop_padding,
                     channels_last=channels_last)
    n, bs = len(tr_y), config.batch_size
    batches = math.ceil(n / bs)
    if bs > 1 and n % bs == 1 and batches > 1:
        batches -= 1  # a last batch of one sample breaks BatchNorm; it is skipped
    total_steps = batches * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    out_dir = Path(config.out_dir) if config.out_dir else None
    last_path = best_path = None
    if out_dir is not None:
        if (out_dir / "last.pt").exists() and ckpt is not None:
            last_path = str(out_dir / "last.pt")
        if (out_dir / "best.pt").exists() and ckpt is not None:
            best_path = str(out_dir / "best.pt")

    emit("start", {"device": str(device), "amp": str(adtype).replace("torch.", "") if adtype
                   else None, "channels_last": channels_last, "epochs": config.epochs,
                   "start_epoch": start_epoch, "steps_per_epoch": batches,
                   "total_steps": total_steps, "step": step, "batch_size": bs,
                   "memory": memory.to_dict() if memory else None,
                   "memory_text": memory.text() if memory else "unknown",
                   "data": ds.describe(), "messages": list(ds.messages) + notes,
                   "classes": list(ds.classes)})

    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    sync_every_batch = device.type == "cpu"
    status, message = "finished", ""
    final = history[-1].get("eval") if history else None
    epoch = start_epoch
    run_start = time.perf_counter()
    run_steps = 0
    last_val_seconds = 0.0

    def result(status: str, message: str) -> TrainResult:
        model.eval()
        return TrainResult(status, message, len(history), step, history,
                           final, best_acc, best_epoch, last_path, best_path,
                           list(ds.classes), str(device), memory, model)

    while epoch < config.epochs and status == "finished":
        if config.max_steps is not None and step >= config.max_steps:
            break
        lr = lr_at(config, step, batches, total_steps)
        emit("epoch_start", {"epoch": epoch + 1, "epochs": config.epochs, "lr": lr})
        model.train()
        t0 = time.perf_counter()
        last_report = t0
        perm = torch.randperm(n, device=data_device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        seen = 0
        bad_step = torch.full((), -1, device=device, dtype=torch.int64)
        first_step = step
        b = 0
        for b in range(batches):
            if cancel is not None and cancel.is_set():
                status = "cancelled"
                break
            idx = perm[b * bs:(b + 1) * bs]
            lr = lr_at(config, step, batches, total_steps)
            for g in optimizer.param_groups:
                g["lr"] = lr
            try:
                xb = tr_x[idx].to(device, non_blocking=True)
                yb = tr_y[idx].to(device, non_blocking=True)
                xb = prep(xb, train=True)
                with torch.autocast(device.type, dtype=adtype, enabled=adtype is not None):
                    out = model(xb)
                    loss = loss_fn(out, yb)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                status, message = "oom", oom_message(device, bs, epoch + 1, b + 1, adtype,
                                                      last_path)
                break
            k = yb.shape[0]
            seen += k
            step += 1
            run_steps += 1
            with torch.no_grad():
                ld = loss.detach()
                loss_sum += ld.float() * k
                correct += (out.argmax(1) == yb).sum()
                if sync_every_batch:
                    if not math.isfinite(ld.item()):
                        status = "nan"
                        message = nan_message(ld.item(), step, epoch + 1, b + 1, lr, last_path)
                        break
                else:
                    bad_step = torch.where((bad_step < 0) & ~torch.isfinite(ld),
                                           torch.full_like(bad_step, step), bad_step)
            now = time.perf_counter()
            last_batch = b == batches - 1 or (config.max_steps is not None
                                              and step >= config.max_steps)
            if now - last_report >= progress_interval or last_batch:
                last_report = now
                if not sync_every_batch and (bad := int(bad_step)) >= 0:
                    status = "nan"
                    message = nan_message(float("nan"), bad, epoch + 1,
                                           bad - first_step, lr, last_path)
                    break
                elapsed = now - run_start
                per_step = elapsed / max(1, run_steps)
                steps_left = max(0, total_steps - step)
                epochs_left = max(0, config.epochs - epoch - 1)
                emit("batch", {"epoch": epoch + 1, "epochs": config.epochs, "batch": b + 1,
                               "batches": batches, "step": step, "total_steps": total_steps,
                               "loss": float(loss_sum) / seen, "acc": int(correct) / seen,
                               "lr": lr, "samples_per_s": seen / max(1e-9, now - t0),
                               "eta_s": steps_left * per_step
                               + (epochs_left + 1) * last_val_seconds})
            if last_batch:
                break
        if status != "finished":
            break
        if seen == 0:
            break
        train_loss, train_acc = float(loss_sum) / seen, int(correct) / seen
        train_seconds = time.perf_counter() - t0
        if not math.isfinite(train_loss):
            status = "nan"
            message = nan_message(train_loss, step, epoch + 1, b + 1, lr, last_path)
            break
        tv = time.perf_counter()
        try:
            bn = (update_bn_stats(model, tr_x, prep, device, adtype, config.precise_bn_batches,
                                  bs, seed=config.seed + epoch) if config.precise_bn else None)
            ev = evaluate(model, val, prep, device, adtype, ds.num_classes, bs * 2)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            status, message = "oom", oom_message(device, bs * 2, epoch + 1, 0, adtype,
                                                  last_path, evaluating=True)
            break
        last_val_seconds = time.perf_counter() - tv
        epoch += 1
        ev["classes"] = list(ds.classes)
        ev["epoch"] = epoch
        final = ev
        is_best = best_acc is None or ev["accuracy"] > best_acc
        if is_best:
            best_acc, best_epoch = ev["accuracy"], epoch
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
               "val_loss": ev["loss"], "val_acc": ev["accuracy"],
               "seconds": time.perf_counter() - t0, "train_seconds": train_seconds,
               "samples_per_s": seen / max(1e-9, train_seconds), "lr": lr, "step": step,
               "precise_bn": bn}
        history.append({**row, "eval": ev})
        if out_dir is not None:
            payload = _payload(model, optimizer, scaler, config, graph, ds, epoch, step,
                               history, best_acc, best_epoch, device)
            last_path = str(save_checkpoint(out_dir / "last.pt", payload))
            if is_best:
                best_path = str(save_checkpoint(out_dir / "best.pt", payload))
        emit("epoch_end", {**row, "epochs": config.epochs, "best": is_best,
                           "checkpoint": last_path, "confusion_matrix": ev["confusion_matrix"],
                           "classes": list(ds.classes)})

    if status == "finished":
        acc = f"{final['accuracy']:.1%}" if final else "n/a"
        message = f"finished {len(history)} epoch(s): validation accuracy {acc}"
        if config.max_steps is not None and step >= config.max_steps:
            message += f" (stopped at max_steps={config.max_steps})"
    elif status == "cancelled":
        message = f"cancelled in epoch {epoch + 1} after {step} step(s)"
        if save_on_cancel and out_dir is not None and step > (history[-1]["step"] if history
                                                                 else 0):
            payload = _payload(model, optimizer, scaler, config, graph, ds, epoch, step,
                               history, best_acc, best_epoch, device)
            saved = save_checkpoint(out_dir / "interrupted.pt", {**payload, "partial": True})
            message += f"; saved the weights so far to {saved}"
        if last_path:
            message += f"; the last checkpoint ({last_path}) is kept"
    if status == "oom":  # give the memory back: the half-done step's grads and cache
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    res = result(status, message)
    emit("end", res.to_dict())
    return res


@torch.no_grad()
def load_initial_weights(model: nn.Module, tensors: dict[str, torch.Tensor],
                         label: str = "imported weights") -> str:
    """Copy the tensors whose name and shape fit into `model` (the others keep their fresh
    initialisation); returns the line that says so. TrainError when none fits."""
    expected = model.state_dict()
    fit = {k: v for k, v in tensors.items()
           if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    if not fit:
        raise TrainError(f"none of the {len(tensors)} tensors of {label} fits this network "
                         f"(names and shapes differ) — they are weights of another network")
    with torch.no_grad():
        model.load_state_dict(fit, strict=False)
    skipped = len(tensors) - len(fit)
    return (f"starting from {label} ({len(fit)} of {len(expected)} tensors"
            + (f"; {skipped} that do not fit were left out" if skipped else "") + ")")


def evaluate(model: nn.Module, split: Split, prep: BatchPrep, device: torch.device,
             adtype: torch.dtype | None, num_classes: int, batch_size: int = 256
             ) -> dict[str, Any]:
    """Loss, accuracy, per-class accuracy and the confusion matrix (rows: true class)."""
    was_training = model.training
    model.eval()
    k = num_classes
    cm = torch.zeros(k * k, device=device, dtype=torch.int64)
    loss_sum = torch.zeros((), device=device)
    n = len(split)
    for i in range(0, n, batch_size):
        xb = prep(split.x[i:i + batch_size].to(device, non_blocking=True), train=False)
        yb = split.y[i:i + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=adtype, enabled=adtype is not None):
            out = model(xb)
        loss_sum += F.cross_entropy(out.float(), yb, reduction="sum")
        cm += torch.bincount(yb * k + out.argmax(1), minlength=k * k)
    model.train(was_training)
    cm = cm.view(k, k).cpu()
    total = int(cm.sum())
    per_class = [None if int(row.sum()) == 0 else float(row[i]) / float(row.sum())
                 for i, row in enumerate(cm)]
    return {"loss": float(loss_sum) / max(1, total),
            "accuracy": float(cm.diag().sum()) / max(1, total),
            "per_class_accuracy": per_class, "confusion_matrix": cm.tolist(), "samples": total}


def _payload(model, optimizer, scaler, config, graph, ds, epoch, step, history, best_acc,
             best_epoch, device) -> dict[str, Any]:
    rng = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return {"epoch": epoch, "step": step,
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "config": config.to_dict(), "graph": graph.to_dict(),
            "classes": list(ds.classes),
            "normalization": ({"mean": list(ds.mean), "std": list(ds.std)}
                              if config.normalize and ds.mean is not None else None),
            "history": history, "best_val_acc": best_acc, "best_epoch": best_epoch,
            "rng": rng}
