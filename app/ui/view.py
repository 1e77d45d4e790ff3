"""The canvas view: zoom around the cursor, pan (middle-drag or space-drag), fit all, a
dotted grid, and a minimap of the same scene in the corner."""
from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QCursor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsScene,
    QGraphicsView,
    QMenu,
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
    tabPressed = Signal()  # Tab on the canvas: quick add (not a focus move)

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
        self._empty = None
        scene.changed.connect(self._empty_changed)
        # True while the view shows what fit_all chose (no zoom or pan since): when the window
        # changes size, it fits again (MainWindow.size_docks)
        self.fitted = False

    def _empty_changed(self, _rects=None) -> None:
        """The empty-canvas hint is drawn over the whole view: repaint it all when it comes
        or goes (a node's own update would leave pieces of it)."""
        nodes = getattr(self.scene(), "nodes", None)
        if nodes is None:  # the scene is being destroyed (its last signals arrive)
            return
        empty = not nodes
        if empty != self._empty:
            self._empty = empty
            self.viewport().update()

    # ---- zoom ------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, z: float, anchor_view_pos=None) -> None:
        z = max(MIN_ZOOM, min(MAX_ZOOM, z))
        self.fitted = False
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
        self._relabel_soon()

    def wheelEvent(self, ev):
        if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.fitted = False
            return super().wheelEvent(ev)  # shift+wheel scrolls
        steps = ev.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self.zoom() * math.pow(1.18, steps), ev.position().toPoint())
        ev.accept()

    def fit_all(self, min_zoom: float | None = None) -> None:
        """Show every node (at most 100 %). With min_zoom (opening a file), never zoom out
        below it: a big network then shows its start, readable, and the minimap the rest."""
        rect = self.scene().items_rect()
        if rect.isNull():  # nothing yet: 100 %, the origin in the middle
            self.set_zoom(1.0)
            self.resetTransform()  # exactly 100 %: scaling back from a fit leaves 0.99999…
            self.centerOn(0, 0)
            self.fitted = True
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
        self.fitted = min_zoom is None

    def cursor_scene_pos(self) -> QPointF:
        """Where the mouse is on the canvas; the middle of the canvas when it is elsewhere."""
        p = self.viewport().mapFromGlobal(QCursor.pos())
        if not self.viewport().rect().contains(p):
            p = self.viewport().rect().center()
        return self.mapToScene(p)

    def center_on_node(self, item) -> None:
        self.fitted = False
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
            self.fitted = False
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

    def event(self, ev):
        # Tab reaches no key handler (QWidget moves the focus with it first): catch it here
        if ev.type() == QEvent.Type.KeyPress and ev.key() == Qt.Key.Key_Tab and \
                not ev.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.tabPressed.emit()
            return True
        return super().event(ev)

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
        self._relabel_soon()

    def _relabel_soon(self) -> None:
        """Labels now in view keep clear of the nodes (the scene places only those)."""
        relabel = getattr(self.scene(), "_relabel_soon", None)
        if relabel is not None:
            relabel()

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
        """Zoomed out (nodes are boxes, with or without their type names), the canvas is
        drawn from the overview's recorded cells instead of item by item (see overview.py)."""
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

    EMPTY_HINT = ("Drag a block here from the palette, or double-click (Tab) to search one.\n"
                  "Or start from File ▸ New from Template.")

    def drawForeground(self, painter, rect: QRectF):
        if not self.scene().nodes:  # an empty canvas says how to start
            painter.save()
            painter.resetTransform()
            painter.setPen(colors().subtext)
            painter.drawText(QRectF(self.viewport().rect()), Qt.AlignmentFlag.AlignCenter,
                             self.EMPTY_HINT)
            painter.restore()
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
    move there. It sits in a corner of the canvas (its context menu moves or hides it) and
    takes at most a quarter of the canvas' width and height. It shows an empty scene with
    the same coordinates and draws the canvas's overview (overview.py) into a picture kept
    until the graph or the fit changes, so that scrolling the canvas repaints only the
    outline."""
    CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")
    MAX_W, MAX_H = 200, 110
    cornerChanged = Signal(str)
    hideRequested = Signal()

    def __init__(self, main: CanvasView):
        super().__init__(QGraphicsScene(main), main)
        self.main = main
        self.corner = "bottom-right"
        self._pixmap: QPixmap | None = None
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedSize(self.MAX_W, self.MAX_H)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setRenderHints(QPainter.RenderHint.Antialiasing)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move there; right-click to move or hide it")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self.refit)
        # a method, not a lambda: Qt disconnects it when the minimap goes (a scene may live on)
        main.scene().changed.connect(self._scene_changed)

    def _scene_changed(self, _rects=None) -> None:
        self._timer.start()

    def set_corner(self, corner: str) -> None:
        if corner in self.CORNERS:
            self.corner = corner
            self.place()
            self.cornerChanged.emit(corner)

    def place(self) -> None:
        vp = self.main.viewport().geometry()
        w = max(60, min(self.MAX_W, vp.width() // 4))
        h = max(34, min(self.MAX_H, vp.height() // 4))
        if (w, h) != (self.width(), self.height()):
            self.setFixedSize(w, h)
            self.refit()
        x = vp.left() + 10 if self.corner.endswith("left") else vp.right() - w - 10
        y = vp.top() + 10 if self.corner.startswith("top") else vp.bottom() - h - 10
        self.move(x, y)

    def contextMenuEvent(self, ev):
        menu = QMenu(self)
        for corner in self.CORNERS:
            a = menu.addAction(f"Move to the {corner.replace('-', ' ')} corner",
                               lambda c=corner: self.set_corner(c))
            a.setCheckable(True)
            a.setChecked(corner == self.corner)
        menu.addSeparator()
        menu.addAction("Hide the minimap (M)", self.hideRequested.emit)
        menu.exec(ev.globalPos())

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
            # the canvas's own items, drawn as they are now (a picture of the model, never a
            # kept copy of one): at this scale each node is a coloured box, drawn in bulk
            # from the canvas's recorded cells as the canvas draws them (item by item, a
            # 10,000-node graph took half a second per change)
            area = self.mapToScene(vp.rect()).boundingRect()
            lod = self.transform().m11()
            if detail_level(lod) == "box":
                p.setTransform(self.viewportTransform())
                overview_of(self.main.scene()).draw(p, area, lod, "box", settled=True)
            else:
                self.main.scene().render(p, QRectF(vp.rect()), area)
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
        self.main.fitted = False
        self.main.centerOn(self.mapToScene(ev.position().toPoint()))
        self.viewport().update()

    def mousePressEvent(self, ev):
        self._go(ev)

    def mouseMoveEvent(self, ev):
        if ev.buttons():
            self._go(ev)

    def wheelEvent(self, ev):
        ev.accept()
