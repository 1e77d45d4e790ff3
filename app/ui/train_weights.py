"""The Train dock's part in fine-tuning: start from the weights attached to the window's
network ("starting from imported weights (N of M tensors)") or from scratch, and Keep,
which makes a run's weights the network's. Mixed into TrainPanel."""
from __future__ import annotations

from PySide6.QtCore import Slot


class StartFromMixin:
    """Needs the panel's `graph`, `result`, `_thread` and `start_from_combo`."""

    def attached_weights(self):
        """The weights attached to the window's document (None or empty: none)."""
        doc = getattr(self.window(), "doc", None)
        weights = getattr(doc, "weights", None)
        return weights if weights and doc.graph is self.graph else None

    def update_start_from(self) -> None:
        """"starting from imported weights (N of M tensors)" / "from scratch"; a choice of
        scratch is kept while the same weights stay attached."""
        combo = self.start_from_combo
        weights = self.attached_weights()
        same = weights is not None and weights is getattr(self, "_start_from_weights", None)
        scratch = combo.currentData() == "scratch" and combo.count() > 1 and same
        self._start_from_weights = weights  # other weights attached: start from them again
        combo.blockSignals(True)
        combo.clear()
        if weights:
            n, m = weights.coverage(self.graph)
            combo.addItem(f"starting from {weights.source} weights ({n} of {m} tensors)",
                          "weights")
        combo.addItem("from scratch" if weights else "from scratch (no weights attached)",
                      "scratch")
        combo.setCurrentIndex(combo.count() - 1 if scratch else 0)
        combo.setEnabled(combo.count() > 1 and self._thread is None)
        combo.blockSignals(False)

    @Slot()
    def keep_weights(self) -> bool:
        """The last run's weights become the ones attached to the window's network."""
        attach = getattr(self.window(), "attach_weights", None)
        if attach is None or self.result is None or self.result.model is None:
            return False
        state = {k: v.detach().to("cpu").contiguous().clone()
                 for k, v in self.result.model.state_dict().items()}
        attach(state, "trained")
        return True

    def initial_weights(self) -> dict | None:
        """What the next run starts from: the attached tensors, or None (from scratch)."""
        weights = self.attached_weights()
        if not weights or self.start_from_combo.currentData() != "weights":
            return None
        return weights.state_dict(self.graph)
