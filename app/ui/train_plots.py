"""The Train dock's plots, drawn with pyqtgraph: live loss/accuracy curves (with other runs
overlaid) and the confusion matrix. Mouse wheel / drag zoom and pan (right-click ▸ View All
resets), hovering shows the values under the cursor, and `export(path)` (or the Export…
button, or pyqtgraph's own right-click ▸ Export…) writes PNG or SVG."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

TRAIN_COLOR = QColor("#2F7FD8")
VAL_COLOR = QColor("#E07B17")
# overlaid runs: muted, distinct from the live run's two colours
RUN_COLORS = ("#6B8E23", "#8E44AD", "#16A085", "#C0392B", "#7F8C8D", "#D35400")


def export_scene(widget: pg.GraphicsLayoutWidget, path: str | Path) -> Path:
    """PNG or SVG of everything the widget draws, chosen by the suffix. SVG goes through
    Qt's own QSvgGenerator: pyqtgraph 0.14's SVGExporter fails on the closed paths this Qt
    writes (pyqtgraph issue #3495)."""
    import pyqtgraph.exporters as ex
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        ex.ImageExporter(widget.scene()).export(str(path))
    elif suffix == ".svg":
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(widget.size())
        gen.setViewBox(widget.rect())
        gen.setTitle("NetCanvas plot")
        painter = QPainter(gen)
        try:
            widget.render(painter)
        finally:
            painter.end()
    else:
        raise ValueError(f"{path.name}: export to .png or .svg")
    return path


class _PlotBox(QWidget):
    """A GraphicsLayoutWidget, a hover line under it and an Export… button."""

    def __init__(self, parent=None, height: int = 170):
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setMinimumHeight(height)
        self.hover = QLabel(" ")
        self.hover.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        button = QPushButton("Export…")
        button.setToolTip("save the plot as PNG or SVG")
        button.clicked.connect(self._export_dialog)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        row = QHBoxLayout()
        row.addWidget(self.hover, 1)
        row.addWidget(button)
        lay.addLayout(row)
        self.restyle()
        # pyqtgraph's own right-click ▸ Export… would offer its SVG exporter, which fails
        # here (see export_scene); the Export… button does both formats instead.
        self.view.scene().contextMenu = []
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)

    def restyle(self) -> None:
        pal = self.palette()
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.text_color = pal.color(QPalette.ColorRole.Text)

    def export(self, path: str | Path) -> Path:
        return export_scene(self.view, path)

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "plot.png",
                                              "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            try:
                self.export(path)
            except Exception as exc:  # noqa: BLE001 - shown, never raised into Qt
                self.hover.setText(f"could not export: {exc}")
            else:
                self.hover.setText(f"saved {path}")

    def _mouse_moved(self, pos: QPointF) -> None:
        self.hover.setText(self.hover_text(pos) or " ")

    def hover_text(self, scene_pos: QPointF) -> str:
        """What lies under the cursor, in words (each plot says it its own way)."""
        return ""


