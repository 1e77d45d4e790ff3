"""The summary table (Keras-style) and the problems list with one-click fixes."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.graph import fmt_shape
from app.summary import human, summary_rows

from .theme import colors, icon, swatch

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs", "Field /stride")
PATH_ROLE = Qt.ItemDataRole.UserRole  # ids from the top down to this row's node


def row_texts(r: dict) -> list[str]:
    name = f"{r['id']} ({r['label']})" if r["label"] else r["id"]
    kind = r["type"] + (f" ×{r['repeat']}" if r.get("repeat", 1) > 1 else "")
    if r["output_shape"] is not None:
        shape = fmt_shape(tuple(r["output_shape"]))
    else:
        shape = "?" if (r["error"] or "").startswith("not measured") else "error"
    field = r.get("field")  # receptive field; top-level rows only
    return [name, kind, shape, f"{r['params']:,}", f"{r['macs']:,}", field.text() if field else ""]


class SummaryTree(QTreeWidget):
    """The summary rows; a composite block's row opens to show its inside."""

    def selectRow(self, row: int) -> None:
        it = self.topLevelItem(row)
        if it is not None:
            self.setCurrentItem(it)


class SummaryPanel(QWidget):
    nodeClicked = Signal(str)  # a top-level row
    pathClicked = Signal(list)  # a row inside blocks: instance ids down to the inner node

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.rows: list[dict] = []
        self.table = SummaryTree(self)
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHeaderLabels(list(COLUMNS))
        self.model = self.table.model()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # the rows of the nodes selected on the canvas (several, or none), see select_paths
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.selected: list[tuple[str, ...]] = []
        self.table.setAlternatingRowColors(True)
        self.table.setUniformRowHeights(True)
        self.table.setIndentation(14)
        self.table.setRootIsDecorated(True)
        self.table.setExpandsOnDoubleClick(True)
        h = self.table.header()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        for i in (3, 4):
            self.table.headerItem().setTextAlignment(
                i, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for i, w in enumerate((200, 150, 130, 110)):
            self.table.setColumnWidth(i, w)
        self.totals = QLabel(self)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.table)
        row = QHBoxLayout()
        row.setContentsMargins(8, 4, 8, 4)
        row.addWidget(self.totals)
        lay.addLayout(row)
        self.table.clicked.connect(self._clicked)
        doc.changed.connect(self.refresh)
        doc.graphReplaced.connect(lambda _g: self.select_paths([]))
        self.refresh()

    def refresh(self) -> None:
        g = self.doc.graph
        open_ = self.expanded_paths()
        self.rows = summary_rows(g)
        self.table.setUpdatesEnabled(False)
        self.table.clear()
        defs = g.definitions
        c = colors()

        def add(parent, rows, path):
            for r in rows:
                it = QTreeWidgetItem(row_texts(r))
                ids = path + [r["id"]]
                it.setData(0, PATH_ROLE, ids)
                for col in (3, 4):
                    it.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if r["error"]:
                    bad = not r["error"].startswith("not measured")
                    for col in range(len(COLUMNS)):
                        it.setForeground(col, c.error if bad else c.subtext)
                        it.setToolTip(col, r["error"])
                d = defs.get(r["type"])
                if d is not None:
                    it.setIcon(1, swatch(QColor(d.color), 10, round_=False))
                    if not r["error"]:
                        it.setToolTip(1, f"{d.name}: composite block"
                                         + (f" — {d.doc}" if d.doc else "")
                                         + (f", repeated {r['repeat']} times" if r.get("repeat", 1) > 1
                                            else ""))
                if isinstance(parent, QTreeWidget):
                    parent.addTopLevelItem(it)
                else:
                    parent.addChild(it)
                if r.get("children"):
                    add(it, r["children"], ids)
                    it.setExpanded(tuple(ids) in open_)

        add(self.table, self.rows, [])
        self.select_paths(self.selected)
        self.table.setUpdatesEnabled(True)
        t = g.totals()
        out = fmt_shape(tuple(t["output_shape"])) if t["output_shape"] else "?"
        self.totals.setText(f"<b>Total params:</b> {t['total_params']:,} "
                            f"(trainable {t['trainable_params']:,}) &nbsp; "
                            f"<b>MACs:</b> {t['total_macs']:,} ({human(t['total_macs'])}) &nbsp; "
                            f"<b>Output:</b> {out}")

    def expanded_paths(self) -> set[tuple[str, ...]]:
        found = set()

        def walk(it):
            for i in range(it.childCount()):
                ch = it.child(i)
                if ch.isExpanded():
                    found.add(tuple(ch.data(0, PATH_ROLE)))
                walk(ch)
        walk(self.table.invisibleRootItem())
        return found

    def item_at(self, path) -> QTreeWidgetItem | None:
        """The row of a node given by ids from the top (instance ids, then the node)."""
        it = self.table.invisibleRootItem()
        for nid in path:
            it = next((it.child(i) for i in range(it.childCount())
                       if it.child(i).data(0, PATH_ROLE)[-1] == nid), None)
            if it is None:
                return None
        return it

    def row_of(self, node: str) -> int:
        return next((i for i, r in enumerate(self.rows) if r["id"] == node), -1)

    def select_paths(self, paths) -> None:
        """Select the rows of these nodes (ids from the top) and only those."""
        self.selected = [tuple(p) for p in paths]
        self.table.blockSignals(True)
        self.table.clearSelection()
        first = None
        for path in self.selected:
            it = self.item_at(path)
            if it is None:
                continue
            p = it.parent()
            while p is not None:
                p.setExpanded(True)
                p = p.parent()
            it.setSelected(True)
            first = first or it
        if first is not None:
            self.table.scrollToItem(first)
        self.table.blockSignals(False)

    def selected_paths(self) -> list[tuple[str, ...]]:
        return [tuple(it.data(0, PATH_ROLE)) for it in self.table.selectedItems()]

    def _clicked(self, index) -> None:
        it = self.table.itemFromIndex(index)
        if it is None:
            return
        path = list(it.data(0, PATH_ROLE))
        if len(path) == 1:
            self.nodeClicked.emit(path[0])
        else:
            self.pathClicked.emit(path)


