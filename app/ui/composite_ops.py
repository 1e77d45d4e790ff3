"""The window's composite-block commands: Group into Block, Ungroup, Edit Inside (double-click)
with a breadcrumb bar to go back up, exposing parameters, and the block library.

Every edit is one undo step on the document's stack (app.ui.document). Dialogs go through the
window's small `ask_group`/`ask_text`/`ask`/`warn` methods, which tests replace."""
from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QColorDialog,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QWidget,
)

from app import library
from blocks import REGISTRY

from .layout import X_STEP
from .theme import colors, swatch, theme

# colours offered for new blocks, in turn (each new block gets the next one)
BLOCK_COLORS = ("#8e7cc3", "#c27ba0", "#6fa8dc", "#76a5af", "#e69138", "#93c47d", "#d5a6bd",
                "#a64d79")


def reach_text(uses: int) -> str:
    return "changes reach its one use" if uses == 1 else f"changes reach all {uses} uses"


class GroupDialog(QDialog):
    """Name, colour and a doc line for a new block."""

    def __init__(self, parent, name: str, color: str):
        super().__init__(parent)
        self.setWindowTitle("Group into Block")
        self.color = color
        form = QFormLayout(self)
        self.name = QLineEdit(name)
        self.name.setToolTip("One word: letters, digits and _ (like Stage or ResStage2)")
        self.name.selectAll()
        self.color_button = QPushButton()
        self.color_button.clicked.connect(self._pick)
        self._show_color()
        self.doc = QLineEdit()
        self.doc.setPlaceholderText("what it does (optional)")
        form.addRow("Name", self.name)
        form.addRow("Colour", self.color_button)
        form.addRow("Description", self.doc)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Group")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(340)

    def _show_color(self) -> None:
        self.color_button.setIcon(swatch(QColor(self.color), 14, round_=False))
        self.color_button.setText(self.color)

    def _pick(self) -> None:
        c = QColorDialog.getColor(QColor(self.color), self, "Block colour")
        if c.isValid():
            self.color = c.name()
            self._show_color()

    def values(self) -> tuple[str, str, str]:
        return self.name.text().strip(), self.color, self.doc.text().strip()


class BreadcrumbBar(QFrame):
    """Above the canvas while a block is open: "⬆ Up", then "Network ▸ Stage ▸ Inner" (each
    item goes back to that level), what the edit reaches, and Save to Library."""
    levelClicked = Signal(int)  # 0 = the network, 1 = the first block entered, …
    saveClicked = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("breadcrumb")
        self.lay = QHBoxLayout(self)
        self.lay.setContentsMargins(8, 4, 8, 4)
        self.lay.setSpacing(2)
        self.up_button = QToolButton()
        self.up_button.setText("⬆ Up")
        self.up_button.setToolTip("Back to the level above (Esc)")
        self.up_button.setAutoRaise(True)
        self.up_button.clicked.connect(lambda: self.levelClicked.emit(len(self.items) - 2))
        self.lay.addWidget(self.up_button)
        sep = QFrame()
        sep.setFrameShape(QFrame.Shape.VLine)
        self.lay.addWidget(sep)
        self.crumbs = QWidget()
        self.crumb_lay = QHBoxLayout(self.crumbs)
        self.crumb_lay.setContentsMargins(4, 0, 4, 0)
        self.crumb_lay.setSpacing(0)
        self.lay.addWidget(self.crumbs)
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.lay.addWidget(self.note, 1)
        self.save_button = QToolButton()
        self.save_button.setText("Save Block to Library")
        self.save_button.setAutoRaise(True)
        self.save_button.clicked.connect(self.saveClicked.emit)
        self.lay.addWidget(self.save_button)
        self.items: list[str] = []
        self.buttons: list[QToolButton] = []

    def set_path(self, items: list[str], color: str, note: str) -> None:
        """items[0] is the network's name, then the names of the blocks entered."""
        self.items = list(items)
        while self.crumb_lay.count():
            w = self.crumb_lay.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.buttons = []
        for i, text in enumerate(items):
            if i:
                arrow = QLabel(" ▸ ")
                arrow.setObjectName("muted")
                self.crumb_lay.addWidget(arrow)
            b = QToolButton()
            b.setText(text)
            b.setAutoRaise(True)
            last = i == len(items) - 1
            if last:
                f = b.font()
                f.setWeight(f.Weight.DemiBold)
                b.setFont(f)
                b.setEnabled(True)
                b.setToolTip("You are here")
            else:
                b.setToolTip(f"Back to {text}")
                b.clicked.connect(lambda _=False, k=i: self.levelClicked.emit(k))
            self.crumb_lay.addWidget(b)
            self.buttons.append(b)
        self.note.setText(note)
        c = colors()
        self.setStyleSheet(f"QFrame#breadcrumb {{ background: {c.node.name()}; "
                           f"border-bottom: 1px solid {c.node_border.name()}; "
                           f"border-left: 4px solid {color}; }}")

    def texts(self) -> list[str]:
        return [b.text() for b in self.buttons]


