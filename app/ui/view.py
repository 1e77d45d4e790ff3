"""The canvas view: zoom around the cursor, pan (middle-drag or space-drag), fit all, a
dotted grid, and a minimap of the same scene in the corner."""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsScene,
    QGraphicsView,
    QRubberBand,
    QStyle,
    QStyleOptionRubberBand,
)

from .node_item import detail_level
from .overview import overview_of
from .theme import colors

MIN_ZOOM, MAX_ZOOM = 0.05, 4.0


class CanvasView(QGraphicsView):
    zoomChanged = Signal(float)
    filesDropped = Signal(list)  # paths of .json files dropped onto the canvas
    upRequested = Signal()  # Esc inside a composite block: back to the level above

    def __init__(self, scene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing
                            | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, False)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAcceptDrops(True)
        self._pan: QPointF | None = None
        self._space = False
        self.frame_color: QColor | None = None  # a block is open: its colour frames the canvas
        self.minimap = Minimap(self)
        self.minimap.hide()

    # ---- zoom ------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, z: float, anchor_view_pos=None) -> None:
        z = max(MIN_ZOOM, min(MAX_ZOOM, z))
        factor = z / self.zoom()
        if abs(factor - 1) < 1e-9:
            return
        if anchor_view_pos is None:
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
            self.scale(factor, factor)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        else:
            before = self.mapToScene(anchor_view_pos)
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(factor, factor)
            after = self.mapToScene(anchor_view_pos)
            delta = after - before
            self.translate(delta.x(), delta.y())
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.zoomChanged.emit(self.zoom())
        self.minimap.viewport().update()

    def wheelEvent(self, ev):
        if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return super().wheelEvent(ev)  # shift+wheel scrolls
        steps = ev.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom() * math.pow(1.18, steps), ev.position().toPoint())
        ev.accept()

    def fit_all(self, min_zoom: float | None = None) -> None:
        """Show every node (at most 100 %). With min_zoom (opening a file), never zoom out
        below it: a big network then shows its start, readable, and the minimap the rest."""
        rect = self.scene().items_rect()
        if rect.isNull():
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.set_zoom(1.0)
        self.centerOn(rect.center())
        if min_zoom is not None and self.zoom() < min_zoom:
            self.set_zoom(min_zoom)
            vp = self.viewport().rect()
            half_w = vp.width() / 2 / self.zoom()
            half_h = vp.height() / 2 / self.zoom()
            cy = rect.center().y() if rect.height() / 2 <= half_h else rect.top() + half_h
            self.centerOn(QPointF(rect.left() + half_w, cy))
        self.zoomChanged.emit(self.zoom())
        self.minimap.viewport().update()

    def center_on_node(self, item) -> None:
        self.centerOn(item.sceneBoundingRect().center())
        self.minimap.viewport().update()

    # ---- pan -------------------------------------------------------------------------
    def mousePressEvent(self, ev):
        if ev.button() == Qt.MouseButton.MiddleButton or (
                self._space and ev.button() == Qt.MouseButton.LeftButton):
            self._pan = ev.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            ev.accept()
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):
        if self._pan is not None:
            d = ev.position() - self._pan
            self._pan = ev.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(d.y()))
            ev.accept()
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):
        if self._pan is not None:
            self._pan = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space
                                      else Qt.CursorShape.ArrowCursor)
            ev.accept()
            return
        super().mouseReleaseEvent(ev)

    def keyPressEvent(self, ev):
        if ev.key() == Qt.Key.Key_Space and not ev.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            ev.accept()
            return
        if ev.key() == Qt.Key.Key_Escape:
            scene = self.scene()
            if scene._wire is not None:
                scene.cancel_wire()
            elif scene.doc.trail:  # inside a block: Esc goes up one level
                self.upRequested.emit()
                ev.accept()
                return
            else:
                scene.clearSelection()
        super().keyPressEvent(ev)

    def keyReleaseEvent(self, ev):
        if ev.key() == Qt.Key.Key_Space and not ev.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            ev.accept()
            return
        super().keyReleaseEvent(ev)

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        if self.frame_color is not None:  # the frame stays put: repaint, do not scroll it
            self.viewport().update()
        self.minimap.viewport().update()

    # ---- files dropped on the canvas -------------------------------------------------------
    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()
            return
        super().dragEnterEvent(ev)

    def dragMoveEvent(self, ev):
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()
            return
        super().dragMoveEvent(ev)

    def dropEvent(self, ev):
        if ev.mimeData().hasUrls():
            paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
            ev.acceptProposedAction()
            self.filesDropped.emit(paths)
            return
        super().dropEvent(ev)

    # ---- drawing -----------------------------------------------------------------------
    def drawBackground(self, painter, rect: QRectF):
        c = colors()
        painter.fillRect(rect, c.background)
        z = self.zoom()
        if z < 0.35:
            return
        step = 20.0 if z >= 0.7 else 40.0
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        pen = QPen(c.grid, 0)
        painter.setPen(pen)
        lines = []
        x = left
        while x < rect.right():
            lines.append((x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append((rect.left(), y, rect.right(), y))
            y += step
        from PySide6.QtCore import QLineF
        painter.drawLines([QLineF(*ln) for ln in lines])

    def paintEvent(self, ev):
        """Zoomed out (nodes are boxes with at most their type), the canvas is drawn from
        the overview's recorded cells instead of item by item (see overview.py)."""
        detail = detail_level(self.zoom())
        if detail == "full":
            super().paintEvent(ev)
            return
        painter = QPainter(self.viewport())
        painter.setRenderHints(self.renderHints())
        painter.setClipRect(ev.rect())
        exposed = self.mapToScene(ev.rect().adjusted(-1, -1, 1, 1)).boundingRect()
        painter.setTransform(self.viewportTransform())
        self.drawBackground(painter, exposed)
        overview_of(self.scene()).draw(painter, exposed, self.zoom(), detail)
        self.drawForeground(painter, exposed)
        band = self.rubberBandRect()
        if not band.isEmpty():
            painter.resetTransform()
            option = QStyleOptionRubberBand()
            option.initFrom(self.viewport())
            option.rect = band
            option.shape = QRubberBand.Shape.Rectangle
            self.viewport().style().drawControl(QStyle.ControlElement.CE_RubberBand, option,
                                                painter, self.viewport())
        painter.end()

    def set_frame_color(self, color: QColor | None) -> None:
        self.frame_color = color
        self.viewport().update()

    def drawForeground(self, painter, rect: QRectF):
        if self.frame_color is None:
            return
        painter.save()
        painter.resetTransform()
        pen = QPen(self.frame_color, 4)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(self.viewport().rect()).adjusted(2, 2, -2, -2))
        painter.restore()

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self.minimap.place()


class Minimap(QGraphicsView):
    """An overview of the whole scene; the main view's area is outlined; click or drag to
    move there. It shows an empty scene with the same coordinates and draws the canvas's
    overview (overview.py) into a picture kept until the graph or the fit changes, so that
    scrolling the canvas repaints only the outline."""

    def __init__(self, main: CanvasView):
        super().__init__(QGraphicsScene(main), main)
        self.main = main
        self._pixmap: QPixmap | None = None
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedSize(200, 110)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setRenderHints(QPainter.RenderHint.Antialiasing)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.refit)
        main.scene().changed.connect(lambda _r: self._timer.start())
        self.overview = overview_of(main.scene())

    def place(self) -> None:
        vp = self.main.viewport().geometry()
        self.move(vp.right() - self.width() - 10, vp.bottom() - self.height() - 10)

    def refit(self) -> None:
        if not self.isVisible():
            return
        rect = self.main.scene().items_rect()
        if rect.isNull():
            rect = QRectF(-200, -150, 400, 300)
        rect = rect.adjusted(-30, -30, 30, 30)
        self.scene().setSceneRect(rect)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._pixmap = None
        self.viewport().update()

    def showEvent(self, ev):
        super().showEvent(ev)
        self.place()
        self.refit()

    def drawBackground(self, painter, rect):
        c = colors()
        vp = self.viewport()
        if self._pixmap is None or self._pixmap.size() != vp.size():
            self._pixmap = QPixmap(vp.size())
            self._pixmap.fill(c.background.darker(104) if not c.dark else c.background.lighter(115))
            p = QPainter(self._pixmap)
            p.setRenderHints(self.renderHints())
            p.setTransform(self.viewportTransform())
            z = self.transform().m11()
            self.overview.draw(p, self.mapToScene(vp.rect()).boundingRect(), z, detail_level(z))
            p.end()
        painter.save()
        painter.resetTransform()
        painter.drawPixmap(0, 0, self._pixmap)
        painter.restore()

    def drawForeground(self, painter, rect):
        area = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        c = colors()
        fill = QColor(c.accent)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(c.accent, 0))
        painter.drawRect(area)

    def _go(self, ev):
        self.main.centerOn(self.mapToScene(ev.position().toPoint()))
        self.viewport().update()

    def mousePressEvent(self, ev):
        self._go(ev)

    def mouseMoveEvent(self, ev):
        if ev.buttons():
            self._go(ev)

    def wheelEvent(self, ev):
        ev.accept()
