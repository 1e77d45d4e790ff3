"""File ▸ Compare with…: the differences from another version, on the canvas and in a list.

The diff is app.diff's (the same as `netcanvas diff OTHER THIS`). On the canvas, added nodes
get a green frame, changed ones an orange frame, and removed ones a dashed grey ghost where
they stood in the other version; the frames are scene items of their own, so the node items
are untouched. The comparison follows every edit until it is cleared; a click on a row
centres its node (or ghost).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.diff import change_text, diff_projects, numbers_text

ADDED, CHANGED, REMOVED = QColor("#1E8E3E"), QColor("#E37400"), QColor("#9AA0A6")
GHOST_SIZE = (160.0, 60.0)
NODE_ROLE = Qt.ItemDataRole.UserRole


class DiffPanel(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.doc = window.doc
        self.other = None  # the NetGraph compared with
        self.marks: list = []  # scene items drawn for the comparison
        self.ghosts: dict[str, QGraphicsRectItem] = {}
        self.head = QLabel("Compare with another version: File ▸ Compare with…")
        self.head.setWordWrap(True)
        self.list = QListWidget(self)
        self.clear_button = QPushButton("Clear comparison")
        self.clear_button.setEnabled(False)
        self.clear_button.clicked.connect(self.clear)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.head)
        lay.addWidget(self.list)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.clear_button)
        lay.addLayout(row)
        self.list.itemClicked.connect(self._clicked)
        self.doc.changed.connect(self.refresh)
        self.doc.viewChanged.connect(lambda _g: self.refresh())

    def compare_with(self, other, label: str) -> None:
        self.other, self.label = other, label
        self.clear_button.setEnabled(True)
        self.refresh()

    def clear(self) -> None:
        self.other = None
        self._unmark()
        self.list.clear()
        self.head.setText("No comparison.")
        self.clear_button.setEnabled(False)

    def refresh(self) -> None:
        if self.other is None:
            return
        self._unmark()
        self.list.clear()
        p = diff_projects(self.other, self.doc.graph)
        d = p.graph
        if p.same:
            self.head.setText(f"The same network as {self.label}.")
            return
        self.head.setText(f"Changes since {self.label}: {len(d.added)} added, "
                          f"{len(d.removed)} removed, {len(d.changed)} changed, "
                          f"{len(d.edges_added) + len(d.edges_removed)} connection(s)")
        g = self.doc.graph
        for n in d.added:
            self._row(f"+ {n} {g.type_of(n)}", n, ADDED)
        for n, what in d.changed.items():
            self._row(f"~ {n} {g.type_of(n)}: {change_text(what)}", n, CHANGED)
        for n in d.removed:
            self._row(f"− {n} {self.other.type_of(n)} (removed)", "ghost:" + n, REMOVED)
        for s, t, _ in d.edges_removed:
            self._row(f"− connection {s} → {t}", None, REMOVED)
        for s, t, _ in d.edges_added:
            self._row(f"+ connection {s} → {t}", t, ADDED)
        for name, info in p.definitions.items():
            users = info.get("used_by", [])
            self._row(f"~ block {name} {info['status']}"
                      + (f" (used by {len(users)} node(s))" if users else ""),
                      users[0] if users else None, CHANGED)
        for n, nums in d.numbers.items():
            self._row(f"  {n}: {numbers_text(nums)}", n, None)
        if self.doc.current is g:  # frames only on the network, not inside a block
            self._mark(d, g)

    def _row(self, text: str, node, color) -> None:
        it = QListWidgetItem(text)
        it.setData(NODE_ROLE, node)
        if color is not None:
            it.setForeground(QBrush(color))
        self.list.addItem(it)

    def _mark(self, d, g) -> None:
        scene = self.window.scene
        for color, ids in ((ADDED, d.added), (CHANGED, list(d.changed))):
            for n in ids:
                item = scene.nodes.get(n)
                if item is not None:
                    self._frame(scene, item.sceneBoundingRect().adjusted(-4, -4, 4, 4), color,
                                Qt.PenStyle.SolidLine)
        for n in d.removed:
            x, y = self.other.node(n).get("pos", (0.0, 0.0))
            ghost = self._frame(scene, QRectF(x, y, *GHOST_SIZE), REMOVED, Qt.PenStyle.DashLine)
            text = QGraphicsSimpleTextItem(f"removed: {n} {self.other.type_of(n)}", ghost)
            text.setBrush(QBrush(REMOVED))
            text.setPos(x + 8, y + 20)
            self.ghosts[n] = ghost

    def _frame(self, scene, rect: QRectF, color: QColor, style) -> QGraphicsRectItem:
        item = QGraphicsRectItem(rect)
        item.setPen(QPen(color, 3, style))
        item.setZValue(-1)  # under the nodes, so that clicks still reach them
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        scene.addItem(item)
        self.marks.append(item)
        return item

    def _unmark(self) -> None:
        for item in self.marks:
            if item.scene() is not None:  # the scene may have been rebuilt meanwhile
                item.scene().removeItem(item)
        self.marks, self.ghosts = [], {}

    def _clicked(self, it: QListWidgetItem) -> None:
        node = it.data(NODE_ROLE)
        if not node:
            return
        if node.startswith("ghost:"):
            ghost = self.ghosts.get(node[6:])
            if ghost is not None:
                self.window.view.centerOn(ghost)
        elif node in self.doc.graph.g:
            self.window.reveal_top(node)


def install(window) -> DiffPanel:
    """The Compare dock and File menu entries: the one hook the main window calls."""
    from PySide6.QtGui import QAction

    from app.project import ProjectError, load_project

    panel = DiffPanel(window)
    dock = window._dock("Compare", "compare", panel, Qt.DockWidgetArea.BottomDockWidgetArea)
    window.tabifyDockWidget(window.summary_dock, dock)
    window.summary_dock.raise_()

    def show(graph, label):
        panel.compare_with(graph, label)
        dock.show()
        dock.raise_()

    def with_file():
        path = window.open_path("Compare with", "NetCanvas projects (*.json)")
        if path:
            try:
                show(load_project(path), Path(path).name)
            except ProjectError as exc:
                window.warn("Cannot compare", str(exc))

    def with_saved():
        if window.doc.path is None or not Path(window.doc.path).exists():
            window.show_status("This network has not been saved yet: nothing to compare with")
            return
        try:
            show(load_project(window.doc.path), "the last saved version")
        except ProjectError as exc:
            window.warn("Cannot compare", str(exc))

    file_menu = window.menuBar().actions()[0].menu()
    before = window.export_menu.menuAction()
    for text, slot in (("Compare with &File…", with_file),
                       ("Compare with &Last Saved", with_saved)):
        a = QAction(text, window)
        a.triggered.connect(slot)
        file_menu.insertAction(before, a)
    file_menu.insertSeparator(before)
    window.compare_dock = dock
    return panel
