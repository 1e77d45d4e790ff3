"""The block palette: the registry's blocks by category, with a search field. Drag a block
onto the canvas, or double-click it (or press Enter) to add it.

Two more categories come first when they have entries: "This project" (the project's own
composite blocks; inside a block, not that block nor any block containing it) and
"Library" (the blocks saved to the user's block folder, app.library)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import library
from blocks import CATEGORIES, REGISTRY

from .node_item import fmt_value
from .scene_drops import BLOCK_MIME, LIBRARY_MIME
from .search import score
from .theme import category_color, icon, swatch, theme

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
LIB_ROLE = Qt.ItemDataRole.UserRole + 2  # the path of a library block file
HAY_ROLE = Qt.ItemDataRole.UserRole + 3  # the text the search looks in
PROJECT, LIBRARY = "This project", "Library"


def definition_tooltip(d, where: str = "") -> str:
    """A composite block's tooltip: doc, inputs, exposed parameters, what is inside."""
    inner = [d.body.type_of(n) for n in d.body.topological_order() if n not in d.inputs]
    ins = len(d.inputs)
    exposed = ", ".join(f"{k} = {_esc(fmt_value(p.default))}" for k, p in d.param_map.items())
    return (f"<div style='max-width:420px'><b>{_esc(d.name)}</b> <span style='color:gray'>· "
            f"composite block · {ins} input{'s' * (ins != 1)}</span>"
            f"{'<p>' + _esc(d.doc) + '</p>' if d.doc else ''}"
            f"<p>Inside: {_esc(' → '.join(inner[:8]))}{' …' if len(inner) > 8 else ''}</p>"
            f"<p>{'Parameters: ' + exposed if exposed else '<i>no exposed parameters</i>'}</p>"
            f"{'<p style=color:gray>' + _esc(where) + '</p>' if where else ''}"
            f"<p style='color:gray'>Drag onto the canvas, or double-click to add.</p></div>")


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


