"""A node on the canvas: the drawing of one model node (type, label, key params, output
shape, param count, ports). It never holds the truth: `refresh(graph)` reads the model.

A composite block's instance is drawn in its definition's colour, as a small stack of cards
with a marker in its header, its exposed parameters as key params and one input port per
input of the definition. A node that repeats shows a "×N" badge."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem

from app.graph import fmt_shape
from app.graph.composite import Definition, arity
from app.summary import human
from blocks import get_spec

from .theme import category_color, colors

WIDTH = 160.0
HEADER = 22.0
ROW = 17.0
PAD = 5.0
PORT_R = 4.5
PORT_STEP = 18.0
HIT_R = 9.0
BASE_HEIGHT = HEADER + 3 * ROW + 2 * PAD
STACK = 3.0  # offset of the cards drawn behind a composite block
LOD_TEXT = 0.42  # below this zoom, nodes are drawn as coloured boxes with their type name
LOD_NAME = 0.15  # below this, as plain coloured boxes (drawn in bulk: overview.py)
FAR_PX, FAR_MIN_PX = 11.0, 8.0  # the type name's size on screen when zoomed out
FAR_SPILL = 40.0  # how far into the gap beside the box the zoomed-out name may run


def detail_level(lod: float) -> str:
    """How much of a node is drawn at this zoom (the one place that decides it):
    "full": header, label, key params, shape, ports; "title": a coloured box with the type
    and the ×N badge in large letters; "box": a coloured box only. Below "full" the canvas
    draws all nodes at once (overview.py), with `paint_far` below, as NodeItem.paint does."""
    if lod >= LOD_TEXT:
        return "full"
    return "title" if lod >= LOD_NAME else "box"


_SELECTABLE = QGraphicsItem.GraphicsItemFlag.ItemIsSelectable

# texts and colours many nodes share, made once (a 10,000-node network has few distinct ones)
_memo: dict = {}


def _memoized(key, make):
    value = _memo.get(key)
    if value is None:
        if len(_memo) > 20_000:
            _memo.clear()
        value = _memo[key] = make()
    return value


_ABBREV = {"kernel_size": "kernel", "pool_size": "pool", "growth_rate": "growth",
           "batch_norm": "bn", "function": "", "expansion": "exp"}


def fmt_value(v) -> str:
    if v is None:
        return "auto"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def key_params_text(type_id, params: dict) -> str:
    """"filters 64 · kernel 3" for a type id, a BlockSpec or a composite Definition."""
    spec = get_spec(type_id) if isinstance(type_id, str) else type_id
    parts = []
    for name in spec.key_params:
        label = _ABBREV.get(name, name)
        value = fmt_value(params.get(name))
        parts.append(f"{label} {value}".strip())
    return " · ".join(parts)


class _Fonts:
    def __init__(self):
        self.title = QFont()
        self.title.setPointSizeF(8.6)
        self.title.setWeight(QFont.Weight.DemiBold)
        self.small = QFont()
        self.small.setPointSizeF(7.2)
        self.body = QFont()
        self.body.setPointSizeF(8.0)
        self.label = QFont(self.body)
        self.label.setWeight(QFont.Weight.DemiBold)
        self.m_body = QFontMetricsF(self.body)
        self.m_label = QFontMetricsF(self.label)
        self.m_small = QFontMetricsF(self.small)
        self.m_title = QFontMetricsF(self.title)
        self.big = QFont()
        self.big.setPointSizeF(17)
        self.big.setWeight(QFont.Weight.DemiBold)
        self.m_big = QFontMetricsF(self.big)


_fonts: _Fonts | None = None


def fonts() -> _Fonts:
    global _fonts
    if _fonts is None:
        _fonts = _Fonts()
    return _fonts


class NodeItem(QGraphicsItem):
    # What refresh() sets, as class defaults until then (a 10,000-node graph makes 10,000
    # items: each assignment saved in __init__ counts)
    many = False
    has_input = True
    taken: frozenset[int] = frozenset()
    color = QColor()
    type_id = title = name = params_text = shape_text = count_text = ""
    problem: str | None = None
    blocked = False
    name_is_id = False
    repeat = 1
    badge = ""  # "×3" when the node repeats

    def __init__(self, node_id: str):
        super().__init__()
        self.node_id = node_id
        self.setFlag(_SELECTABLE)
        # No item cache (the default: no setCacheMode call): with DeviceCoordinateCache Qt
        # kept drawing the old pixmap after refresh() called update() (a red outline or an
        # old shape after the model changed, on the canvas and the minimap alike; only a
        # zoom change, which rebuilds the pixmap, showed the truth: issue 9).
        # tests/test_ui_canvas_truth.py compares every edit with a fresh drawing.
        self.edges_in: list = []
        self.edges_out: list = []
        self.height = BASE_HEIGHT
        self.n_ports = 1
        self._key = None
        self.composite = False  # an instance of a composite block (double-click opens it)
        # while a wire is drawn: "in" / "out" = it can connect here (those ports light up),
        # False = it cannot (the node dims), None = no wire
        self.accepts: str | bool | None = None
        self._tip_graph = None

    def set_accepts(self, accepts: str | bool | None) -> None:
        if accepts != self.accepts:
            self.accepts = accepts
            self.update()

    # ---- model → item -------------------------------------------------------------
    def refresh(self, graph) -> bool:
        """Re-read the node from the model; True when the port layout changed."""
        d = graph.g.nodes[self.node_id]
        info = graph.info.get(self.node_id)
        taken = frozenset(e["port"] for e in graph.g.pred[self.node_id].values())
        problem = info.problem.message if info and info.problem else None
        for p in graph.graph_problems:
            if p.node == self.node_id and problem is None:
                problem = p.message
        spec = graph.kind(d["type"])
        composite = isinstance(spec, Definition)
        repeat = d.get("repeat", 1)
        sig = (spec.color, len(spec.inputs), tuple(spec.exposed), spec.doc,
               graph.definitions.epoch) if composite else None
        p = d["params"]  # (names, reprs): hashable, and 1, 1.0 and True differ
        params = (tuple(p), tuple(map(repr, p.values())))
        key = (d["type"], d["label"], params, info.output_shape if info else None,
               info.params if info else 0, problem, bool(info and info.blocked), taken, repeat, sig)
        if key == self._key:
            return False
        self._key = key
        self.type_id = d["type"]
        self.repeat = repeat
        self.badge = f"×{repeat}" if repeat > 1 else ""
        self.color = (QColor(spec.color) if composite else
                      _memoized(("color", spec.category), lambda: category_color(spec.category)))
        inputs = arity(spec)
        self.many = inputs == "many" and not composite
        self.has_input = inputs != "none"
        self.taken = taken
        self.name = d["label"] or self.node_id
        self.name_is_id = not d["label"]
        self.params_text = (key_params_text(spec, d["params"]) if composite else _memoized(
            ("params", d["type"], params), lambda: key_params_text(spec, d["params"])))
        self.problem = problem
        self.blocked = bool(info and info.blocked)
        shape = info.output_shape if info else None
        self.shape_text = ("" if shape is None else
                           _memoized(("shape", shape), lambda: fmt_shape(shape)))
        count = info.params if info else 0
        self.count_text = _memoized(("count", count), lambda: human(count)) if count else ""
        if composite:
            n_ports = len(spec.inputs)
        else:
            n_ports = (max(taken) + 2 if taken else 1) if self.many else (1 if self.has_input else 0)
        height = max(BASE_HEIGHT, HEADER + 2 * PAD + n_ports * PORT_STEP)
        geometry = n_ports != self.n_ports or height != self.height or composite != self.composite
        if geometry:
            self.prepareGeometryChange()
            self.n_ports, self.height, self.composite = n_ports, height, composite
        self._tip_graph = graph  # the tooltip is composed when first asked for
        self.update()
        return geometry

    def toolTip(self) -> str:
        self.ensure_tooltip()
        return super().toolTip()

    def ensure_tooltip(self) -> None:
        """Compose the tooltip if the node changed since (the scene calls this on hover)."""
        g, self._tip_graph = self._tip_graph, None
        if g is not None and self.node_id in g.g:
            d = g.g.nodes[self.node_id]
            self.setToolTip(self._tooltip(d, g.info.get(self.node_id), g.kind(d["type"])))

    def _tooltip(self, d, info, spec) -> str:
        head = (f"<b>{self.type_id}</b>{' ' + self.badge if self.badge else ''} "
                f"{d['label'] or ''} <span style='color:gray'>({self.node_id})</span>")
        lines = [head]
        if self.problem:
            lines.append(f"<span style='color:{colors().error.name()}'>⚠ {_html(self.problem)}</span>")
        elif self.blocked:
            lines.append("Not measured: an input before it has a problem.")
        elif info:
            lines.append(f"Output {fmt_shape(info.output_shape)} · {info.params:,} params · "
                         f"{info.macs:,} MACs")
        if self.composite:
            inner = sum(1 for n in spec.body.g.nodes if spec.body.g.nodes[n]["type"] != "Input")
            ins = len(spec.inputs)
            if spec.doc:
                lines.append(_html(spec.doc))
            exposed = ", ".join(spec.exposed)
            lines.append(f"<span style='color:gray'>Composite block · {inner} block"
                         f"{'s' * (inner != 1)} inside · {ins} input{'s' * (ins != 1)}"
                         f"{' · exposes ' + _html(exposed) if exposed else ''}<br>"
                         f"Double-click to edit inside (every use changes)</span>")
        else:
            lines.append(f"<span style='color:gray'>{_html(spec.doc)}</span>")
        if self.badge:
            lines.append(f"<span style='color:gray'>Runs {self.repeat} times in a row "
                         f"(independent copies)</span>")
        return "<br>".join(lines)

    def lines(self) -> list[str]:
        """The texts the node shows (for tests and accessibility)."""
        status = (f"⚠ {self.problem}" if self.problem else
                  "waiting for input" if self.blocked else "→ " + self.shape_text)
        title = self.type_id + (f" {self.badge}" if self.badge else "")
        return [t for t in (title, self.name, self.params_text, status, self.count_text) if t]

    def text(self) -> str:
        return "\n".join(self.lines())

    # ---- geometry ------------------------------------------------------------------
    def boundingRect(self) -> QRectF:
        m = FAR_SPILL  # the zoomed-out name may run into the gaps beside the box
        extra = 2 * STACK + 1 if self.composite else 0
        return QRectF(-m, -2, WIDTH + 2 * m + extra, self.height + 4 + extra)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(QRectF(-HIT_R, 0, WIDTH + 2 * HIT_R, self.height))
        return path

    def input_port_pos(self, port: int) -> QPointF:
        """Port centre in item coordinates (ports beyond the drawn ones stack below)."""
        body = self.height - HEADER
        n = max(self.n_ports, 1)
        y = HEADER + body / 2 + (port - (n - 1) / 2) * PORT_STEP
        return QPointF(0.0, y)

    def output_port_pos(self) -> QPointF:
        return QPointF(WIDTH, HEADER + (self.height - HEADER) / 2)

    def port_at(self, local: QPointF):
        """("out", 0), ("in", i) or None for a point in item coordinates."""
        out = self.output_port_pos()
        if (local - out).manhattanLength() <= HIT_R * 1.4:
            return ("out", 0)
        for i in range(self.n_ports):
            if (local - self.input_port_pos(i)).manhattanLength() <= HIT_R * 1.4:
                return ("in", i)
        return None

    def first_free_port(self) -> int:
        return next(i for i in range(len(self.taken) + 1) if i not in self.taken)

    # ---- painting ------------------------------------------------------------------
    def paint(self, painter, option, widget=None):
        c = colors()
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        rect = QRectF(0, 0, WIDTH, self.height)
        if (self.blocked and not selected) or self.accepts is False:
            painter.setOpacity(0.5)
        if self.composite:  # a small stack of cards: there is more inside
            paint_cards(painter, rect, self.color)
        level = detail_level(lod)
        if level != "full":  # zoomed out: a coloured box with its type in readable letters
            paint_far(painter, self, selected, level, lod)
            return
        painter.setRenderHint(painter.RenderHint.Antialiasing)
        f = fonts()
        # body
        border = c.error if self.problem else (c.accent if selected else c.node_border)
        painter.setPen(QPen(border, 2.0 if (self.problem or selected) else 1.0))
        painter.setBrush(c.node)
        painter.drawRoundedRect(rect, 6, 6)
        # header band
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.color)
        painter.drawPath(header_path())
        tx = 9.0
        hx = tx
        if self.composite:  # the marker: two nested squares
            painter.setPen(QPen(QColor("#FFFFFF"), 1.1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(hx, 6, 8, 8), 1.5, 1.5)
            painter.drawRoundedRect(QRectF(hx + 3, 9, 8, 8), 1.5, 1.5)
            hx += 16
        painter.setPen(QColor("#FFFFFF"))
        painter.setFont(f.title)
        m_title = f.m_title
        badge_w = m_title.horizontalAdvance(self.badge) + 10 if self.badge else 0
        room = WIDTH - hx - 6 - badge_w
        title = m_title.elidedText(self.type_id, Qt.TextElideMode.ElideRight, room)
        painter.drawText(QRectF(hx, 0, room, HEADER),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
        if self.badge:  # ×N: a white pill right after the title
            bx = hx + m_title.horizontalAdvance(title) + 5
            pill = QRectF(bx, 4, badge_w - 2, HEADER - 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(255, 255, 255, 235))
            painter.drawRoundedRect(pill, 6.5, 6.5)
            painter.setPen(self.color.darker(130))
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, self.badge)
        # rows
        inner = WIDTH - 2 * tx
        y = HEADER + PAD
        painter.setFont(f.body if self.name_is_id else f.label)
        painter.setPen(c.subtext if self.name_is_id else c.text)
        m = f.m_body if self.name_is_id else f.m_label
        painter.drawText(QRectF(tx, y, inner, ROW), Qt.AlignmentFlag.AlignVCenter,
                         m.elidedText(self.name, Qt.TextElideMode.ElideRight, inner))
        y += ROW
        painter.setFont(f.body)
        painter.setPen(c.subtext)
        if self.params_text:
            painter.drawText(QRectF(tx, y, inner, ROW), Qt.AlignmentFlag.AlignVCenter,
                             f.m_body.elidedText(self.params_text, Qt.TextElideMode.ElideRight, inner))
        y += ROW
        if self.problem:
            painter.setPen(c.error)
            status = "⚠ " + self.problem
        elif self.blocked:
            status = "waiting for input"
        else:
            painter.setPen(c.text)
            status = "→ " + self.shape_text
        room = inner
        if self.count_text and not self.problem:  # params, right-aligned beside the shape
            count_w = f.m_small.horizontalAdvance(self.count_text) + 6
            room -= count_w
            pen = painter.pen()
            painter.setFont(f.small)
            painter.setPen(c.subtext)
            painter.drawText(QRectF(tx + room, y, count_w, ROW),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.count_text)
            painter.setFont(f.body)
            painter.setPen(pen)
        painter.drawText(QRectF(tx, y, room, ROW), Qt.AlignmentFlag.AlignVCenter,
                         f.m_body.elidedText(status, Qt.TextElideMode.ElideRight, room))
        # ports
        painter.setPen(QPen(c.node_border.darker(115) if not c.dark else c.node_border.lighter(140), 1.2))
        for i in range(self.n_ports if self.has_input else 0):
            free_ok = self.accepts == "in" and i not in self.taken  # a wire can go here
            painter.setBrush(c.ok if free_ok else c.edge if i in self.taken else c.node)
            r = PORT_R + 1.5 if free_ok else PORT_R
            painter.drawEllipse(self.input_port_pos(i), r, r)
        if self.many or self.n_ports > 1:  # Add, Concat, blocks: inputs are numbered
            pen = painter.pen()
            painter.setFont(f.small)
            painter.setPen(c.subtext)
            for i in range(self.n_ports):
                p = self.input_port_pos(i)
                painter.drawText(QRectF(p.x() - 18, p.y() - 13, 12, 10),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, str(i + 1))
            painter.setPen(pen)
        painter.setBrush(c.ok if self.accepts == "out" else self.color)
        r = PORT_R + 1.5 if self.accepts == "out" else PORT_R
        painter.drawEllipse(self.output_port_pos(), r, r)

    def _paint_far_title(self, painter, rect: QRectF, lod: float) -> None:
        """The type (and ×N) at FAR_PX screen pixels whatever the zoom, centred on the box
        and free to run into the gap on either side (FAR_SPILL), on a pill of the node's
        colour so that it reads over the edges."""
        title = self.type_id + (f" {self.badge}" if self.badge else "")
        room = WIDTH + 2 * FAR_SPILL - 8 / lod
        font = QFont(fonts().big)
        font.setPixelSize(max(1, round(FAR_PX / lod)))
        m = QFontMetricsF(font)
        if m.horizontalAdvance(title) > room:  # a long name: smaller, down to FAR_MIN_PX
            px = max(FAR_MIN_PX, FAR_PX * room / m.horizontalAdvance(title))
            font.setPixelSize(max(1, round(px / lod)))
            m = QFontMetricsF(font)
        badge = f" {self.badge}" if self.badge else ""  # the ×N always shows
        text = m.elidedText(self.type_id, Qt.TextElideMode.ElideRight,
                            room - m.horizontalAdvance(badge)) + badge
        w = m.horizontalAdvance(text) + 8 / lod
        box = QRectF(rect.center().x() - w / 2, rect.center().y() - m.height() / 2, w, m.height())
        if w > rect.width():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.color)
            painter.drawRoundedRect(box, 3 / lod, 3 / lod)
        painter.setFont(font)
        painter.setPen(QColor("#FFFFFF"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


_header: QPainterPath | None = None


def header_path() -> QPainterPath:
    """The header band (rounded at the top), the same for every node: made once."""
    global _header
    if _header is None:
        head = QPainterPath()
        head.setFillRule(Qt.FillRule.WindingFill)
        head.addRoundedRect(QRectF(0.5, 0.5, WIDTH - 1, HEADER), 5.5, 5.5)
        head.addRect(QRectF(0.5, HEADER / 2, WIDTH - 1, HEADER / 2 + 0.5))
        _header = head.simplified()
    return _header


def paint_cards(painter, rect: QRectF, color: QColor) -> None:
    """The cards drawn behind a composite block."""
    back = QColor(color)
    back.setAlpha(120)
    painter.setPen(QPen(back, 1.0))
    painter.setBrush(colors().node)
    for k in (2, 1):
        painter.drawRoundedRect(rect.translated(STACK * k, STACK * k), 6, 6)


def box_pen(problem, selected: bool) -> QPen:
    c = colors()
    return (QPen(c.error if problem else c.accent, 6) if (problem or selected)
            else QPen(Qt.PenStyle.NoPen))


def paint_box(painter, rect: QRectF, color: QColor, problem, selected: bool) -> None:
    """A node zoomed out: its colour, outlined when it has a problem or is selected
    (overview.py draws many at once the same way)."""
    painter.setPen(box_pen(problem, selected))
    painter.setBrush(color)
    painter.drawRect(rect)


def paint_far(painter, item: NodeItem, selected: bool, level: str, lod: float = 1.0) -> None:
    """A node zoomed out, after its cards: a coloured box, and at "title" detail its type
    and ×N in letters FAR_PX pixels high on screen at zoom `lod` (overview.py records the
    "box" detail of many nodes at once the same way)."""
    rect = QRectF(0, 0, WIDTH, item.height)
    paint_box(painter, rect, item.color, item.problem, selected)
    if level == "title":
        item._paint_far_title(painter, rect, lod)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
