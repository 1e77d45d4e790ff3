"""The block palette: the registry's blocks by category, with a search field. Drag a block
onto the canvas, or double-click it (or press Enter) to add it."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from blocks import CATEGORIES, REGISTRY

from .node_item import fmt_value
from .scene import BLOCK_MIME
from .theme import category_color, icon, swatch, theme

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1


def block_tooltip(spec) -> str:
    rows = "".join(
        f"<tr><td><b>{p.name}</b></td><td>{_esc(fmt_value(p.default))}</td>"
        f"<td style='color:gray'>{_esc(p.doc)}</td></tr>" for p in spec.params)
    params = (f"<table cellspacing=0 cellpadding=2>{rows}</table>" if rows
              else "<i>no parameters</i>")
    builds = f"<p>{_esc(spec.builds)}</p>" if spec.builds else ""
    ins = {"none": "no inputs", "one": "one input", "many": "any number of inputs"}[spec.inputs]
    return (f"<div style='max-width:420px'><b>{spec.type_id}</b> "
            f"<span style='color:gray'>· {spec.category} · {ins}</span>"
            f"<p>{_esc(spec.doc)}</p>{builds}{params}"
            f"<p style='color:gray'>Drag onto the canvas, or double-click to add.</p></div>")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _Tree(QTreeWidget):
    def mimeTypes(self):
        return [BLOCK_MIME]

    def mimeData(self, items):
        type_id = next((i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)), None)
        if type_id is None:
            return None
        return make_mime(type_id)


def make_mime(type_id: str) -> QMimeData:
    """What a drag from the palette carries: the block type id under BLOCK_MIME."""
    mime = QMimeData()
    mime.setData(BLOCK_MIME, type_id.encode("utf-8"))
    mime.setText(type_id)
    return mime


class Palette(QWidget):
    blockActivated = Signal(str)  # double-click or Enter: add this block

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search blocks…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.tree = _Tree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setIndentation(12)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAnimated(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.search)
        lay.addWidget(self.tree)
        self.categories: dict[str, QTreeWidgetItem] = {}
        self.blocks: dict[str, QTreeWidgetItem] = {}
        self._build()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)
        theme.changed.connect(self._recolor)

    def _build(self) -> None:
        bold = self.font()
        bold.setWeight(bold.Weight.DemiBold)
        for cat in CATEGORIES:
            specs = [s for s in REGISTRY.values() if s.category == cat]
            if not specs:
                continue
            top = QTreeWidgetItem([cat])
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.setIcon(0, swatch(category_color(cat), 12, round_=False))
            self.tree.addTopLevelItem(top)
            self.categories[cat] = top
            for spec in specs:
                it = QTreeWidgetItem([spec.type_id])
                it.setData(0, TYPE_ROLE, spec.type_id)
                it.setToolTip(0, block_tooltip(spec))
                it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                            | Qt.ItemFlag.ItemIsDragEnabled)
                it.setIcon(0, swatch(category_color(cat), 10))
                top.addChild(it)
                self.blocks[spec.type_id] = it
        self.tree.expandAll()

    def _recolor(self) -> None:
        for cat, top in self.categories.items():
            top.setIcon(0, swatch(category_color(cat), 12, round_=False))
        self.search.actions()[0].setIcon(icon("search")) if self.search.actions() else None

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for top in self.categories.values():
            shown = 0
            for i in range(top.childCount()):
                it = top.child(i)
                spec = REGISTRY[it.data(0, TYPE_ROLE)]
                hay = f"{spec.type_id} {spec.category} {spec.doc} {spec.builds}".lower()
                ok = all(w in hay for w in words)
                it.setHidden(not ok)
                shown += ok
            top.setHidden(shown == 0)
            if words:
                top.setExpanded(True)

    def visible_blocks(self) -> list[str]:
        """Shown blocks, best match first (name starts with the search, then contains it)."""
        q = self.search.text().strip().lower()
        shown = [t for t, it in self.blocks.items() if not it.isHidden() and not it.parent().isHidden()]
        return sorted(shown, key=lambda t: (not t.lower().startswith(q), q not in t.lower()))

    def _activate_first(self) -> None:
        sel = [i for i in self.tree.selectedItems() if i.data(0, TYPE_ROLE) and not i.isHidden()]
        first = sel[0].data(0, TYPE_ROLE) if sel else next(iter(self.visible_blocks()), None)
        if first:
            self.blockActivated.emit(first)

    def _activated(self, item, _col) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.blockActivated.emit(type_id)