class CompositeOpsMixin:
    # ---- dialogs (tests replace these) ----------------------------------------------------
    def ask_group(self, name: str, color: str) -> tuple[str, str, str] | None:
        """(name, colour, doc line) for a new block, or None when cancelled."""
        dlg = GroupDialog(self, name, color)
        return dlg.values() if dlg.exec() == QDialog.DialogCode.Accepted else None

    def ask_text(self, title: str, label: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, label, QLineEdit.EchoMode.Normal, default)
        return text.strip() if ok else None

    # ---- building -------------------------------------------------------------------------
    def _build_composite_actions(self) -> None:
        self.group_action = self._act("&Group into Block…", self.group_selection, "Ctrl+G",
                                      tip="Turn the selected nodes into a block of your own "
                                          "(Ctrl+G)")
        self.ungroup_action = self._act("&Ungroup", self.ungroup_selection, "Ctrl+Shift+G",
                                        tip="Put the selected block's inside back in its place")
        self.enter_action = self._act("&Edit Block Inside", self.enter_selected, "Ctrl+E",
                                      tip="Open the selected block (or double-click it)")
        self.up_action = self._act("Go &Up", self.go_up, "Alt+Up",
                                   tip="Back to the level above (Esc)")
        self.save_block_action = self._act("Save Block to &Library", self.save_block_to_library,
                                           tip="Save the selected (or open) block to your "
                                               "library, for other projects")
        for a in (self.group_action, self.ungroup_action, self.enter_action, self.up_action,
                  self.save_block_action):
            a.setEnabled(False)

    def _composite_menu(self, menu) -> None:
        menu.addSeparator()
        menu.addActions([self.group_action, self.ungroup_action, self.enter_action,
                         self.up_action, self.save_block_action])

    def _connect_composite(self) -> None:
        self.scene.enterRequested.connect(self.enter_block)
        self.view.upRequested.connect(self.go_up)
        self.breadcrumb.levelClicked.connect(self.go_to_level)
        self.breadcrumb.saveClicked.connect(lambda: self.save_block_to_library(
            self.doc.trail[-1][0] if self.doc.trail else None))
        self.inspector.enterRequested.connect(self.enter_block)
        self.inspector.ungroupRequested.connect(self.ungroup_block)
        self.inspector.saveBlockRequested.connect(self.save_block_to_library)
        self.inspector.exposeRequested.connect(self.toggle_expose)
        self.palette.libraryActivated.connect(self.add_library_block)
        self.summary.pathClicked.connect(self.reveal_path)
        self.problems.placeClicked.connect(self.reveal_at)
        self.doc.viewChanged.connect(self._view_changed)
        theme.changed.connect(self._view_changed)  # the breadcrumb's colours
        self.doc.changed.connect(self._update_project_blocks)
        self.palette.refresh_library()
        self._view_changed(self.doc.current)

    # ---- state shown ------------------------------------------------------------------------
    def _view_changed(self, _graph=None) -> None:
        trail = self.doc.trail
        if trail:
            d = self.doc.definition()
            uses = self.doc.uses_of(d.name)
            self.breadcrumb.set_path(
                [self.doc.graph.name] + [f"{name} ({inst})" if i == 0 else name
                                         for i, (name, inst) in enumerate(trail)],
                d.color, f"   editing {d.name}: " + reach_text(uses))
        self.breadcrumb.setVisible(bool(trail))
        self.view.set_frame_color(QColor(self.doc.definition().color) if trail else None)
        self.up_action.setEnabled(bool(trail))
        self._update_project_blocks()
        self._selection_changed()

    def _update_project_blocks(self) -> None:
        defs = self.doc.graph.definitions
        owner = self.doc.trail[-1][0] if self.doc.trail else None
        exclude = {n for n, d in defs.items() if owner and (n == owner or owner in d.uses())}
        self.palette.set_project(defs, exclude, inside=bool(owner))

    def _update_composite_actions(self, nodes: list[str]) -> None:
        g = self.doc.current
        one = nodes[0] if len(nodes) == 1 else None
        composite = one is not None and one in g.g and g.type_of(one) in g.definitions
        self.group_action.setEnabled(bool(nodes))
        self.ungroup_action.setEnabled(composite)
        self.enter_action.setEnabled(composite)
        self.save_block_action.setEnabled(composite or bool(self.doc.trail))

    def changeEvent(self, ev):
        if ev.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.palette.refresh_library()  # another window may have saved a block
        super().changeEvent(ev)

    # ---- group / ungroup --------------------------------------------------------------------
    def _next_block_name(self) -> str:
        taken = set(self.doc.graph.definitions) | set(REGISTRY)
        return next(f"Block{i}" for i in itertools.count(1) if f"Block{i}" not in taken)

    def group_selection(self) -> str | None:
        nodes = self.scene.selected_nodes()
        if not nodes:
            self.show_status("Select the nodes to group first (drag a rectangle around them)")
            return None
        color = BLOCK_COLORS[len(self.doc.graph.definitions) % len(BLOCK_COLORS)]
        answer = self.ask_group(self._next_block_name(), color)
        if not answer:
            return None
        name, color, doc = answer
        inst = self.doc.group(nodes, name, color, doc)
        if inst is None:
            self.warn("Cannot group these nodes", self.doc.last_error or "")
            return None
        self.scene.select_nodes([inst])
        self.show_status(f"Grouped {len(nodes)} node(s) into {name}: double-click it to edit "
                         f"inside")
        return inst

    def ungroup_selection(self) -> list[str] | None:
        nodes = self.scene.selected_nodes()
        g = self.doc.current
        if len(nodes) != 1 or g.type_of(nodes[0]) not in g.definitions:
            self.show_status("Select one composite block to ungroup")
            return None
        return self.ungroup_block(nodes[0])

    def ungroup_block(self, node: str) -> list[str] | None:
        ids = self.doc.ungroup(node)
        if ids is None:
            self.warn("Cannot ungroup", self.doc.last_error or "")
            return None
        self.scene.select_nodes(ids)
        return ids

    # ---- inside a block ---------------------------------------------------------------------
    def enter_selected(self) -> None:
        nodes = self.scene.selected_nodes()
        if len(nodes) == 1:
            self.enter_block(nodes[0])

    def enter_block(self, node: str) -> bool:
        err = self.doc.enter(node)
        if err:
            return False
        self.fit_soon()
        d = self.doc.definition()
        self.show_status(f"Editing {d.name}: every use of it changes. Esc goes back up.")
        return True

    def go_up(self) -> None:
        left = self.doc.up()
        if left is not None:
            self.scene.select_nodes([left])
            self.fit_soon()
            item = self.scene.nodes.get(left)
            if item is not None:
                self.view.center_on_node(item)

    def go_to_level(self, level: int) -> None:
        """0 = the network, k = the k-th block entered."""
        depth = len(self.doc.trail)
        if 0 <= level < depth:
            left = self.doc.up(depth - level)
            self.fit_soon()
            if left:
                self.scene.select_nodes([left])

    def open_trail(self, ids: list[str]) -> bool:
        """Go to the top, then into each instance in turn ("n3", "n5" …)."""
        self.doc.go_to([])
        for n in ids:
            if self.doc.enter(n):
                return False
        return True

    def reveal_at(self, trail: list, node: str) -> None:
        """Show a node that is inside blocks (problems panel)."""
        self.doc.show(trail)
        self.reveal(node)

    def reveal_path(self, path: list[str]) -> None:
        """Summary row inside a block: open the instances down to it and show the node."""
        if self.open_trail(path[:-1]):
            self.fit_soon()
            self.reveal(path[-1])

    def toggle_expose(self, node: str, param: str, on: bool) -> str | None:
        d = self.doc.definition()
        if d is None:
            return None
        if on:
            default = param if param not in d.exposed else f"{param}_{node}"
            name = self.ask_text(f"Expose a parameter of {d.name}",
                                 f"Name of the new parameter of {d.name} (it sets {node}.{param}; "
                                 f"an existing name drives several parameters together):",
                                 default)
            result = self.doc.expose(node, param, name) if name else None
            if name and result is None:
                self.warn("Cannot expose this parameter", self.doc.last_error or "")
            elif result:
                self.show_status(f"{d.name} now has a parameter {result}: each use sets its own")
        else:
            as_name = next((k for k, ts in d.exposed.items() if (node, param) in ts), None)
            result = None
            if as_name is not None:
                self.doc.unexpose(as_name)
                self.show_status(f"{d.name}.{as_name} is no longer a parameter")
        self.inspector.set_node(node if node in self.doc.current.g else None)
        return result

    # ---- library ----------------------------------------------------------------------------
    def save_block_to_library(self, name: str | None = None) -> Path | None:
        """Save a block (default: the selected instance's, else the open one) to the library."""
        if not name:
            g = self.doc.current
            nodes = self.scene.selected_nodes()
            if len(nodes) == 1 and g.type_of(nodes[0]) in g.definitions:
                name = g.type_of(nodes[0])
            elif self.doc.trail:
                name = self.doc.trail[-1][0]
        if not name or name not in self.doc.graph.definitions:
            self.show_status("Select a composite block (or open one) to save it to the library")
            return None
        folder = library.library_dir()
        if (folder / f"{name}.json").exists() and self.ask(
                "Save block to library", f"The library already has a block {name}. Replace it?",
                ["Replace", "Cancel"]) != "Replace":
            return None
        try:
            path = library.save_block(self.doc.graph, name)
        except OSError as exc:
            self.warn("Cannot save the block", f"{folder}\n\n{exc.strerror or exc}")
            return None
        self.palette.refresh_library()
        self.show_status(f"Saved {name} to the library: {path}")
        return path

    def add_library_block(self, path: str) -> str | None:
        """Palette double-click on a library block: add it like a built-in block."""
        g = self.doc.current
        sel = self.scene.selected_nodes()
        src = sel[0] if len(sel) == 1 else None
        if src is not None:
            x, y = g.node(src)["pos"]
            pos = self._free_spot(x + X_STEP, y)
        else:
            c = self.view.mapToScene(self.view.viewport().rect().center())
            pos = self._free_spot(round(c.x() - 80), round(c.y() - 40))
        new = self.doc.add_library_block(path, pos, connect_from=src)
        if new is None and src is not None:
            new = self.doc.add_library_block(path, pos)
        if new is None:
            self.warn("Cannot add this block", self.doc.last_error or "")
            return None
        self.scene.select_nodes([new])
        return new