def _mtime(path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


def _library_definition(path, name) -> dict | None:
    try:
        data = library.read_block(path)
    except ValueError:
        return None
    return next((d for d in data["definitions"] if d["name"] == name), None)


def _library_tooltip(name: str, d: dict | None, path) -> str:
    doc = f"<p>{_esc(d.get('doc') or '')}</p>" if d and d.get("doc") else ""
    inner = [n["type"] for n in (d or {}).get("nodes", []) if n["type"] != "Input"]
    exposed = ", ".join(dict.fromkeys(e["name"] for e in (d or {}).get("exposed", [])))
    return (f"<div style='max-width:420px'><b>{_esc(name)}</b> <span style='color:gray'>· "
            f"library block</span>{doc}<p>Inside: {_esc(', '.join(inner[:8]))}"
            f"{' …' if len(inner) > 8 else ''}</p>"
            f"<p>{'Parameters: ' + _esc(exposed) if exposed else '<i>no exposed parameters</i>'}</p>"
            f"<p style='color:gray'>{_esc(str(path))}<br>Drag onto the canvas, or double-click "
            f"to add: the project gets its own copy.</p></div>")


class _Tree(QTreeWidget):
    def mimeTypes(self):
        return [BLOCK_MIME, LIBRARY_MIME]

    def mimeData(self, items):
        for i in items:
            if i.data(0, LIB_ROLE):
                return make_library_mime(i.data(0, LIB_ROLE))
            if i.data(0, TYPE_ROLE):
                return make_mime(i.data(0, TYPE_ROLE))
        return None


def make_mime(type_id: str) -> QMimeData:
    """What a drag from the palette carries: the block type id under BLOCK_MIME."""
    mime = QMimeData()
    mime.setData(BLOCK_MIME, type_id.encode("utf-8"))
    mime.setText(type_id)
    return mime


def make_library_mime(path: str | Path) -> QMimeData:
    """What a drag of a library block carries: its file's path under LIBRARY_MIME."""
    mime = QMimeData()
    mime.setData(LIBRARY_MIME, str(path).encode("utf-8"))
    mime.setText(Path(path).stem)
    return mime


class Palette(QWidget):
    blockActivated = Signal(str)  # double-click or Enter: add this block
    libraryActivated = Signal(str)  # the same for a library block: its file's path

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Search blocks…  (Ctrl+Shift+F)")
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
        self.blocks: dict[str, QTreeWidgetItem] = {}  # built-in and project blocks by type id
        self.library: dict[str, QTreeWidgetItem] = {}  # library blocks by name
        self._project_key = None
        self.excluded: set[str] = set()  # built-in blocks not offered here (Input inside a block)
        self._library_key = None
        self._build()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)
        theme.changed.connect(self._recolor)

    def _build(self) -> None:
        bold = self.font()
        bold.setWeight(bold.Weight.DemiBold)
        for cat, tip in ((PROJECT, "Composite blocks of this project (Edit ▸ Group into Block)"),
                         (LIBRARY, f"Blocks saved to your library: {library.library_dir()}")):
            top = QTreeWidgetItem([cat])
            top.setFont(0, bold)
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            top.setToolTip(0, tip)
            top.setHidden(True)
            self.tree.addTopLevelItem(top)
            self.categories[cat] = top
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
                it.setData(0, HAY_ROLE, f"{spec.type_id} {spec.category} {spec.doc} {spec.builds}")
                it.setToolTip(0, block_tooltip(spec))
                it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                            | Qt.ItemFlag.ItemIsDragEnabled)
                it.setIcon(0, swatch(category_color(cat), 10))
                top.addChild(it)
                self.blocks[spec.type_id] = it
        self.tree.expandAll()

    # ---- the project's and the library's blocks -----------------------------------------
    def set_project(self, definitions, exclude: set[str] = frozenset(), inside: bool = False) -> None:
        """Show the project's composite blocks, less `exclude` (the block being edited and
        the blocks that contain it: a block cannot contain itself). `inside` a block, Input
        is not offered (a block's inputs are the ones it was made with)."""
        excluded = {"Input"} if inside else set()
        if excluded != self.excluded:
            self.excluded = excluded
            self._project_key = None
        shown = [d for name, d in definitions.items() if name not in exclude]
        key = tuple((d.name, d.color, d.doc, len(d.inputs), tuple(d.exposed)) for d in shown)
        if key == self._project_key:
            return
        self._project_key = key
        top = self.categories[PROJECT]
        for i in reversed(range(top.childCount())):
            self.blocks.pop(top.child(i).data(0, TYPE_ROLE), None)
            top.removeChild(top.child(i))
        for d in shown:
            it = self._block_item(d.name, QColor(d.color), f"{d.name} {d.doc} composite project")
            it.setData(0, TYPE_ROLE, d.name)
            it.setToolTip(0, definition_tooltip(d))
            top.addChild(it)
            self.blocks[d.name] = it
        top.setHidden(not shown)
        top.setExpanded(True)
        self.filter(self.search.text())

    def refresh_library(self) -> None:
        """Re-read the library folder (after a save, or when the window comes back)."""
        try:
            found = library.list_blocks()
        except OSError:
            found = {}
        key = tuple((n, str(p), _mtime(p)) for n, p in found.items())
        if key == self._library_key:
            return
        self._library_key = key
        top = self.categories[LIBRARY]
        for i in reversed(range(top.childCount())):
            top.removeChild(top.child(i))
        self.library = {}
        for name, path in found.items():
            d = _library_definition(path, name)
            color = QColor(d["color"]) if d and d.get("color") else QColor("#8e7cc3")
            it = self._block_item(name, color, f"{name} {d.get('doc', '') if d else ''} library")
            it.setData(0, LIB_ROLE, str(path))
            it.setToolTip(0, _library_tooltip(name, d, path))
            top.addChild(it)
            self.library[name] = it
        top.setHidden(not found)
        top.setExpanded(True)
        self.filter(self.search.text())

    def _block_item(self, name: str, color: QColor, hay: str) -> QTreeWidgetItem:
        it = QTreeWidgetItem([name])
        it.setData(0, HAY_ROLE, hay)
        it.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled)
        it.setIcon(0, swatch(color, 10, round_=False))
        return it

    def _recolor(self) -> None:
        for cat, top in self.categories.items():
            if cat in (PROJECT, LIBRARY):
                continue
            top.setIcon(0, swatch(category_color(cat), 12, round_=False))
        self.search.actions()[0].setIcon(icon("search")) if self.search.actions() else None

    def filter(self, text: str) -> None:
        """Show the blocks that match (forgiving: initials, prefixes, typos; search.py)."""
        for top in self.categories.values():
            shown = 0
            for i in range(top.childCount()):
                it = top.child(i)
                ok = (score(text, it.text(0), it.data(0, HAY_ROLE) or "") > 0
                      and it.data(0, TYPE_ROLE) not in self.excluded)
                it.setHidden(not ok)
                shown += ok
            top.setHidden(shown == 0)
            if text.strip():
                top.setExpanded(True)

    def visible_blocks(self) -> list[str]:
        """Shown blocks, best match first."""
        q = self.search.text()
        shown = [t for t, it in self.blocks.items() if not it.isHidden() and not it.parent().isHidden()]
        return sorted(shown, key=lambda t: -score(q, t, self.blocks[t].data(0, HAY_ROLE) or ""))

    def _activate_first(self) -> None:
        sel = [i for i in self.tree.selectedItems()
               if (i.data(0, TYPE_ROLE) or i.data(0, LIB_ROLE)) and not i.isHidden()]
        if sel:
            self._activated(sel[0], 0)
            return
        first = next(iter(self.visible_blocks()), None)
        if first:
            self.blockActivated.emit(first)

    def _activated(self, item, _col) -> None:
        if item.data(0, LIB_ROLE):
            self.libraryActivated.emit(item.data(0, LIB_ROLE))
        elif item.data(0, TYPE_ROLE):
            self.blockActivated.emit(item.data(0, TYPE_ROLE))