class CurvesWidget(_PlotBox):
    """Loss and accuracy against epochs: train (running, per report) and validation of the
    live run, plus the validation curves of other runs (`set_overlays`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = self.view.addPlot(title="loss")
        self.acc_plot = self.view.addPlot(title="accuracy")
        for p in (self.loss_plot, self.acc_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
            p.setLabel("bottom", "epoch")
            p.addLegend(offset=(-4, 4), labelTextSize="8pt")
        self.acc_plot.setYRange(0, 1)
        tp, vp = pg.mkPen(TRAIN_COLOR, width=1.8), pg.mkPen(VAL_COLOR, width=2)
        self._lines = {
            "train_loss": self.loss_plot.plot(pen=tp, name="train"),
            "val_loss": self.loss_plot.plot(pen=vp, symbol="o", symbolSize=6,
                                            symbolBrush=VAL_COLOR, name="validation"),
            "train_acc": self.acc_plot.plot(pen=tp),
            "val_acc": self.acc_plot.plot(pen=vp, symbol="o", symbolSize=6,
                                          symbolBrush=VAL_COLOR),
        }
        self._overlay_items: list = []
        self.overlays: dict[str, list[dict]] = {}
        self.clear()

    def clear(self, epochs: int = 1) -> None:
        self.epochs = max(1, epochs)
        self.train_loss: list[tuple[float, float]] = []
        self.train_acc: list[tuple[float, float]] = []
        self.val_loss: list[tuple[float, float]] = []
        self.val_acc: list[tuple[float, float]] = []
        for p in (self.loss_plot, self.acc_plot):
            p.setXRange(0, self.epochs, padding=0.02)
        self._redraw()

    def add_train(self, x: float, loss: float, acc: float) -> None:
        if math.isfinite(loss):
            self.train_loss.append((x, loss))
        self.train_acc.append((x, acc))
        self._redraw()

    def add_val(self, x: float, loss: float, acc: float) -> None:
        if math.isfinite(loss):
            self.val_loss.append((x, loss))
        self.val_acc.append((x, acc))
        self._redraw()

    def set_overlays(self, runs: dict[str, list[dict]]) -> None:
        """name → a run's per-epoch rows (run.json's "epochs"): their validation loss and
        accuracy are drawn as dashed lines, one colour per run."""
        for item, plot in self._overlay_items:
            plot.removeItem(item)
        self._overlay_items = []
        self.overlays = dict(runs)
        for i, (name, rows) in enumerate(self.overlays.items()):
            pen = pg.mkPen(RUN_COLORS[i % len(RUN_COLORS)], width=1.5,
                           style=Qt.PenStyle.DashLine)
            x = [r["epoch"] for r in rows]
            for key, plot in (("val_loss", self.loss_plot), ("val_acc", self.acc_plot)):
                y = [r.get(key) for r in rows]
                pts = [(a, b) for a, b in zip(x, y) if b is not None and math.isfinite(b)]
                item = plot.plot([a for a, _ in pts], [b for _, b in pts], pen=pen,
                                 name=name if key == "val_loss" else None)
                self._overlay_items.append((item, plot))
        most = max([self.epochs] + [len(r) for r in self.overlays.values()])
        for p in (self.loss_plot, self.acc_plot):
            p.setXRange(0, most, padding=0.02)

    def _redraw(self) -> None:
        for key, line in self._lines.items():
            pts = getattr(self, key)
            line.setData([a for a, _ in pts], [b for _, b in pts])

    def hover_text(self, scene_pos: QPointF) -> str:
        for plot, (name, train, val, pct) in (
                (self.loss_plot, ("loss", self.train_loss, self.val_loss, False)),
                (self.acc_plot, ("accuracy", self.train_acc, self.val_acc, True))):
            if plot.sceneBoundingRect().contains(scene_pos):
                x = plot.vb.mapSceneToView(scene_pos).x()
                return self.values_at(x, name, train, val, pct)
        return ""

    def values_at(self, x: float, name: str, train, val, pct: bool) -> str:
        """The train and validation values nearest to epoch x, as text."""
        def fmt(v):
            return f"{v:.1%}" if pct else f"{v:.4f}"
        parts = []
        for what, pts in (("train", train), ("validation", val)):
            if pts:
                px, py = min(pts, key=lambda p: abs(p[0] - x))
                parts.append(f"{what} {name} {fmt(py)} at epoch {px:.2f}")
        for run, rows in self.overlays.items():
            key = "val_acc" if pct else "val_loss"
            pts = [(r["epoch"], r[key]) for r in rows if r.get(key) is not None]
            if pts:
                px, py = min(pts, key=lambda p: abs(p[0] - x))
                parts.append(f"{run} {fmt(py)}")
        return " · ".join(parts)


class ConfusionMatrixWidget(_PlotBox):
    """Rows: true class, columns: predicted; each cell's shade is its share of the row."""

    def __init__(self, parent=None):
        super().__init__(parent, height=220)
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setLabel("left", "true class")
        self.plot.setLabel("bottom", "predicted")
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        cmap = pg.ColorMap([0.0, 1.0], [QColor("#FFFFFF"), TRAIN_COLOR])
        self.image.setLookupTable(cmap.getLookupTable(nPts=256))
        self._texts: list[pg.TextItem] = []
        self.clear()

    def clear(self) -> None:
        self.matrix: list[list[int]] = []
        self.classes: list[str] = []
        self.image.clear()
        for t in self._texts:
            self.plot.removeItem(t)
        self._texts = []

    def set_matrix(self, matrix: list[list[int]], classes: list[str]) -> None:
        self.clear()
        self.matrix = [list(map(int, r)) for r in matrix]
        self.classes = list(classes)
        cm = np.asarray(self.matrix, dtype=float)
        share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        # ImageItem's first axis is x (columns: predicted), so transpose the row-major matrix
        self.image.setImage(share.T, levels=(0, 1))
        ticks = [(i + 0.5, c) for i, c in enumerate(self.classes)]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.getAxis("left").setTicks([ticks])
        k = len(self.classes)
        if k <= 20:  # counts in the cells while they stay readable
            for i in range(k):
                for j in range(k):
                    if cm[i, j]:
                        t = pg.TextItem(str(int(cm[i, j])), anchor=(0.5, 0.5),
                                        color="w" if share[i, j] > 0.55 else self.text_color)
                        t.setPos(j + 0.5, i + 0.5)
                        self.plot.addItem(t)
                        self._texts.append(t)
        self.plot.autoRange()

    def cell_text(self, row: int, col: int) -> str:
        cm = self.matrix
        total = sum(cm[row])
        share = cm[row][col] / total if total else 0.0
        true, pred = self.classes[row], self.classes[col]
        what = "correct" if row == col else f"true {true} predicted as {pred}"
        return f"{what}: {cm[row][col]} of {total} ({share:.0%} of class {true})"

    def hover_text(self, scene_pos: QPointF) -> str:
        if not self.matrix or not self.plot.sceneBoundingRect().contains(scene_pos):
            return ""
        p = self.plot.vb.mapSceneToView(scene_pos)
        col, row = math.floor(p.x()), math.floor(p.y())
        k = len(self.matrix)
        return self.cell_text(row, col) if 0 <= row < k and 0 <= col < k else ""