def fix_text(fix) -> str:
    """The one-click button's text: "Fix: insert Conv2d(filters=128, kernel_size=1)", or
    "Fix: insert Conv2d(…)" when that is too long (the full description is its tooltip)."""
    args = ", ".join(f"{k}={v}" for k, v in fix.params.items())
    text = f"Fix: insert {fix.type_id}({args})"
    return text if len(text) <= 44 else f"Fix: insert {fix.type_id}(…)"


class ProblemCard(QFrame):
    """One problem: which node, what is wrong and what to do; a click shows the node.
    `where` names the blocks it is inside ("Stage ▸ n5") when it is not at the top."""
    clicked = Signal()

    def __init__(self, graph, prob, parent=None, where: str = ""):
        super().__init__(parent)
        self.problem = prob
        self.setObjectName("problem")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        d = graph.g.nodes[prob.node] if prob.node in graph.g else {}
        who = (f"{where} ▸ " if where else "") + prob.node + \
            (f" ({d.get('label')})" if d.get("label") else "")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(4)
        self.text = QLabel(f"<b>⚠ {_esc(who)}</b><br>{_esc(prob.message)}")
        self.text.setWordWrap(True)
        self.text.setObjectName("error")
        self.text.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.text)
        self.fix_button = None
        if prob.fix is not None:
            b = QPushButton(fix_text(prob.fix))
            b.setObjectName("fix")
            b.setToolTip(f"{prob.fix.description} (one undo step)")
            b.setIcon(icon("fix"))
            row = QHBoxLayout()
            row.addWidget(b)
            row.addStretch(1)
            lay.addLayout(row)
            self.fix_button = b
        self.setToolTip("Click to show this node on the canvas")

    def mouseReleaseEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(ev)


class ProblemsPanel(QScrollArea):
    """The network's problems (the top graph's: an error inside a block shows on each
    instance where it does not fit); while a block is open, its own problems come first."""
    nodeClicked = Signal(str)
    placeClicked = Signal(list, str)  # trail (where the node is), node

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.setWidget(body)
        self.lay = QVBoxLayout(body)
        self.lay.setContentsMargins(4, 6, 4, 6)
        self.lay.setSpacing(6)
        self.empty = QLabel("No problems: every node has a shape.")
        self.empty.setObjectName("muted")
        self.empty.setContentsMargins(8, 2, 8, 2)
        self.empty.setWordWrap(True)
        self.lay.addWidget(self.empty)
        self.lay.addStretch(1)
        self.problems = []
        self.cards: list[ProblemCard] = []
        self.fix_buttons: list[QPushButton] = []
        doc.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        g = self.doc.graph
        self.problems = g.problems()
        places = [([], g, p) for p in self.problems]
        if self.doc.trail:
            inner = self.doc.current
            trail = list(self.doc.trail)
            places = [(trail, inner, p) for p in inner.problems()] + places
        for c in self.cards:
            self.lay.removeWidget(c)
            c.deleteLater()
        self.cards, self.fix_buttons = [], []
        self.places = places
        self.empty.setVisible(not places)
        for i, (trail, graph, prob) in enumerate(places[:200]):
            card = ProblemCard(graph, prob, where=" ▸ ".join(n for n, _ in trail))
            if trail:
                card.clicked.connect(lambda t=trail, n=prob.node: self.placeClicked.emit(t, n))
            else:
                card.clicked.connect(lambda n=prob.node: self.nodeClicked.emit(n))
            if card.fix_button is not None:
                card.fix_button.clicked.connect(
                    lambda _=False, p=prob, t=trail: self.doc.apply_fix(p, t))
                self.fix_buttons.append(card.fix_button)
            self.lay.insertWidget(1 + i, card)
            self.cards.append(card)

    def count(self) -> int:
        """The network's problems (those of the open block's inside not counted)."""
        return len(self.problems)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
