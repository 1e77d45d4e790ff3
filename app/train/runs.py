"""Runs side by side: each run's folder keeps `run.json`, and `netcanvas runs` reads them.

`run.json` (rewritten atomically after every epoch, so a crash leaves the last whole one):
the project file, the graph (the project dict), the TrainConfig, when it started, the
device and data, one row per epoch (losses, accuracies, seconds, lr), the final status,
the best validation accuracy and the final confusion matrix with its class names. It is
plain JSON so other tools (a notebook, a spreadsheet) can read it. GUI-free.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from app.project import atomic_write_text

RUN_FILE = "run.json"
_ROW_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "lr",
             "step", "precise_bn")


def recording(callback, out_dir: str | None, graph, config, project: str | None = None):
    """Wrap a training callback so that the run's events also go into out_dir/run.json.
    Without an out_dir nothing is written (the run keeps no folder)."""
    if not out_dir:
        return callback
    path = Path(out_dir) / RUN_FILE
    rec: dict[str, Any] = {"format": "netcanvas-run", "version": 1,
                           "project": str(Path(project).resolve()) if project else None,
                           "name": graph.name, "graph": graph.to_dict(),
                           "config": config.to_dict(), "started": time.time(),
                           "status": "running", "epochs": []}

    def save() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(rec, indent=1))

    def wrapped(event: str, d: dict[str, Any]) -> None:
        if event == "start":
            rec.update(device=d.get("device"), data=d.get("data"), classes=d.get("classes"))
            if d.get("start_epoch"):  # a resumed run goes on in the same folder and record
                old = read_run(path.parent)
                if old:
                    rec["started"] = old.get("started", rec["started"])
                    rec["epochs"] = old.get("epochs", [])[:d["start_epoch"]]
            save()
        elif event == "epoch_end":
            rec["epochs"].append({k: d.get(k) for k in _ROW_KEYS})
            rec["confusion_matrix"] = d.get("confusion_matrix")
            rec["classes"] = d.get("classes", rec.get("classes"))
            save()
        elif event == "end":
            rec.update(status=d.get("status"), message=d.get("message"),
                       best_val_acc=d.get("best_val_acc"), best_epoch=d.get("best_epoch"),
                       checkpoint=d.get("checkpoint"), ended=time.time())
            save()
        if callback is not None:
            callback(event, d)
    return wrapped


def read_run(folder: str | Path) -> dict[str, Any] | None:
    """The folder's run.json, or None when it has none or it cannot be read."""
    try:
        data = json.loads((Path(folder) / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != "netcanvas-run":
        return None
    data["folder"] = str(Path(folder))
    return data


def find_runs(project: str | Path, dirs: list[str | Path] | None = None) -> list[dict]:
    """The runs of `project`, oldest first: folders under `runs/` beside the project and in
    the current directory (or under `dirs`) whose run.json names this project file, or,
    for a record without one, whose folder name is the project's `<stem>-…`."""
    project = Path(project).resolve()
    roots = [Path(d) for d in dirs] if dirs else [project.parent / "runs", Path("runs")]
    seen, found = set(), []
    for root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            key = folder.resolve()
            if key in seen:
                continue
            seen.add(key)
            run = read_run(folder)
            if run is None:
                continue
            mine = (run.get("project") == str(project) if run.get("project")
                    else folder.name.startswith(project.stem + "-"))
            if mine:
                found.append(run)
    return sorted(found, key=lambda r: r.get("started") or 0)


def config_changes(old: dict, new: dict) -> list[str]:
    """`name a→b` for each setting that differs (where the checkpoints go is not one)."""
    skip = {"out_dir"}
    return [f"{k} {old.get(k)!r}→{new.get(k)!r}".replace("'", "")
            for k in sorted(set(old) | set(new)) if k not in skip and old.get(k) != new.get(k)]


def graph_changes(old: dict, new: dict) -> list[str]:
    """What changed in the network between two runs, in short: added and removed nodes,
    parameters and repeats, wiring and block definitions — from the graph diff
    (`netcanvas diff`), so a renumbered copy counts as the same network."""
    from app.diff import diff_projects
    from app.project import ProjectError, project_from_dict
    if old == new:
        return []
    try:
        a, b = project_from_dict(old), project_from_dict(new)
    except ProjectError:
        return ["graph changed"]
    p = diff_projects(a, b)
    d = p.graph
    out = [f"+{n} {b.type_of(n)}" for n in d.added]
    out += [f"-{n} {a.type_of(n)}" for n in d.removed]
    for n, what in d.changed.items():
        out += [f"{n}.{k} {o}→{v}" for k, (o, v) in what.get("params", {}).items()]
        if "repeat" in what:
            out.append(f"{n} ×{what['repeat'][0]}→×{what['repeat'][1]}")
    if d.edges_added or d.edges_removed:
        out.append("edges changed")
    out += [f"block {name} {what['status']}" for name, what in p.definitions.items()]
    return out


def summarize(runs: list[dict]) -> list[dict[str, Any]]:
    """One row per run: name, status, epochs, best val acc (epoch), seconds, and what
    changed in config and graph since the previous run."""
    rows, prev = [], None
    for r in runs:
        epochs = r.get("epochs", [])
        best = max(epochs, key=lambda e: e.get("val_acc") or 0, default=None)
        changes = []
        if prev is not None:
            changes = (config_changes(prev.get("config", {}), r.get("config", {}))
                       + graph_changes(prev.get("graph", {}), r.get("graph", {})))
        rows.append({"run": Path(r["folder"]).name, "folder": r["folder"],
                     "status": r.get("status"), "epochs": len(epochs),
                     "best_val_acc": best.get("val_acc") if best else None,
                     "best_epoch": best.get("epoch") if best else None,
                     "seconds": sum(e.get("seconds") or 0 for e in epochs),
                     "changes": changes if prev is not None else None})
        prev = r
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ("run", "status", "epochs", "best val acc", "time", "changed since previous")
    body = []
    for r in rows:
        acc = (f"{r['best_val_acc']:.1%} (ep {r['best_epoch']})"
               if r["best_val_acc"] is not None else "—")
        changes = ("(first)" if r["changes"] is None
                   else ", ".join(r["changes"]) or "nothing")
        body.append((r["run"], r["status"] or "?", str(r["epochs"]), acc,
                     f"{r['seconds']:.1f} s", changes))
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(head[:-1])]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)) + "  " + head[-1]]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]
              for row in body]
    return "\n".join(lines)


def new_run_dir(project: str | Path, root: str | Path | None = None) -> Path:
    """A fresh folder name for a run: ROOT/<project stem>-<date>-<time> (ROOT: runs/ beside
    the project); -2, -3… when two runs start within the same second."""
    from datetime import datetime
    project = Path(project)
    root = Path(root) if root is not None else project.parent / "runs"
    base = root / f"{project.stem}-{datetime.now():%Y%m%d-%H%M%S}"
    path, i = base, 2
    while path.exists():
        path, i = base.with_name(f"{base.name}-{i}"), i + 1
    return path
