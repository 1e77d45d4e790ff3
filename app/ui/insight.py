"""What a design does, in the editor: the status bar says whether training fits on the GPU,
and the inspector shows the selected node's receptive field and training memory.

The numbers come from the same code as `netcanvas summary --batch` (app.train.memory,
app.graph.receptive). A memory estimate builds the model on fake tensors, which takes up to
a second or two for the biggest templates, so it runs on a worker thread over a snapshot of
the graph, a moment after the last edit; an answer for an older snapshot is dropped.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QLabel

from app.graph.receptive import field_of
from app.summary import fmt_bytes

DEFAULT_BATCH = 64
MAX_LIVE_NODES = 2000  # above this, the status bar does not re-estimate after every edit


class MemoryStatus(QLabel):
    """'Train ×64 fp32: 947 MiB ✓ fits 16 GiB' in the status bar."""
    estimated = Signal(object)  # the new MemoryEstimate, or None
    _done = Signal(int, object, str)  # from the worker: generation, estimate, error

    def __init__(self, doc, train_panel=None, parent=None):
        """Batch size, optimizer and mixed precision follow the Train panel when there is
        one; else 64, AdamW, fp32."""
        super().__init__(parent)
        self.doc = doc
        self.panel = train_panel
        self.estimate = None
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(600)
        self._timer.timeout.connect(self._start)
        self._done.connect(self._finish)
        doc.changed.connect(self.schedule)
        if train_panel is not None:
            self.follow(train_panel)
        self.schedule()

    def follow(self, panel) -> None:
        """Take batch size, optimizer and precision from the Train panel (made on first use)."""
        self.panel = panel
        for signal in (panel.batch_spin.valueChanged, panel.amp_check.toggled,
                       panel.optimizer_combo.currentIndexChanged,
                       panel.device_combo.currentIndexChanged):
            signal.connect(self.schedule)
        self.schedule()

    def settings(self) -> tuple[int, str, str]:
        p = self.panel
        if p is None:
            return DEFAULT_BATCH, "adamw", "fp32"
        amp = p.amp_check.isChecked() and p.amp_check.isEnabled()  # enabled: a CUDA device
        return p.batch_spin.value(), p.optimizer_combo.currentData(), "bf16" if amp else "fp32"

    def schedule(self, *_) -> None:
        self._timer.start()

    def _start(self) -> None:
        from app.project import project_from_dict
        self._generation += 1
        g = self.doc.graph
        if g.problems() or len(g.input_nodes()) != 1:
            self._show(None, "Training memory: fix the problems first", "")
            return
        if g.g.number_of_nodes() > MAX_LIVE_NODES:  # the snapshot alone would cost an edit's time
            self._show(None, "Training memory: netcanvas summary FILE --batch B", "")
            return
        batch, optimizer, precision = self.settings()
        snapshot = project_from_dict(g.to_dict())  # the worker must not see edits
        self.setText(f"Train ×{batch}: estimating…")
        from . import gc_guard
        gc_guard.start_thread(self._work, self._generation, snapshot, batch, optimizer,
                              precision, name="memory-estimate")

    def _work(self, generation, graph, batch, optimizer, precision) -> None:
        from app.train.memory import estimate_memory
        try:
            result = (estimate_memory(graph, batch, optimizer, amp=precision), "")
        except Exception as exc:  # noqa: BLE001 - shown in the status bar, never raised
            result = (None, str(exc) or type(exc).__name__)
        try:
            self._done.emit(generation, *result)
        except RuntimeError:  # the window closed while this ran
            pass

    def _finish(self, generation: int, est, error: str) -> None:
        if generation != self._generation:
            return  # the graph changed while this one was measured
        if est is None:
            self._show(None, "Training memory: no estimate", error)
            return
        from app.train.memory import default_gpu_gib
        gib = default_gpu_gib()
        ok = est.fits(gib)
        verdict = f"✓ fits {gib:g} GiB" if ok else f"✗ over {gib:g} GiB"
        self._show(est, f"Train ×{est.batch_size} {est.precision}: {fmt_bytes(est.total)} "
                        f"{verdict}",
                   f"{est.text()}. {est.fits_text(gib)}. Batch size, optimizer and mixed "
                   f"precision follow the Train panel.", "" if ok else "#D93025")

    def _show(self, est, text: str, tip: str, color: str = "") -> None:
        self.estimate = est
        self.setText(text)
        self.setToolTip(tip)
        self.setStyleSheet(f"color: {color}" if color else "")
        self.estimated.emit(est)


def node_insight_html(graph, node: str, estimate=None) -> str:
    """Extra inspector lines for one node: receptive field, and its training memory."""
    lines = []
    f = field_of(graph, node)  # its ancestors only, not the whole graph
    if f is not None:
        (rh, rw), (sh, sw) = f.receptive_field, f.effective_stride
        stride = "global (every unit sees it all)" if sh == sw == 0 else \
            f"stride {sh}" if sh == sw else f"stride {sh}×{sw}"
        lines.append(f"Receptive field <b>{rh}×{rw}</b>, {stride}")
        if f.warning:
            lines.append(f"⚠ {html.escape(f.warning)}")
    m = estimate.nodes.get(node) if estimate is not None else None
    if m is not None:
        lines.append(f"Training: <b>{fmt_bytes(m.total)}</b> at batch {estimate.batch_size} "
                     f"(activations {fmt_bytes(m.activations)}, weights+grads+optimizer "
                     f"{fmt_bytes(m.weights + m.gradients + m.optimizer)})")
    return "".join(f"<br>{line}" for line in lines)
