"""The editor's side of attached weights (app/weights_store.py): the undo hooks that keep
them with their nodes, the sidecar file on open and save, the inspector's line, and the
exports that use them.

Undo: after an edit is applied (and after each redo) the document's weights are
reconciled with the graph, and the command keeps what that dropped; its undo puts it back.
An edit merged into the one before it (a drag, a spin box) hands its drops to that one.
"""
from __future__ import annotations

from pathlib import Path

from app.weights_store import AttachedWeights, load_sidecar, sidecar_path

# ---- undo hooks (called by Document.run and commands.Command) -------------------------------


def after_apply(doc, cmd) -> None:
    """The edit was done (applied or redone): drop the weights it made misfit, and attach
    again what a redone group/ungroup carried to its new nodes."""
    weights = getattr(doc, "weights", None)
    cmd.weights_dropped = weights.reconcile(doc.graph) if weights else {}
    for node, tensors in getattr(cmd, "weights_added", {}).items():
        weights.attach(doc.graph, node, tensors)


def after_push(doc, cmd) -> None:
    """A command merged into the one before it: that one now carries these drops too."""
    dropped = getattr(cmd, "weights_dropped", None)
    if not dropped:
        return
    top = doc.stack.command(doc.stack.index() - 1)
    if top is not None and top is not cmd:
        top.weights_dropped = {**getattr(top, "weights_dropped", {}), **dropped}


def after_undo(doc, cmd) -> None:
    weights = getattr(doc, "weights", None)
    if weights is None:
        return
    for node in getattr(cmd, "weights_added", {}):
        weights.detach(node)
    dropped = getattr(cmd, "weights_dropped", None)
    if dropped:
        weights.restore(dropped)


# ---- group and ungroup at the top: the tensors move with the nodes --------------------------

def carry_into_group(doc, cmd, nodes: list[str]) -> None:
    """Group of top-level nodes: their tensors become the new instance's (under the body's
    names), when every tensor the instance needs is there."""
    inst, dropped = cmd.result, getattr(cmd, "weights_dropped", {})
    if doc.trail or inst is None or not dropped:
        return
    from app.compile import attribute_names
    g = doc.graph
    names = attribute_names(g.definitions[g.type_of(inst)].body)
    tensors = {f"{names[n]}.{k}": v for n in nodes if n in dropped and n in names
               for k, v in dropped[n].items()}
    if tensors and doc.weights.attach(g, inst, tensors):
        cmd.weights_added = {inst: tensors}


def before_ungroup(doc, instance: str):
    """What ungroup needs to hand an instance's tensors to its nodes: (instance, the
    body's nodes in the order ungroup adds them, their attribute names), or None."""
    g = doc.graph
    if doc.trail or not doc.weights.has(instance) or g.type_of(instance) not in g.definitions:
        return None
    from app.compile import attribute_names
    d = g.definitions[g.type_of(instance)]
    order = [n for n in d.body.topological_order() if n not in d.inputs]
    return instance, order, attribute_names(d.body)


def carry_out_of_group(doc, cmd, plan) -> None:
    if plan is None or not cmd.result:
        return
    instance, order, names = plan
    tensors = getattr(cmd, "weights_dropped", {}).get(instance, {})
    added = {}
    for body_node, node in zip(order, cmd.result):
        prefix = names.get(body_node, "") + "."
        mine = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if mine and doc.weights.attach(doc.graph, node, mine):
            added[node] = mine
    if added:
        cmd.weights_added = added


# ---- the window's part -----------------------------------------------------------------------

def model_with_weights(graph, state: dict | None):
    """The graph's compiled model with these state_dict tensors in it (None: no weights)."""
    if not state:
        return None
    from app.export.errors import compiled
    model = compiled(graph)
    model.load_state_dict(state, strict=False)
    return model


