"""The summary table (Keras-style): one row per node in graph order; a composite block's row
opens to show its inside.

A model/view pair instead of one widget item per row: a 10,000-node graph made 10,000 items
(and measured every receptive field) on each edit. The model answers for the rows the view
shows: a row's texts are made when first shown and kept until the next edit, receptive
fields are measured in graph order only as far as the rows shown (receptive.FieldsSoFar),
and an edit that keeps the rows (same nodes, same order) repaints the rows in view instead
of rebuilding the table.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.graph import fmt_shape
from app.graph.receptive import FieldsSoFar
from app.summary import _inner_rows, human, node_row

from .document import STRUCTURE_EVENTS
from .theme import colors, swatch

COLUMNS = ("Node", "Type", "Output shape", "Params", "MACs", "Field /stride")
PATH_ROLE = Qt.ItemDataRole.UserRole  # ids from the top down to this row's node
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_DISPLAY, _FOREGROUND, _TOOLTIP = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ForegroundRole,
                                   Qt.ItemDataRole.ToolTipRole)
_DECORATION, _ALIGN = Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.TextAlignmentRole
_ROOT = QModelIndex()  # the invisible root (an argument default: never changed)


def row_texts(r: dict) -> list[str]:
    name = f"{r['id']} ({r['label']})" if r["label"] else r["id"]
    kind = r["type"] + (f" ×{r['repeat']}" if r.get("repeat", 1) > 1 else "")
    if r["output_shape"] is not None:
        shape = fmt_shape(tuple(r["output_shape"]))
    else:
        shape = "?" if (r["error"] or "").startswith("not measured") else "error"
    field = r.get("field")  # receptive field; top-level rows only
    return [name, kind, shape, f"{r['params']:,}", f"{r['macs']:,}", field.text() if field else ""]


class _Row:
    """A row of the tree: its path of ids from the top, its parent, its place there."""
    __slots__ = ("children", "data", "parent", "path", "row")

    def __init__(self, path: tuple[str, ...], parent: _Row | None, row: int, data=None):
        self.path, self.parent, self.row = path, parent, row
        self.data: dict | None = data  # the summary row (app.summary), made when first asked
        self.children: list[_Row] | None = None  # made when first asked


class SummaryModel(QAbstractItemModel):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.order: list[str] = []
        self.where: dict[str, int] = {}  # top-level node id → row
        self._top: list[_Row | None] = []
        self._rows: dict[int, _Row] = {}  # internal id → row
        self._fields: FieldsSoFar | None = None
        self._epoch = None
        self._graph = None  # the graph the rows are of (until the next refresh)
        self._stale = False  # it changed since: rows not made yet wait for the refresh

    # ---- keeping up with the graph -----------------------------------------------------
    def refresh(self) -> bool:
        """Follow the graph; True when the rows were rebuilt (expansions and selection are
        then for the caller to restore), False when only their texts changed."""
        g = self.doc.graph
        order = g.topological_order()
        self._fields = None
        self._stale = False
        if (g is self._graph and order == self.order and g.definitions.epoch == self._epoch
                and self._refill(g)):
            if order:
                self.dataChanged.emit(self.index(0, 0), self.index(len(order) - 1, len(COLUMNS) - 1))
                for r in [r for r in self._top if r is not None] + list(self._rows.values()):
                    # and the rows inside blocks
                    if r.children:
                        self.dataChanged.emit(
                            self._index(r.children[0]),
                            self._index(r.children[-1], len(COLUMNS) - 1))
            return False
        self.beginResetModel()
        self.order = list(order)
        self.where = {n: i for i, n in enumerate(self.order)}
        self._top = [None] * len(self.order)
        self._rows = {}
        self._epoch = g.definitions.epoch
        if self._graph is not None:
            self._graph.unsubscribe(self._on_event)
        self._graph = g
        g.subscribe(self._on_event)
        self.endResetModel()
        return True

    def _refill(self, g) -> bool:
        """After an edit that kept the rows: forget the top rows' texts (made again when
        shown) and give the rows inside blocks, which come with their parent's, their new
        summaries; False when the inside changed shape (a block no longer measured: no
        rows inside), which needs the rows rebuilt."""
        for r in self._top:
            if r is None:
                continue
            r.data = None
            if r.children is not None and not _same_rows(r.children, _inner_rows(g, r.path[0])):
                return False
        return True

    def _top_row(self, i: int) -> _Row:
        r = self._top[i]
        if r is None:
            r = self._top[i] = _Row((self.order[i],), None, i)
        return r

    def _index(self, r: _Row, column: int = 0) -> QModelIndex:
        """A row's index. Top-level rows are known by their place + 1 (the view lays out
        every one of them: no object each), rows inside blocks by their object's id (an
        address, far above any row count)."""
        return self.createIndex(r.row, column, r.row + 1 if r.parent is None else id(r))

    def _current(self, n: str) -> bool:
        """Whether node n can be read now: between an edit and the refresh that follows
        it (coalesced), the view may paint rows of nodes that just went away."""
        g = self.doc.graph
        return not self._stale and g is self._graph and n in g.info and n in g.g

    def _on_event(self, kind: str, _payload) -> None:
        if kind in STRUCTURE_EVENTS:
            self._stale = True

    def row_data(self, r: _Row) -> dict:
        if r.data is None:  # a top-level row (the rows inside always have theirs)
            g = self.doc.graph
            if not self._current(r.path[0]):
                return {"id": r.path[0], "label": "", "type": "", "output_shape": None,
                        "params": 0, "macs": 0, "error": None}  # gone: the refresh is due
            if self._fields is None:
                self._fields = FieldsSoFar(g)
            r.data = node_row(g, r.path[0], self._fields.get(r.path[0]), nested=False)
        return r.data

    def _children_of(self, r: _Row) -> list[_Row]:
        if r.children is None:
            if r.parent is None:
                if not self._current(r.path[0]):
                    return []  # not kept: asked again after the refresh
                rows = _inner_rows(self.doc.graph, r.path[0])
            else:
                rows = r.data.get("children") or []
            r.children = [_Row(r.path + (d["id"],), r, k, d) for k, d in enumerate(rows)]
            for ch in r.children:
                self._rows[id(ch)] = ch
        return r.children

    def _has_children(self, r: _Row) -> bool:
        if r.parent is None:
            g = self.doc.graph
            n = r.path[0]
            if not self._current(n) or g.g.nodes[n]["type"] not in g.definitions:
                return False
        return bool(self._children_of(r))

    def row_at(self, index: QModelIndex) -> _Row | None:
        if not index.isValid():
            return None
        iid = index.internalId()
        if 0 < iid <= len(self.order):
            return self._top_row(iid - 1)
        return self._rows.get(iid)

    def index_of(self, path) -> QModelIndex:
        """The first-column index of a node given by ids from the top, or an invalid one."""
        path = tuple(path)
        if not path or path[0] not in self.where:
            return QModelIndex()
        r = self._top_row(self.where[path[0]])
        for nid in path[1:]:
            r = next((ch for ch in self._children_of(r) if ch.path[-1] == nid), None)
            if r is None:
                return QModelIndex()
        return self._index(r)

    # ---- QAbstractItemModel ------------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = _ROOT) -> QModelIndex:
        if parent.isValid():
            p = self.row_at(parent)
            kids = self._children_of(p) if p is not None else []
            if not 0 <= row < len(kids):
                return QModelIndex()
            return self.createIndex(row, column, id(kids[row]))
        if not 0 <= row < len(self.order) or not 0 <= column < len(COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column, row + 1)

    def parent(self, index: QModelIndex = _ROOT) -> QModelIndex:
        if not index.isValid() or index.internalId() <= len(self.order):
            return QModelIndex()  # a top-level row
        r = self._rows.get(index.internalId())
        if r is None or r.parent is None:
            return QModelIndex()
        return self._index(r.parent)

    def rowCount(self, parent: QModelIndex = _ROOT) -> int:
        if not parent.isValid():
            return len(self.order)
        if parent.column() != 0:
            return 0
        r = self.row_at(parent)
        return len(self._children_of(r)) if r is not None and self._has_children(r) else 0

    def hasChildren(self, parent: QModelIndex = _ROOT) -> bool:
        if not parent.isValid():
            return bool(self.order)
        if parent.column() != 0:
            return False
        iid = parent.internalId()
        if 0 < iid <= len(self.order):  # asked for every top-level row: no object made
            g, n = self.doc.graph, self.order[iid - 1]
            if not self._current(n) or g.g.nodes[n]["type"] not in g.definitions:
                return False
        r = self.row_at(parent)
        return r is not None and self._has_children(r)

    def columnCount(self, parent: QModelIndex = _ROOT) -> int:
        return len(COLUMNS)

    def headerData(self, section, orientation, role=_DISPLAY):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == _DISPLAY:
            return COLUMNS[section]
        if role == _ALIGN and section in (3, 4):
            return _RIGHT
        return None

    def data(self, index: QModelIndex, role=_DISPLAY):
        r = self.row_at(index)
        if r is None:
            return None
        col = index.column()
        if role == _DISPLAY:
            return row_texts(self.row_data(r))[col]
        if role == PATH_ROLE:
            return list(r.path)
        if role == _ALIGN:
            return _RIGHT if col in (3, 4) else None
        if role in (_FOREGROUND, _TOOLTIP, _DECORATION):
            d = self.row_data(r)
            error = d.get("error")
            if role == _FOREGROUND:
                if not error:
                    return None
                return colors().subtext if error.startswith("not measured") else colors().error
            definition = self.doc.graph.definitions.get(d.get("type")) if col == 1 else None
            if role == _DECORATION:
                return swatch(QColor(definition.color), 10, round_=False) if definition else None
            if error:
                return error
            if definition is not None:
                repeat = d.get("repeat", 1)
                return (f"{definition.name}: composite block"
                        + (f" — {definition.doc}" if definition.doc else "")
                        + (f", repeated {repeat} times" if repeat > 1 else ""))
        return None


def _same_rows(rows: list[_Row], new: list[dict]) -> bool:
    """Give rows (and those inside them made so far) their new summaries if the tree has
    the same shape; False if it has not."""
    if len(rows) != len(new):
        return False
    for r, d in zip(rows, new):
        if r.path[-1] != d["id"]:
            return False
        r.data = d
        if r.children is not None and not _same_rows(r.children, d.get("children") or []):
            return False
    return True


class SummaryTree(QTreeView):
    """The summary rows; a composite block's row opens to show its inside."""

    def selectRow(self, row: int) -> None:
        index = self.model().index(row, 0)
        if index.isValid():
            self.setCurrentIndex(index)


