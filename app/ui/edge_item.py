"""Edges: a curve from an output port to an input port with the tensor shape on it, and the
rubber line drawn while connecting."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QStyle,
    QStyleOptionGraphicsItem,
)

from .node_item import FAR_SPILL, LOD_TEXT, NodeItem, fonts
from .theme import colors


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    dx = abs(p2.x() - p1.x())
    bend = max(40.0, dx * 0.5) if p2.x() >= p1.x() else max(80.0, dx * 0.35 + 60)
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + bend, p1.y()), QPointF(p2.x() - bend, p2.y()), p2)
    return path


class EdgeItem(QGraphicsItem):
    def __init__(self, src, dst, port: int):
        super().__init__()
        self.src, self.dst, self.port = src, dst, port
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self.label = ""
        self.path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._rect = QRectF()
        self._label_rect = QRectF()
        self.muted = False
        self.hot = False  # a palette block is dragged over it: dropping splices it in

    def set_hot(self, hot: bool) -> None:
        if hot != self.hot:
            self.hot = hot
            self.update()

    @property
    def key(self) -> tuple[str, str]:
        return self.src.node_id, self.dst.node_id

    def set_label(self, text: str, muted: bool = False) -> None:
        if text != self.label or muted != self.muted:
            self.label, self.muted = text, muted
            self._set_geometry(self.path)
            self.update()

    def update_path(self) -> None:
        p1 = self.src.pos() + self.src.output_port_pos()
        p2 = self.dst.pos() + self.dst.input_port_pos(self.port)
        self._set_geometry(curve(p1, p2))

    def relabel(self) -> None:
        """Place the label again (nodes were added, moved or removed around it)."""
        if self.label and self._label_for(self.path) != self._label_rect:
            self._set_geometry(self.path)

    def _set_geometry(self, path: QPainterPath) -> None:
        # Work out the label's place first: it asks the scene's index, which must not see
        # this item between prepareGeometryChange() and the new rect (it would index the
        # old rect and later crash on a deleted item).
        label = self._label_for(path)
        self.prepareGeometryChange()
        self.path, self._shape, self._label_rect = path, None, label
        self._rect = path.boundingRect().adjusted(-4, -4, 4, 4).united(label)

    def _label_for(self, path: QPainterPath) -> QRectF:
        """Where the label goes on `path`: midway, or along the curve or above it where a
        node would hide it."""
        if not self.label:
            return QRectF()
        m = fonts().m_small
        w, h = m.horizontalAdvance(self.label) + 8, m.height() + 2
        if self.scene() is None:
            return _label_at(path, 0.5, w, h)
        for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            r = _label_at(path, t, w, h)
            if not self._covering(r):
                return r
        r = _label_at(path, 0.5, w, h)
        for _ in range(4):
            over = self._covering(r)
            if not over:
                break
            r.moveBottom(min(b.top() for b in over) - 4)
        return r

    def _covering(self, r: QRectF) -> list[QRectF]:
        """The boxes of the nodes that would hide a label at r."""
        boxes = [it.sceneBoundingRect().adjusted(FAR_SPILL, 0, -FAR_SPILL, 0)
                 for it in self.scene().items(r) if isinstance(it, NodeItem)]
        return [b for b in boxes if b.intersects(r)]

    def label_rect(self) -> QRectF:
        return self._label_rect

    def boundingRect(self) -> QRectF:
        return self._rect

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            self._shape = stroker.createStroke(self.path)
        return self._shape

    def paint(self, painter, option, widget=None):
        c = colors()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        ends_selected = self.src.isSelected() or self.dst.isSelected()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        color = c.accent if (selected or ends_selected or self.hot) else c.edge
        selected = selected or self.hot  # drawn thick
        if self.muted and not selected:
            color = QColor(color)
            color.setAlpha(c.muted_alpha)
        if lod < LOD_TEXT:
            painter.setPen(QPen(color, 2.0 / max(lod, 0.05) if selected else 0))
            if lod < 0.2:  # far out: a straight line is enough, and much cheaper
                painter.setRenderHint(painter.RenderHint.Antialiasing, False)
                painter.drawLine(self.path.elementAt(0), self.path.currentPosition())
            else:
                painter.drawPath(self.path)
            return
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        painter.setPen(QPen(color, 2.6 if selected else 1.6, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        if self.label:
            painter.setPen(QPen(color, 1.0))
            painter.setBrush(c.label_bg)
            r = self._label_rect
            painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
            painter.setFont(fonts().small)
            painter.setPen(c.text if not self.muted else c.subtext)
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, self.label)


def _label_at(path: QPainterPath, t: float, w: float, h: float) -> QRectF:
    """Above a flat stretch of the curve (the line and the ports stay visible); on a steep
    one, centred on it."""
    mid = path.pointAtPercent(t)
    slope = path.angleAtPercent(t)
    flat = slope < 20 or slope > 340 or 160 < slope < 200
    top = mid.y() - h - 6 if flat else mid.y() - h / 2
    return QRectF(mid.x() - w / 2, top, w, h)


class RubberLine(QGraphicsPathItem):
    """The line that follows the mouse while connecting; red where it cannot connect."""

    def __init__(self, start: QPointF):
        super().__init__()
        self.start = start
        self.setZValue(10)
        self.ok = True
        self.set_end(start, True)

    def set_end(self, end: QPointF, ok: bool) -> None:
        self.ok = ok
        c = colors()
        self.setPen(QPen(c.ok if ok else c.error, 2.2, Qt.PenStyle.DashLine if not ok else Qt.PenStyle.SolidLine,
                         Qt.PenCapStyle.RoundCap))
        self.setPath(curve(self.start, end))
