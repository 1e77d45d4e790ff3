"""The summary table (Keras-style) and the problems list with one-click fixes."""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.graph import fmt_shape
from app.summary import human, summary_rows

from .theme import colors, icon

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs")


class SummaryModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict] = []

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=None):
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None):
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        r = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return f"{r['id']} ({r['label']})" if r["label"] else r["id"]
            if col == 1:
                return r["type"]
            if col == 2:
                if r["output_shape"] is not None:
                    return fmt_shape(tuple(r["output_shape"]))
                return "?" if (r["error"] or "").startswith("not measured") else "error"
            if col == 3:
                return f"{r['params']:,}"
            if col == 4:
                return f"{r['macs']:,}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and r["error"]:
            return colors().error if not r["error"].startswith("not measured") else colors().subtext
        if role == Qt.ItemDataRole.ToolTipRole and r["error"]:
            return r["error"]
        if role == Qt.ItemDataRole.UserRole:
            return r["id"]
        return None


class SummaryPanel(QWidget):
    nodeClicked = Signal(str)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.model = SummaryModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setShowGrid(False)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        h.setStretchLastSection(True)
        for i, w in enumerate((180, 140, 130, 110)):
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
        self.refresh()

    def refresh(self) -> None:
        g = self.doc.graph
        self.model.set_rows(summary_rows(g))
        t = g.totals()
        out = fmt_shape(tuple(t["output_shape"])) if t["output_shape"] else "?"
        self.totals.setText(f"<b>Total params:</b> {t['total_params']:,} "
                            f"(trainable {t['trainable_params']:,}) &nbsp; "
                            f"<b>MACs:</b> {t['total_macs']:,} ({human(t['total_macs'])}) &nbsp; "
                            f"<b>Output:</b> {out}")

    def row_of(self, node: str) -> int:
        return next((i for i, r in enumerate(self.model.rows) if r["id"] == node), -1)

    def _clicked(self, index) -> None:
        self.nodeClicked.emit(self.model.rows[index.row()]["id"])


def fix_text(fix) -> str:
    """The one-click button's text: "Fix: insert Conv2d(filters=128, kernel_size=1)", or
    "Fix: insert Conv2d(…)" when that is too long (the full description is its tooltip)."""
    args = ", ".join(f"{k}={v}" for k, v in fix.params.items())
    text = f"Fix: insert {fix.type_id}({args})"
    return text if len(text) <= 44 else f"Fix: insert {fix.type_id}(…)"


class ProblemCard(QFrame):
    """One problem: which node, what is wrong and what to do; a click shows the node."""
    clicked = Signal()

    def __init__(self, graph, prob, parent=None):
        super().__init__(parent)
        self.problem = prob
        self.setObjectName("problem")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        d = graph.g.nodes[prob.node] if prob.node in graph.g else {}
        who = prob.node + (f" ({d.get('label')})" if d.get("label") else "")
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
    nodeClicked = Signal(str)

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
        for c in self.cards:
            self.lay.removeWidget(c)
            c.deleteLater()
        self.cards, self.fix_buttons = [], []
        self.empty.setVisible(not self.problems)
        for i, prob in enumerate(self.problems[:200]):
            card = ProblemCard(g, prob)
            card.clicked.connect(lambda n=prob.node: self.nodeClicked.emit(n))
            if card.fix_button is not None:
                card.fix_button.clicked.connect(lambda _=False, p=prob: self.doc.apply_fix(p))
                self.fix_buttons.append(card.fix_button)
            self.lay.insertWidget(1 + i, card)
            self.cards.append(card)

    def count(self) -> int:
        return len(self.problems)


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
