"""The Train dock's list of the project's runs (from their run.json files): best
validation accuracy, epochs, what changed since the run before; ticking a run overlays its
validation curves on the live plot."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.train.runs import find_runs, summarize


class RunsList(QWidget):
    overlaysChanged = Signal(dict)  # run name → its per-epoch rows

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project: Path | None = None
        self._records: dict[str, dict] = {}
        self.title = QLabel("Runs of this project (tick to overlay their validation curves)")
        self.title.setWordWrap(True)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        self.list.itemChanged.connect(lambda _item: self.overlaysChanged.emit(self.checked()))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.title, 1)
        row.addWidget(refresh)
        lay.addLayout(row)
        lay.addWidget(self.list)

    def set_project(self, path: str | Path | None) -> None:
        path = Path(path) if path else None
        if path != self.project:
            self.project = path
            self.refresh()

    def refresh(self) -> None:
        """Re-read the run folders; ticks survive for runs that are still there."""
        ticked = set(self.checked())
        self.list.blockSignals(True)
        self.list.clear()
        self._records = {}
        runs = find_runs(self.project) if self.project else []
        for row, rec in zip(summarize(runs), runs):
            name = row["run"]
            self._records[name] = rec
            acc = f"{row['best_val_acc']:.1%}" if row["best_val_acc"] is not None else "—"
            changes = ("first run" if row["changes"] is None
                       else ", ".join(row["changes"]) or "same config and graph")
            item = QListWidgetItem(f"{name} · {acc} · {row['epochs']} ep · {changes}")
            item.setToolTip(f"{row['folder']}\n{row['status']}, {row['seconds']:.1f} s\n"
                            f"changed since the previous run: {changes}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in ticked
                               else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if not runs:
            self.list.addItem("no runs yet" if self.project
                              else "save the project to keep its runs")
        self.overlaysChanged.emit(self.checked())

    def checked(self) -> dict[str, list[dict]]:
        out = {}
        for i in range(self.list.count()):
            item = self.list.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            if name in self._records and item.checkState() == Qt.CheckState.Checked:
                out[name] = self._records[name].get("epochs", [])
        return out
