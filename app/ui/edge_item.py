"""Edges: a curve from an output port to an input port with the tensor shape on it, and the
rubber line drawn while connecting."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QStyle,
    QStyleOptionGraphicsItem,
)

from .node_item import FAR_SPILL, NodeItem, detail_level, fonts
from .theme import colors


_SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable


def bend_of(x1: float, x2: float) -> float:
    dx = abs(x2 - x1)
    return max(40.0, dx * 0.5) if x2 >= x1 else max(80.0, dx * 0.35 + 60)


_label_widths: dict[str, float] = {}


def label_width(text: str) -> float:
    """Width of an edge label (shapes repeat: measured once per text)."""
    w = _label_widths.get(text)
    if w is None:
        if len(_label_widths) > 4096:
            _label_widths.clear()
        w = _label_widths[text] = fonts().m_small.horizontalAdvance(text)
    return w


def curve(p1: QPointF, p2: QPointF) -> QPainterPath:
    bend = bend_of(p1.x(), p2.x())
    path = QPainterPath(p1)
    path.cubicTo(QPointF(p1.x() + bend, p1.y()), QPointF(p2.x() - bend, p2.y()), p2)
    return path


class EdgeItem(QGraphicsItem):
    # defaults until set (class attributes: fewer assignments per edge; each is replaced,
    # never changed in place)
    label = ""
    _p1 = _p2 = QPointF()
    _path: QPainterPath | None = None  # made when first drawn or hit-tested
    _shape: QPainterPath | None = None
    _rect = _label_rect = _curve_rect = QRectF()
    muted = False
    hot = False  # a palette block is dragged over it: dropping splices it in

    def __init__(self, src, dst, port: int):
        super().__init__()
        self.src, self.dst, self.port = src, dst, port
        self.setFlag(_SELECTABLE)
        self.setZValue(-1)

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
            self.prepareGeometryChange()  # the label is part of the bounding rect
            self._place_label()
            self.update()

    @property
    def path(self) -> QPainterPath:
        if self._path is None:
            self._path = curve(self._p1, self._p2)
        return self._path

    def update_path(self) -> None:
        self._p1 = self.src.pos() + self.src.output_port_pos()
        self._p2 = self.dst.pos() + self.dst.input_port_pos(self.port)
        self.prepareGeometryChange()
        self._path = None
        self._shape = None
        self._place_label()

    def _place_label(self) -> None:
        """Label and bounding rect from the end points alone (no path needed): the curve is
        symmetric about the middle of its ends, which is its halfway point, where its
        tangent is (dx - bend, dy); the control points bound it. A label this puts under a
        node is moved clear by relabel(), which the scene runs for the edges in view."""
        x1, y1, x2, y2 = self._p1.x(), self._p1.y(), self._p2.x(), self._p2.y()
        bend = bend_of(x1, x2)
        if self.label:
            m = fonts().m_small
            w, h = label_width(self.label) + 8, m.height() + 2
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            slope = math.degrees(math.atan2(-(y2 - y1), x2 - x1 - bend)) % 360
            self._label_rect = _label_box(mx, my, slope, w, h)
        else:
            self._label_rect = QRectF()
        left, right = min(x1, x2 - bend), max(x1 + bend, x2)
        self._curve_rect = QRectF(left - 4, min(y1, y2) - 4, right - left + 8, abs(y2 - y1) + 8)
        self._rect = self._curve_rect.united(self._label_rect)

    def relabel(self) -> None:
        """Move the label along the curve, or above it, where a node would hide it."""
        if not self.label or self.scene() is None:
            return
        # Work out the place first: it asks the scene's index, which must not see this
        # item between prepareGeometryChange() and the new rect (it would index the old
        # rect and later crash on a deleted item).
        label = self._label_for(self.path)
        if label != self._label_rect:
            self.prepareGeometryChange()
            self._label_rect = label
            self._rect = self._curve_rect.united(label)
            self.update()

    def _label_for(self, path: QPainterPath) -> QRectF:
        m = fonts().m_small
        w, h = label_width(self.label) + 8, m.height() + 2
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
        selected = selected or self.hot  # drawn thick
        color = edge_color(selected, ends_selected, self.muted)
        level = detail_level(lod)
        if level != "full":
            painter.setPen(far_edge_pen(color, selected, lod))
            if level == "box":  # far out: a straight line is enough, and much cheaper
                painter.setRenderHint(painter.RenderHint.Antialiasing, False)
                painter.drawLine(self._p1, self._p2)
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


def _label_box(x: float, y: float, slope: float, w: float, h: float) -> QRectF:
    """Above a flat stretch of the curve (the line and the ports stay visible); on a steep
    one, centred on it."""
    flat = slope < 20 or slope > 340 or 160 < slope < 200
    top = y - h - 6 if flat else y - h / 2
    return QRectF(x - w / 2, top, w, h)


def _label_at(path: QPainterPath, t: float, w: float, h: float) -> QRectF:
    mid = path.pointAtPercent(t)
    return _label_box(mid.x(), mid.y(), path.angleAtPercent(t), w, h)


def edge_color(selected: bool, ends_selected: bool, muted: bool) -> QColor:
    c = colors()
    color = c.accent if (selected or ends_selected) else c.edge
    if muted and not selected:
        color = QColor(color)
        color.setAlpha(c.muted_alpha)
    return color


def far_edge_pen(color: QColor, selected: bool, lod: float) -> QPen:
    """Zoomed out: a hairline, or a line 2 px wide on screen when selected."""
    return QPen(color, 2.0 / max(lod, 0.05) if selected else 0)


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
