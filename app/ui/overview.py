"""The canvas zoomed out ("title" and "box" detail, see node_item.detail_level), drawn in
bulk.

Zoomed out, hundreds or thousands of nodes are in view, each a coloured box (with its type
in large letters at "title" detail), each edge a hairline. Painting them one QGraphicsItem
at a time costs Python calls per item per frame; instead the scene is cut into square
cells, and each cell's items are recorded once into a QPicture, drawn by the items' own
zoomed-out drawing (node_item.paint_far, edge_item.far_edge_pen), boxes and straight lines
batched by colour. A cell's picture is kept as a pixmap for the zoom it was last shown at,
so a repaint copies pixels. A frame draws only the cells it shows, and a cell is recorded
again only after something in it changed: the scene's `changed` signal names the areas,
so a drag re-records the two or three cells under the node, never the whole graph. Items
of other kinds (the line drawn while connecting) and selected edges (their width depends
on the zoom) are drawn as themselves.

One Overview per scene (`overview_of(scene)`), shared by the canvas and the minimap.
"""
from __future__ import annotations

import gc
import math
import time
import weakref

from PySide6.QtCore import QLineF, QObject, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPicture, QPixmap
from PySide6.QtWidgets import QStyleOptionGraphicsItem
from shiboken6 import isValid

from .edge_item import EdgeItem, edge_color, far_edge_pen
from .node_item import FAR_SPILL, WIDTH, NodeItem, box_pen, paint_cards, paint_far
from .theme import colors, theme

LEVELS = (1024.0, 4096.0)  # cell sizes in scene units; a small cell holds about 4 x 8 nodes
MIN_CELL_PX = 100  # of a laid-out network. A frame uses small cells when they are this big
_WHOLE = 64  # on screen. A changed area over this many cells re-records them lazily.
SETTLE_S = 0.3  # a big cell changed less than this ago is drawn from its small cells
BULK = 8  # more cells than this to record at once: sort all items into them in one pass
MANY_RECTS = 256  # a change naming more areas than this drops every cell


class _Cell:
    __slots__ = ("others", "picture", "pixmaps", "selected_edges")

    def __init__(self, picture, selected_edges, others):
        self.picture = picture
        self.selected_edges = selected_edges  # (line, color): their pen depends on the zoom
        self.others = others  # items of other kinds, drawn as themselves
        # the picture rendered at the zooms last drawn (two: the canvas and the minimap)
        self.pixmaps: dict[tuple, QPixmap] = {}


