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

from .node_item import LOD_TEXT, fonts
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
            self._place_label()
            self.update()

    def update_path(self) -> None:
        p1 = self.src.pos() + self.src.output_port_pos()
        p2 = self.dst.pos() + self.dst.input_port_pos(self.port)
        self.prepareGeometryChange()
        self.path = curve(p1, p2)
        self._shape = None
        self._place_label()

    def _place_label(self) -> None:
        if self.label:
            m = fonts().m_small
            w, h = m.horizontalAdvance(self.label) + 8, m.height() + 2
            mid = self.path.pointAtPercent(0.5)
            slope = self.path.angleAtPercent(0.5)
            flat = slope < 20 or slope > 340 or 160 < slope < 200
            # above a flat stretch of the curve (the line and the ports stay visible); on a
            # steep one, centred on it
            top = mid.y() - h - 6 if flat else mid.y() - h / 2
            self._label_rect = QRectF(mid.x() - w / 2, top, w, h)
        else:
            self._label_rect = QRectF()
        self._rect = self.path.boundingRect().adjusted(-4, -4, 4, 4).united(self._label_rect)

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
