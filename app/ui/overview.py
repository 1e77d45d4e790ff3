"""The canvas zoomed far out ("box" detail, see node_item.detail_level), drawn in bulk.

Far out, thousands of nodes are in view and each is a coloured box, each edge a straight
hairline. Painting them one QGraphicsItem at a time costs a Python call per item per
frame; instead the scene is cut into square cells, and each cell's boxes and lines are
recorded once into a QPicture (drawn with the same paint_box / edge pens as the items
themselves, so the picture is the same). A frame replays only the cells it shows. A cell
is re-recorded only after something in it changed: the scene's `changed` signal names the
areas, so a drag re-records the two or three cells under the node, never the whole graph.
Items of other kinds (the line drawn while connecting) are drawn as themselves.

One Overview per scene (`overview_of(scene)`), shared by the canvas and the minimap.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QLineF, QObject, QRectF, Qt
from PySide6.QtGui import QPainter, QPicture
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from .edge_item import EdgeItem, edge_color, far_edge_pen
from .node_item import WIDTH, NodeItem, paint_box, paint_cards
from .theme import theme

CELL = 1024.0  # scene units; about 4 x 8 nodes of a laid-out network
_WHOLE = 64  # a changed area wider than this many cells re-records every cell lazily


class _Cell:
    __slots__ = ("others", "picture", "selected_edges")

    def __init__(self, picture, selected_edges, others):
        self.picture = picture
        self.selected_edges = selected_edges  # (line, color): their pen depends on the zoom
        self.others = others  # items of other kinds, drawn as themselves


class Overview(QObject):
    def __init__(self, scene):
        super().__init__(scene)
        self.scene = scene
        self.cells: dict[tuple[int, int], _Cell] = {}
        self.recorded = 0  # cells recorded so far (for tests and benchmarks)
        scene.changed.connect(self._changed)
        theme.changed.connect(self.invalidate)

    # ---- what changed ------------------------------------------------------------------
    def invalidate(self) -> None:
        self.cells.clear()

    def _changed(self, rects) -> None:
        if not self.cells:
            return
        for r in rects:
            x0, y0, x1, y1 = _span(r)
            if (x1 - x0 + 1) * (y1 - y0 + 1) > _WHOLE:
                for key in [k for k in self.cells if x0 <= k[0] <= x1 and y0 <= k[1] <= y1]:
                    del self.cells[key]
                continue
            for i in range(x0, x1 + 1):
                for j in range(y0, y1 + 1):
                    self.cells.pop((i, j), None)

    # ---- drawing ---------------------------------------------------------------------------
    def draw(self, painter: QPainter, exposed: QRectF, lod: float) -> None:
        """Draw the part of the scene in `exposed` (scene coordinates); the painter's
        transform maps the scene to the device."""
        x0, y0, x1, y1 = _span(exposed)
        clip = painter.hasClipping()
        for j in range(y0, y1 + 1):
            for i in range(x0, x1 + 1):
                cell = self.cells.get((i, j))
                if cell is None:
                    cell = self.cells[(i, j)] = self._record(i, j)
                if cell.picture is None and not cell.selected_edges and not cell.others:
                    continue
                painter.save()
                painter.setClipRect(QRectF(i * CELL, j * CELL, CELL, CELL),
                                    Qt.ClipOperation.IntersectClip if clip
                                    else Qt.ClipOperation.ReplaceClip)
                if cell.picture is not None:
                    painter.drawPicture(0, 0, cell.picture)
                if cell.selected_edges:
                    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
                    for line, color in cell.selected_edges:
                        painter.setPen(far_edge_pen(color, True, lod))
                        painter.drawLine(line)
                for item in cell.others:
                    if item.isVisible():
                        painter.save()
                        painter.setTransform(item.sceneTransform(), True)
                        item.paint(painter, QStyleOptionGraphicsItem(), None)
                        painter.restore()
                painter.restore()

    def _record(self, i: int, j: int) -> _Cell:
        self.recorded += 1
        area = QRectF(i * CELL, j * CELL, CELL, CELL)
        items = self.scene.items(area, Qt.ItemSelectionMode.IntersectsItemBoundingRect,
                                 Qt.SortOrder.AscendingOrder)
        if not items:
            return _Cell(None, [], [])
        picture = QPicture()
        p = QPainter(picture)
        selected_edges, others, nodes = [], [], []
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        for item in items:  # edges first (they are below the nodes)
            if isinstance(item, EdgeItem):
                if not item.isVisible():
                    continue
                sel = item.isSelected()
                color = edge_color(sel, item.src.isSelected() or item.dst.isSelected(), item.muted)
                line = (item._p1, item._p2)
                if sel:
                    selected_edges.append((QLineF(*line), color))
                    continue
                p.setOpacity(item.opacity())
                p.setPen(far_edge_pen(color, False, 1.0))
                p.drawLine(*line)
            elif isinstance(item, NodeItem):
                nodes.append(item)
            elif item.isVisible():
                others.append(item)
        p.setOpacity(1.0)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for item in nodes:
            if not item.isVisible():
                continue
            selected = item.isSelected()
            p.save()
            p.translate(item.pos())
            p.setOpacity(0.5 if item.blocked and not selected else 1.0)
            rect = QRectF(0, 0, WIDTH, item.height)
            if item.composite:
                paint_cards(p, rect, item.color)
            paint_box(p, rect, item.color, item.problem, selected)
            p.restore()
        p.end()
        return _Cell(picture, selected_edges, others)


def _span(r: QRectF) -> tuple[int, int, int, int]:
    return (math.floor(r.left() / CELL), math.floor(r.top() / CELL),
            math.floor(r.right() / CELL), math.floor(r.bottom() / CELL))


def overview_of(scene) -> Overview:
    ov = getattr(scene, "_overview", None)
    if ov is None:
        ov = scene._overview = Overview(scene)
    return ov