class SummaryPanel(QWidget):
    nodeClicked = Signal(str)  # a top-level row
    pathClicked = Signal(list)  # a row inside blocks: instance ids down to the inner node

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.table = SummaryTree(self)
        self.model = SummaryModel(doc, self)
        self.table.setModel(self.model)
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

    @property
    def rows(self) -> list[dict]:
        """Every top-level row's summary (made now for rows not shown yet)."""
        m = self.model
        return [m.row_data(m._top_row(i)) for i in range(len(m.order))]

    def refresh(self) -> None:
        g = self.doc.graph
        open_ = self.expanded_paths()
        if self.model.refresh():  # rows rebuilt: open again what was open, select again
            for path in sorted(open_, key=len):
                index = self.model.index_of(path)
                if index.isValid():
                    self.table.setExpanded(index, True)
            self.select_paths(self.selected)
        self.table.viewport().update()
        t = g.totals()
        out = fmt_shape(tuple(t["output_shape"])) if t["output_shape"] else "?"
        self.totals.setText(f"<b>Total params:</b> {t['total_params']:,} "
                            f"(trainable {t['trainable_params']:,}) &nbsp; "
                            f"<b>MACs:</b> {t['total_macs']:,} ({human(t['total_macs'])}) &nbsp; "
                            f"<b>Output:</b> {out}")

    def expanded_paths(self) -> set[tuple[str, ...]]:
        """Paths of the rows open now (only composite rows can be: few)."""
        m = self.model
        rows = [r for r in m._top if r is not None] + list(m._rows.values())
        return {r.path for r in rows if r.children is not None and self.table.isExpanded(m._index(r))}

    def row_of(self, node: str) -> int:
        return self.model.where.get(node, -1)

    def text(self, path, column: int) -> str:
        """The text shown in a column of a node's row (ids from the top)."""
        index = self.model.index_of(path)
        return self.model.index(index.row(), column, index.parent()).data() if index.isValid() else ""

    def select_paths(self, paths) -> None:
        """Select the rows of these nodes (ids from the top) and only those."""
        from PySide6.QtCore import QItemSelection, QItemSelectionModel
        self.selected = [tuple(p) for p in paths]
        sel_model = self.table.selectionModel()
        self.table.blockSignals(True)
        blocked = sel_model.blockSignals(True)
        selection = QItemSelection()
        first = None
        for path in self.selected:
            index = self.model.index_of(path)
            if not index.isValid():
                continue
            p = index.parent()
            while p.isValid():
                self.table.setExpanded(p, True)
                p = p.parent()
            last = self.model.index(index.row(), len(COLUMNS) - 1, index.parent())
            selection.select(index, last)
            first = first or index
        sel_model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        sel_model.blockSignals(blocked)
        if first is not None:
            self.table.scrollTo(first)
        self.table.blockSignals(False)
        self.table.viewport().update()

    def selected_paths(self) -> list[tuple[str, ...]]:
        return [tuple(i.data(PATH_ROLE)) for i in self.table.selectionModel().selectedRows()]

    def _clicked(self, index) -> None:
        if not index.isValid():
            return
        path = list(index.data(PATH_ROLE))
        if len(path) == 1:
            self.nodeClicked.emit(path[0])
        else:
            self.pathClicked.emit(path)
