"""A search popup at the mouse: type, arrows, Enter. Quick add (double-click the empty canvas,
Tab or Shift+A, or a wire dropped on empty canvas) lists blocks; Find Node (Ctrl+F) lists
the nodes of the graph shown.

Quick add from a wire knows the tensor that flows out of it: each block is tried with that
shape by the core's own measuring (composite.measure, as validation does), and those that
accept it come first; the others are greyed with the reason (or hidden, with the toggle)."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
)

from app.graph import fmt_shape
from app.graph.composite import arity, measure
from blocks import CATEGORIES, REGISTRY

from .search import score


@dataclass
class Choice:
    key: str  # what choosing it gives (a type id or a node id)
    text: str
    hay: str = ""  # searched too (description, type, label)
    detail: str = ""  # a grey line: why it does not fit, or where
    fits: bool = True
    order: int = 0


def block_choices(graph, shape=None, top: bool = True, wired: bool = False) -> list[Choice]:
    """The blocks one can add to `graph` (for a wire, `wired`: those that take an input);
    with `shape` (what the wire carries), whether each accepts it with its defaults."""
    out = []
    kinds = [(s.type_id, s) for c in CATEGORIES for s in REGISTRY.values() if s.category == c]
    kinds += [(name, d) for name, d in graph.definitions.items()]
    for i, (t, spec) in enumerate(kinds):
        if arity(spec) == "none" and (wired or shape is not None or not top):
            continue  # an Input takes no wire, and a block's inputs are fixed
        fits, why = True, ""
        if shape is not None:
            params, _ = spec.resolve({})
            st = measure(graph.definitions, t, params, [tuple(shape)])
            if st.error:
                fits, why = False, st.error
            else:
                why = "→ " + fmt_shape(st.output_shape)
        hay = f"{getattr(spec, 'category', 'project')} {spec.doc}"
        out.append(Choice(t, t, hay, why, fits, i))
    return out


def node_choices(graph) -> list[Choice]:
    out = []
    for i, n in enumerate(graph.g.nodes):
        d = graph.g.nodes[n]
        text = f"{d['label']} ({n})" if d["label"] else n
        out.append(Choice(n, text, f"{n} {d['type']} {d['label']}", d["type"], True, i))
    return out


class SearchPopup(QFrame):
    chosen = Signal(str)

    def __init__(self, parent, title: str, choices: list[Choice], toggle: str = ""):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("searchPopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.choices = choices
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        head = QLabel(title, self)
        head.setObjectName("muted")
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("type to search, ↑↓, Enter")
        self.only = QCheckBox(toggle, self)
        self.only.setVisible(bool(toggle))
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        for w in (head, self.search, self.only, self.list):
            lay.addWidget(w)
        self.resize(300, 360)
        self.search.textChanged.connect(self.refilter)
        self.only.toggled.connect(self.refilter)
        self.search.returnPressed.connect(self.accept)
        self.list.itemActivated.connect(lambda _it: self.accept())
        self.search.installEventFilter(self)
        self.refilter()

    def refilter(self) -> None:
        q = self.search.text()
        ranked = sorted(((score(q, c.text, c.hay), c) for c in self.choices),
                        key=lambda sc: (not sc[1].fits, -sc[0], sc[1].order))
        self.list.clear()
        for s, c in ranked:
            if s <= 0 or (self.only.isChecked() and not c.fits):
                continue
            it = QListWidgetItem(f"{c.text}    {c.detail}" if c.detail else c.text)
            it.setData(Qt.ItemDataRole.UserRole, c.key)
            if not c.fits:
                it.setForeground(self.palette().placeholderText())
                it.setToolTip(c.detail)
            self.list.addItem(it)
        if self.list.count():
            self.list.setCurrentRow(0)

    def shown_keys(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def accept(self) -> None:
        it = self.list.currentItem()
        self.close()
        if it is not None:
            self.chosen.emit(it.data(Qt.ItemDataRole.UserRole))

    def eventFilter(self, obj, ev):
        if ev.type() == ev.Type.KeyPress and ev.key() == Qt.Key.Key_Escape:
            self.close()
            return True
        if ev.type() == ev.Type.KeyPress and ev.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down,
                                                          Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.list.keyPressEvent(ev)  # arrows move in the list while typing
            return True
        return super().eventFilter(obj, ev)

    def popup(self, at: QPoint) -> None:
        """Show with its top-left at `at` (global), kept on the screen."""
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            at = QPoint(min(at.x(), screen.right() - self.width()),
                        min(at.y(), screen.bottom() - self.height()))
        self.move(at)
        self.show()
        self.search.setFocus()