class Overview(QObject):
    def __init__(self, scene):
        super().__init__(scene)
        self.scene = scene
        # (detail, cell size) → cells by (column, row); detail is "box" or ("title", zoom):
        # type names are drawn at a size for the zoom, so each zoom has its own cells
        self.levels: dict[tuple, dict[tuple[int, int], _Cell]] = {
            ("box", size): {} for size in LEVELS}
        self.recorded = 0  # cells recorded so far (for tests and benchmarks)
        self._last_change = 0.0
        self._edited: set = set()  # (detail, size, column, row) of big cells a small change dropped
        # Neither connection names a method of this object: PySide then registers a dynamic
        # slot on it, and a signal that reaches it while a closed window's scene is being
        # destroyed failed with "Slot 'Overview::' not found" (seen once in a full test run).
        # The scene's changes come through a function that looks the overview up first;
        # the theme is read when drawing (a new theme's colours are a new object).
        me = weakref.ref(self)

        def scene_changed(rects):
            overview = me()
            if overview is not None and isValid(overview):
                overview._changed(rects)

        scene.changed.connect(scene_changed)
        self._colors = theme.colors

    # ---- what changed ------------------------------------------------------------------
    def invalidate(self) -> None:
        for cells in self.levels.values():
            cells.clear()
        self._edited.clear()

    def _changed(self, rects) -> None:
        if rects:
            self._last_change = time.monotonic()
        if len(rects) > MANY_RECTS:  # a new graph, a theme: everything is recorded anew
            self.invalidate()
            return
        for (detail, size), cells in self.levels.items():
            if not cells:
                continue
            for r in rects:
                x0, y0, x1, y1 = _span(r, size)
                if (x1 - x0 + 1) * (y1 - y0 + 1) > _WHOLE:
                    for key in [k for k in cells if x0 <= k[0] <= x1 and y0 <= k[1] <= y1]:
                        del cells[key]
                    continue
                for i in range(x0, x1 + 1):
                    for j in range(y0, y1 + 1):
                        if cells.pop((i, j), None) is not None and size > LEVELS[0]:
                            self._edited.add((detail, size, i, j))

    # ---- drawing ---------------------------------------------------------------------------
    def draw(self, painter: QPainter, exposed: QRectF, lod: float, detail: str = "box",
             settled: bool = False) -> None:
        """Draw the part of the scene in `exposed` (scene coordinates) at `detail`; the
        painter's transform maps the scene to the device, `lod` pixels per scene unit.
        settled: draw whole big cells even just after an edit (a picture kept for long,
        as the minimap's, must look as a fresh drawing does)."""
        if theme.colors is not self._colors:  # the theme changed: every cell is stale
            self._colors = theme.colors
            self.invalidate()
        size = next((s for s in LEVELS if s * lod >= MIN_CELL_PX), LEVELS[-1])
        if detail == "box":
            key = "box"
        else:  # "title" (or more: the most a recorded cell shows), for this zoom
            key = ("title", lod)
            zooms = list(dict.fromkeys(k for k, _ in self.levels if k != "box"))
            if key not in zooms and len(zooms) >= 2:  # keep the cells of two zooms
                for k in [k for k in self.levels if k[0] == zooms[0]]:
                    del self.levels[k]
                self._edited = {e for e in self._edited if e[0] != zooms[0]}
        self._draw_cells(painter, exposed.intersected(self.scene.sceneRect()), key, size,
                         lod, painter.hasClipping(), settled)

    def _draw_cells(self, painter: QPainter, area: QRectF, key, size: float,
                    lod: float, clip: bool, settled: bool = False) -> None:
        detail = "box" if key == "box" else "title"
        cells = self.levels.setdefault((key, size), {})
        small = LEVELS[0]
        settled = settled or time.monotonic() - self._last_change > SETTLE_S
        x0, y0, x1, y1 = _span(area, size)
        missing = {(i, j) for j in range(y0, y1 + 1) for i in range(x0, x1 + 1)
                   if (i, j) not in cells}
        bins = {}
        if len(missing) > BULK:
            gc_was = gc.isenabled()
            gc.disable()  # many small objects at once, over a heap of the whole graph
            try:
                bins = self._sort_into(missing, size)
                for cell_at in missing:
                    edited = (key, size, *cell_at)
                    if size > small and edited in self._edited and not settled:
                        continue  # drawn from its small cells below
                    self._edited.discard(edited)
                    cells[cell_at] = self._record(*cell_at, size, detail, lod, bins[cell_at])
            finally:
                if gc_was:
                    gc.enable()
        for j in range(y0, y1 + 1):
            for i in range(x0, x1 + 1):
                cell = cells.get((i, j))
                if cell is None:
                    if size > small and (key, size, i, j) in self._edited and not settled:
                        # being edited: drawn from its small cells, of which only those
                        # under the edit are recorded again
                        self._draw_cells(painter, QRectF(i * size, j * size, size, size)
                                         .intersected(area), key, small, lod, clip)
                        continue
                    self._edited.discard((key, size, i, j))
                    cell = cells[(i, j)] = self._record(i, j, size, detail, lod,
                                                        bins.get((i, j)))
                if cell.picture is None and not cell.selected_edges and not cell.others:
                    continue
                if cell.picture is not None:
                    self._blit(painter, cell, i, j, size)
                if not cell.selected_edges and not cell.others:
                    continue
                painter.save()
                painter.setClipRect(QRectF(i * size, j * size, size, size),
                                    Qt.ClipOperation.IntersectClip if clip
                                    else Qt.ClipOperation.ReplaceClip)
                if cell.selected_edges:
                    painter.setRenderHint(QPainter.RenderHint.Antialiasing, detail != "box")
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    for shape, color in cell.selected_edges:
                        painter.setPen(far_edge_pen(color, True, lod))
                        if detail == "box":
                            painter.drawLine(shape)
                        else:
                            painter.drawPath(shape)
                for item in cell.others:
                    if item.isVisible():
                        painter.save()
                        painter.setTransform(item.sceneTransform(), True)
                        item.paint(painter, QStyleOptionGraphicsItem(), None)
                        painter.restore()
                painter.restore()

    @staticmethod
    def _blit(painter: QPainter, cell: _Cell, i: int, j: int, size: float) -> None:
        """Draw the cell's picture through a pixmap made at this zoom and sub-pixel offset
        (kept while they stay: scrolling moves by whole pixels), so that a repaint copies
        pixels instead of replaying every box and line."""
        t = painter.worldTransform()
        if t.isRotating() or t.m11() <= 0 or t.m22() <= 0:
            painter.save()
            painter.setClipRect(QRectF(i * size, j * size, size, size),
                                Qt.ClipOperation.IntersectClip)
            painter.drawPicture(0, 0, cell.picture)
            painter.restore()
            return
        sx, sy = t.m11(), t.m22()
        x, y = i * size * sx + t.dx(), j * size * sy + t.dy()
        ox, oy = math.floor(x), math.floor(y)
        dpr = painter.device().devicePixelRatio() if painter.device() else 1.0
        key = (sx, sy, round(x - ox, 3), round(y - oy, 3), dpr)
        pixmap = cell.pixmaps.get(key)
        if pixmap is None:
            w, h = math.ceil(size * sx + x - ox) + 1, math.ceil(size * sy + y - oy) + 1
            pm = QPixmap(max(1, round(w * dpr)), max(1, round(h * dpr)))
            pm.setDevicePixelRatio(dpr)
            pm.fill(Qt.GlobalColor.transparent)
            p = QPainter(pm)
            p.setRenderHints(painter.renderHints())
            p.translate(x - ox, y - oy)
            p.scale(sx, sy)
            p.translate(-i * size, -j * size)
            p.setClipRect(QRectF(i * size, j * size, size, size))
            p.drawPicture(0, 0, cell.picture)
            p.end()
            if len(cell.pixmaps) > 1:
                del cell.pixmaps[next(iter(cell.pixmaps))]  # the oldest
            pixmap = cell.pixmaps[key] = pm
        painter.save()
        painter.resetTransform()
        painter.drawPixmap(ox, oy, pixmap)
        painter.restore()

    def _sort_into(self, wanted: set, size: float) -> dict[tuple[int, int], list]:
        """The canvas's edges and nodes (in drawing order) of each wanted cell, in one pass
        over them: for many cells at once (a first view of a big graph) far cheaper than
        asking the scene's index cell by cell."""
        bins: dict[tuple[int, int], list] = {key: [] for key in wanted}
        wire = getattr(self.scene, "_wire", None)  # the line drawn while connecting
        extra = [wire["line"]] if wire else []
        floor = math.floor

        def put(item, left, top, right, bottom):
            i0, i1 = floor(left / size), floor(right / size)
            j0, j1 = floor(top / size), floor(bottom / size)
            if i0 == i1 and j0 == j1:  # most items lie in one cell
                b = bins.get((i0, j0))
                if b is not None:
                    b.append(item)
                return
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    b = bins.get((i, j))
                    if b is not None:
                        b.append(item)

        for e in list(self.scene.edges.values()):  # at (0, 0): their rect is in the scene's
            put(e, *e._rect.getCoords())
        spill = FAR_SPILL + 8
        for n in list(self.scene.nodes.values()):
            x, y = n.x(), n.y()
            # its bounding rect (the type name may run FAR_SPILL into the gaps) and more
            put(n, x - spill, y - 8, x + WIDTH + spill + 8, y + n.height + 16)
        for item in extra:
            r = item.sceneBoundingRect()
            put(item, r.left(), r.top(), r.right(), r.bottom())
        return bins

    def _record(self, i: int, j: int, size: float, detail: str, lod: float,
                items=None) -> _Cell:
        """One cell as a picture: its edges, then its nodes; at "box" detail batched by
        pen and colour (straight lines, plain boxes). `items`: the cell's, if known."""
        self.recorded += 1
        if items is None:
            items = self.scene.items(QRectF(i * size, j * size, size, size),
                                     Qt.ItemSelectionMode.IntersectsItemBoundingRect,
                                     Qt.SortOrder.AscendingOrder)
        if not items:
            return _Cell(None, [], [])
        box = detail == "box"
        chosen = set(self.scene.selectedItems())
        c = colors()
        plain_edge = c.edge
        boxes: dict[tuple[int, bool, bool, float], tuple[QColor, list[QRectF]]] = {}
        nodes: list[tuple[NodeItem, bool, float]] = []
        selected_edges, others = [], []
        lines: dict[tuple[int, float], tuple[QColor, list]] = {}
        plain_lines = None  # most edges: plain colour, opaque, not selected
        for item in items:
            cls = item.__class__
            if cls is EdgeItem or (cls is not NodeItem and isinstance(item, EdgeItem)):
                sel = bool(chosen) and item in chosen
                if not (sel or item.muted or (chosen and (item.src in chosen or item.dst in chosen))
                        or item.opacity() != 1.0):
                    if plain_lines is None:  # its group goes where it was first met
                        plain_lines = []
                        lines[(0, 1.0)] = (plain_edge, plain_lines)
                    plain_lines.append(QLineF(item._p1, item._p2) if box else item.path)
                    continue  # no calls for their colour
                color = edge_color(sel, item.src in chosen or item.dst in chosen, item.muted)
                key = (color.rgba() or 1, item.opacity())
                shape = QLineF(item._p1, item._p2) if box else item.path
                if sel:
                    selected_edges.append((shape, color))
                else:
                    group = lines.get(key)
                    if group is None:
                        group = lines[key] = (color, [])
                    group[1].append(shape)
            elif cls is NodeItem or isinstance(item, NodeItem):
                selected = bool(chosen) and item in chosen
                opacity = 0.5 if (item.blocked and not selected) or item.accepts is False else 1.0
                nodes.append((item, selected, opacity))
                if box and not item.composite:
                    key = (item.color.rgba(), bool(item.problem), selected, opacity)
                    group = boxes.get(key)
                    if group is None:
                        group = boxes[key] = (item.color, [])
                    p = item.pos()
                    group[1].append(QRectF(p.x(), p.y(), WIDTH, item.height))
            elif item.isVisible():
                others.append(item)
        picture = QPicture()
        p = QPainter(picture)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, not box)
        for (_rgba, opacity), (color, group) in lines.items():
            p.setOpacity(opacity)
            p.setPen(far_edge_pen(color, False, 1.0))
            if box:
                p.drawLines(group)
            else:
                p.setBrush(Qt.BrushStyle.NoBrush)
                for path in group:
                    p.drawPath(path)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for item, selected, opacity in nodes:
            if box and not item.composite:
                continue  # batched below
            p.save()
            p.translate(item.pos())
            p.setOpacity(opacity)
            if item.composite:
                paint_cards(p, QRectF(0, 0, WIDTH, item.height), item.color)
            paint_far(p, item, selected, detail, lod)
            p.restore()
        for (_rgba, problem, selected, opacity), (color, group) in boxes.items():
            p.setOpacity(opacity)
            p.setPen(box_pen(problem, selected))
            p.setBrush(color)
            p.drawRects(group)
        p.end()
        return _Cell(picture, selected_edges, others)


def _span(r: QRectF, size: float) -> tuple[int, int, int, int]:
    return (math.floor(r.left() / size), math.floor(r.top() / size),
            math.floor(r.right() / size), math.floor(r.bottom() / size))


def overview_of(scene) -> Overview:
    ov = getattr(scene, "_overview", None)
    if ov is None:
        ov = scene._overview = Overview(scene)
    return ov