class WeightsMixin:
    """Sidecar weights on open and save, the inspector's line, Export ▸ Weights."""

    def _build_weights_ui(self) -> None:
        self.export_weights_action = self._act(
            "&Weights (safetensors)…", self.export_weights,
            tip="The network's weights: those attached to its nodes (imported or saved), "
                "freshly initialised for the others")
        self.export_menu.addAction(self.export_weights_action)
        shown = self.inspector.stats_extra

        def extra(g, n):
            return (shown(g, n) if shown else "") + self.weights_line(g, n)
        self.inspector.stats_extra = extra
        self.doc.changed.connect(self._weights_changed)

    def weights_line(self, g, node: str) -> str:
        """The inspector's line for a node that has weights attached."""
        if g is not self.doc.graph or not self.doc.weights.has(node):
            return ""
        count = len(self.doc.weights.by_node[node])
        return (f"<br><span style='color:#1A73E8'>●</span> weights: {self.doc.weights.source} "
                f"({count} tensor{'s' * (count != 1)})")

    def _weights_changed(self) -> None:
        panel = getattr(self, "train_panel", None)
        if panel is not None and hasattr(panel, "update_start_from"):
            panel.update_start_from()

    def attach_weights(self, state: dict, source: str = "trained") -> None:
        """Attach a state_dict (e.g. a run's weights) to the network's nodes, in place of
        what was attached; checked by name and shape like a sidecar. Not an undo step: the
        project is marked modified, and saving writes them."""
        store, message = AttachedWeights.from_state_dict(self.doc.graph, state,
                                                         f"the {source} weights", source)
        self.doc.weights = store
        self.doc.set_forced_modified(True)
        self._weights_changed()
        n, m = store.coverage(self.doc.graph)
        self.show_status(message or f"The {source} weights are now the network's "
                                    f"({n} of {m} tensors)", 12000)
        if self.inspector.node is not None:
            self.inspector.refresh()

    # ---- files ----------------------------------------------------------------------------
    def attach_sidecar_weights(self, project, dialog: bool = True) -> None:
        """Attach the weights saved beside `project`, if any (not an undo step: part of
        opening it); what does not fit is said once (in the status bar only while the
        window is being made: no dialog may block `gui FILE --screenshot`)."""
        store, message = load_sidecar(self.doc.graph, project)
        if store is not None:
            self.doc.weights = store
            self._weights_changed()
        if message:
            if dialog:
                self.warn("Weights", message)
            self.show_status(message, 30000)
        elif store:
            n, m = store.coverage(self.doc.graph)
            self.show_status(f"Opened {project} with its weights ({n} of {m} tensors)")

    def open_file(self, path: str | None = None) -> bool:
        ok = super().open_file(path)
        if ok and self.doc.path is not None:
            self.attach_sidecar_weights(self.doc.path)
        return ok

    def _write(self, path: Path) -> bool:
        try:  # the weights first: a project whose weights could not be written is not saved
            written = self.doc.weights.save_sidecar(self.doc.graph, path)
        except OSError as exc:
            self.warn("Cannot save the weights", f"{path}\n\n{exc.strerror or exc}")
            return False
        if not super()._write(path):
            return False
        if written is not None:
            self.show_status(f"Saved {path} and its weights {written.name}")
        return True

    # ---- autosave and recovery: the weights beside the autosave ---------------------------
    def autosave_now(self) -> bool:
        """The project as file_ops autosaves it, and the attached weights beside it when
        they changed since the last autosave (they are large, and rarely change)."""
        wrote = super().autosave_now()
        if not wrote:
            return wrote
        weights = self.doc.weights
        key = (id(weights), tuple((n, id(t)) for n, t in weights.by_node.items()))
        if key != getattr(self, "_weights_autosaved", None):
            try:
                weights.save_sidecar(self.doc.graph, self.autosave.path)
            except OSError as exc:
                self.show_status(f"Autosave of the weights failed: {exc.strerror or exc}")
                return wrote
            self._weights_autosaved = key
        return wrote

    def offer_recovery(self) -> bool:
        """Recovered work gets the weights autosaved with it."""
        from . import files
        left = files.leftover_autosaves(exclude=self.autosave.path)
        newest = left[0] if left else None
        beside = sidecar_path(newest) if newest else None
        recovered = super().offer_recovery()
        if beside is None or not beside.exists():
            return recovered
        if recovered:
            store, message = load_sidecar(self.doc.graph, newest)
            if store is not None:
                self.doc.weights = store
                self._weights_changed()
            if message:
                self.show_status(message, 12000)
        beside.unlink(missing_ok=True)
        return recovered

    # ---- exports --------------------------------------------------------------------------
    def attached_state(self) -> dict | None:
        """The attached tensors by state_dict name (None when there are none)."""
        return self.doc.weights.state_dict(self.doc.graph) if self.doc.weights else None

    def export_python(self) -> None:
        """With weights attached, the module also gets them beside it (`NAME.safetensors`,
        which the module's `python NAME.py NAME.safetensors` loads)."""
        state = self.attached_state()
        if not state:
            return super().export_python()
        ex = self._exporter()
        if ex is None or self._refuse_if_broken("Python"):
            return None
        path = self._export_path("Python", "Python source (*.py)", ".py")
        if not path:
            return None
        try:
            written = ex.export_python(self.doc.graph, path)
            beside = Path(written).with_suffix(".safetensors")
            ex.save_weights(model_with_weights(self.doc.graph, state), beside)
        except ex.ExportError as exc:
            self.warn("Python export failed", str(exc))
            return None
        n, m = len(state), len(state) + _fresh_count(self.doc)
        self._exported("Python export", f"Python module written to {path}, with the attached "
                                        f"weights ({n} of {m} tensors) in {beside.name}")
        return None

    def export_weights(self, path: str | None = None) -> bool:
        ex = self._exporter()
        if ex is None or self._refuse_if_broken("weights"):
            return False
        path = path or self._export_path("weights", "safetensors (*.safetensors)", ".safetensors")
        if not path:
            return False
        state = self.attached_state() or {}
        try:
            from app.export.errors import compiled
            model = model_with_weights(self.doc.graph, state) or compiled(self.doc.graph)
            ex.save_weights(model, path)
        except ex.ExportError as exc:
            self.warn("Weights export failed", str(exc))
            return False
        total = len(model.state_dict())
        self._exported("Weights export", f"Weights written to {path}: {len(state)} of {total} "
                                         f"tensors attached, the others freshly initialised")
        return True


def _fresh_count(doc) -> int:
    n, m = doc.weights.coverage(doc.graph)
    return m - n


__all__ = ["AttachedWeights", "WeightsMixin", "after_apply", "after_push", "after_undo",
           "before_ungroup", "carry_into_group", "carry_out_of_group", "model_with_weights"]
