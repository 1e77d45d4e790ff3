"""Edits the window starts from the canvas and the menus: add blocks (palette, quick-add
popup), delete and dissolve, copy / cut / paste / duplicate, find a node, context menus.
New nodes never land on others (layout.free_spot / free_offset)."""
from __future__ import annotations

from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMenu

from app.graph import fmt_shape
from app.graph.composite import arity
from blocks import CATEGORIES, REGISTRY

from . import clipboard
from .edge_item import EdgeItem
from .layout import X_STEP, Y_GAP, free_offset, free_spot
from .node_item import NodeItem
from .quick_add import SearchPopup, block_choices, node_choices
from .theme import icon


class EditOpsMixin:
    # ---- edit commands ---------------------------------------------------------------------------
    def add_block(self, type_id: str) -> str | None:
        """Palette double-click: add the block; with one node selected, place it to the right
        of that node and connect it; the new node becomes the selection (so that a chain
        grows by double-clicks)."""
        g = self.doc.current
        sel = self.scene.selected_nodes()
        src = sel[0] if len(sel) == 1 else None
        if type_id not in REGISTRY and type_id not in g.definitions:
            self.show_status(f"There is no block {type_id} in this project")
            return None
        if src is not None and arity(g.kind(type_id)) != "none":
            x, y = g.node(src)["pos"]
            pos = self._free_spot(x + X_STEP, y)
            new = self.doc.add_node(type_id, pos, connect_from=src) or self.doc.add_node(type_id, pos)
        else:
            c = self.view.mapToScene(self.view.viewport().rect().center())
            new = self.doc.add_node(type_id, self._free_spot(round(c.x() - 80), round(c.y() - 40)))
        if new:
            self.scene.select_nodes([new])
            item = self.scene.nodes[new]
            if not self.view.mapToScene(self.view.viewport().rect()).boundingRect().contains(
                    item.sceneBoundingRect()):
                self.view.center_on_node(item)
        return new

    def _free_spot(self, x: float, y: float) -> tuple[float, float]:
        return free_spot((tuple(d["pos"]) for _, d in self.doc.current.g.nodes(data=True)), x, y)

    def delete_selection(self) -> None:
        self.doc.delete(self.scene.selected_nodes(), self.scene.selected_edges())

    def dissolve_selection(self) -> None:
        """Delete the selected nodes and join their neighbours where the shapes allow."""
        nodes = self.scene.selected_nodes()
        if nodes:
            self.doc.dissolve(nodes)
        else:
            self.show_status("Select the nodes to dissolve first")

    # ---- popups: quick add and find ------------------------------------------------------
    def quick_add(self, scene_pos: QPointF, wire: dict | None = None) -> SearchPopup:
        """The block search at a point of the canvas; `wire` = {"src": node} or
        {"dst": (node, port)}: the new block is connected to it, and with a source the
        blocks that accept its output shape come first."""
        g = self.doc.current
        src = (wire or {}).get("src")
        dst = (wire or {}).get("dst")
        info = g.info.get(src) if src else None
        shape = info.output_shape if info is not None else None
        if src:
            title = f"Add after {src}" + (f" — takes {fmt_shape(shape)}" if shape is not None else "")
        else:
            title = f"Add a block into {dst[0]}" if dst else "Add a block"
        toggle = f"Only blocks that accept {fmt_shape(shape)}" if shape is not None else ""
        choices = block_choices(g, shape, top=not self.doc.trail, wired=bool(src or dst))
        popup = SearchPopup(self, title, choices, toggle)
        popup.chosen.connect(lambda t: self._quick_added(t, scene_pos, src, dst))
        popup.popup(self.view.viewport().mapToGlobal(self.view.mapFromScene(scene_pos)))
        self.popup = popup
        return popup

    def _quick_added(self, type_id: str, at: QPointF, src, dst) -> str | None:
        x, y = at.x(), at.y() - 20
        if dst is not None:  # the wire came out of an input: the new block ends left of it
            x -= 160
        pos = self._free_spot(round(x), round(y))
        if dst is None:
            new = self.doc.add_node(type_id, pos, connect_from=src)
            if new is None and src is not None:  # refused to connect: say why, add it alone
                new = self.doc.add_node(type_id, pos)
        else:
            self.doc.stack.beginMacro(f"Add {type_id}")
            new = self.doc.add_node(type_id, pos)
            if new:
                self.doc.connect(new, dst[0], dst[1])
            self.doc.stack.endMacro()
        if new:
            self.scene.select_nodes([new])
        return new

    def find_node(self) -> SearchPopup:
        """Ctrl+F: find a node of the graph shown by id, label or type; centre on it."""
        popup = SearchPopup(self, "Find a node (id, label or type)", node_choices(self.doc.current))
        popup.chosen.connect(self.reveal)
        vp = self.view.viewport()
        popup.popup(vp.mapToGlobal(vp.rect().center()) - popup.rect().center())
        self.popup = popup
        return popup

    def select_all(self) -> None:
        # one selectionChanged for all, not one per node (quadratic on big graphs)
        blocked = self.scene.blockSignals(True)
        try:
            for item in self.scene.nodes.values():
                item.setSelected(True)
        finally:
            self.scene.blockSignals(blocked)
        self.scene.selectionChanged.emit()

    def copy(self) -> dict | None:
        data = clipboard.copy(self.doc.current, self.scene.selected_nodes())
        if data:
            self.show_status(f"Copied {len(data['nodes'])} node(s)")
        return data

    def cut(self) -> None:
        if self.copy():
            nodes = self.scene.selected_nodes()
            if self.doc.delete(nodes) is None and self.doc.stack.count():
                self.doc.stack.command(self.doc.stack.index() - 1).setText(f"Cut {len(nodes)} node(s)")

    def paste(self, data: dict | None = None, at: QPointF | None = None) -> list[str]:
        """Paste as one undo step: new ids, the edges among them kept, the piece's top-left
        at the mouse (or `at`; the middle of the canvas when the mouse is elsewhere), moved
        down until it overlaps no node."""
        data = data or clipboard.clipboard_piece()
        if not data:
            self.show_status("Nothing to paste: copy some nodes first")
            return []
        ids = self._paste_piece(data, self.view.cursor_scene_pos() if at is None else at, "Paste")
        if ids:
            self.show_status(f"Pasted {len(ids)} node(s)")
        return ids

    def _paste_piece(self, data: dict, at: QPointF, text: str) -> list[str]:
        piece = [tuple(n.get("pos", (0, 0))) for n in data["nodes"]]
        if not piece:
            return []
        left, top = min(x for x, _ in piece), min(y for _, y in piece)
        taken = [tuple(d["pos"]) for _, d in self.doc.current.g.nodes(data=True)]
        offset = free_offset(taken, piece, round(at.x() - left), round(at.y() - top))
        ids = self.doc.paste(data, offset, text)
        if ids:
            self.scene.select_nodes(ids)
        return ids

    def duplicate(self) -> list[str]:
        """Copies of the selection just below it (further down where that is taken)."""
        nodes = self.scene.selected_nodes()
        if not nodes:
            return []
        data = clipboard.piece(self.doc.current, nodes)
        left = min(n["pos"][0] for n in data["nodes"])
        bottom = max(n["pos"][1] for n in data["nodes"])
        return self._paste_piece(data, QPointF(left, bottom + Y_GAP), "Duplicate")

    # ---- context menus ------------------------------------------------------------------------------
    def _context_menu(self, ev, item) -> None:
        menu = QMenu(self)
        pos = ev.scenePos()
        if isinstance(item, NodeItem):
            if item.composite and len(self.scene.selected_nodes()) == 1:
                menu.addActions([self.enter_action, self.ungroup_action, self.save_block_action])
                menu.addSeparator()
            menu.addActions([self.copy_action, self.cut_action, self.duplicate_action,
                             self.delete_action, self.dissolve_action])
            menu.addSeparator()
            menu.addAction(self.group_action)
            # feature maps and Grad-CAM of this node (imported when asked: Pillow, torch)
            from app.ui.inspect_dialog import add_inspect_actions
            add_inspect_actions(menu, self, item.node_id)
        elif isinstance(item, EdgeItem):
            menu.addAction(icon("delete"), "Delete Connection", lambda: self.doc.delete([], [item.key]))
            ins = menu.addMenu("Insert Block Here")
            self._block_menu(ins, lambda t: self.doc.insert_on_edge(*item.key, t))
        else:
            add = menu.addMenu("Add Block")
            menu.addAction("Quick Add…", lambda: self.quick_add(QPointF(pos)))
            self._block_menu(add, lambda t: self.scene.drop_block(t, QPointF(pos)))
            menu.addAction(icon("paste"), "Paste Here", lambda: self.paste(at=QPointF(pos)))
            menu.addSeparator()
            menu.addActions([self.select_all_action, self.layout_action, self.fit_action])
            if self.doc.trail:
                menu.addSeparator()
                menu.addActions([self.up_action, self.save_block_action])
        menu.exec(ev.screenPos())

    def _block_menu(self, menu: QMenu, fn) -> None:
        defs = self.doc.graph.definitions
        owner = self.doc.trail[-1][0] if self.doc.trail else None
        mine = [d for n, d in defs.items() if not (owner and (n == owner or owner in d.uses()))]
        if mine:
            sub = menu.addMenu("This project")
            for d in mine:
                a = sub.addAction(d.name, lambda t=d.name: fn(t))
                a.setToolTip(d.doc)
        for cat in CATEGORIES:
            specs = [s for s in REGISTRY.values() if s.category == cat and s.inputs != "none"]
            if not specs:
                continue
            sub = menu.addMenu(cat.replace("&", "&&"))  # "&" alone marks a shortcut letter
            for s in specs:
                a = sub.addAction(s.type_id, lambda t=s.type_id: fn(t))
                a.setToolTip(s.doc)
