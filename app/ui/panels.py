"""The problems list with one-click fixes (and, from summary_panel.py, the summary table)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .summary_panel import COLUMNS, PATH_ROLE, SummaryPanel, SummaryTree, row_texts
from .theme import icon

__all__ = ["COLUMNS", "PATH_ROLE", "ProblemsPanel", "SummaryPanel", "SummaryTree", "row_texts"]


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
