"""The canvas scene: draws the graph the document shows (the top graph or the body of an
entered composite block) and turns mouse gestures into document edits. It follows the
model's change notifications and holds no state of its own beyond the items that mirror
the model."""
from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QGraphicsScene

from app.graph import fmt_shape

from .edge_item import EdgeItem, RubberLine
from .node_item import NodeItem, _memoized, detail_level
from .scene_drops import SceneDropsMixin
from .theme import theme

SCENE_MARGIN = 1200.0


RELABEL_FAR = 500  # zoomed out, labels are placed clear of nodes only in graphs this small


class GraphScene(SceneDropsMixin, QGraphicsScene):
    status = Signal(str)  # a line for the status bar (refusals while connecting)
    enterRequested = Signal(str)  # a composite block was double-clicked
    # quick add at a scene point: None (double-click on empty canvas), or the wire dropped
    # there: {"src": node} from an output port, {"dst": (node, port)} from an input port
    quickAddRequested = Signal(QPointF, object)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.graph = None
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[tuple[str, str], EdgeItem] = {}
        self._gp_nodes: set[str] = set()
        self._bounds: QRectF | None = None  # items_rect(), kept up to date or None
        self._scene_rect: QRectF | None = None  # the scene rect set by update_scene_rect
        self._drag: dict | None = None
        self._wire: dict | None = None
        self._hovered_port = False
        self._cut = None  # the knife line while Ctrl+right-dragging
        self.context_menu: Callable[[Any, Any], None] | None = None  # set by the window
        self._rect_timer = QTimer(self)
        self._rect_timer.setSingleShot(True)
        self._rect_timer.timeout.connect(self.update_scene_rect)
        self._relabel_timer = QTimer(self)
        self._relabel_timer.setSingleShot(True)
        self._relabel_timer.timeout.connect(self.relabel)
        self._selection_timer = QTimer(self)  # one selectionChanged after removing many
        self._selection_timer.setSingleShot(True)
        self._selection_timer.timeout.connect(self.selectionChanged.emit)
        # a node's edges are drawn in the accent colour while it is selected: repaint them when
        # that changes (first of the slots; an itemChange override per node instead made
        # Qt call into Python four times for every node added)
        self._selected_nodes: set[NodeItem] = set()
        self.selectionChanged.connect(self._repaint_selected_edges)
        doc.viewChanged.connect(self.set_graph)
        theme.changed.connect(self.restyle)
        self.set_graph(doc.current)

    # ---- model → scene -------------------------------------------------------------
    def set_graph(self, graph) -> None:
        if graph is self.graph:
            return
        if self.graph is not None:
            self.graph.unsubscribe(self._on_event)
        self.graph = graph
        graph.subscribe(self._on_event)
        self.rebuild()

    def rebuild(self) -> None:
        self._drag = self._wire = None
        self._bounds = None
        # tens of thousands of new objects: no cyclic GC passes over the heap meanwhile
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            self._selected_nodes = set()  # (a selectionChanged while clearing finds none)
            self.clear()
            self._selected_nodes = set()
            self.nodes, self.edges = {}, {}
            self._bounds = QRectF()
            # One change of the whole scene rather than one rect per item: Qt then keeps
            # no list of tens of thousands of rects to hand to `changed` (the zoomed-out
            # cells, which listen to it, are dropped here anyway).
            self.update()
            overview = getattr(self, "_overview", None)
            if overview is not None:
                overview.invalidate()
            g = self.graph
            for n in g.g.nodes:
                self._add_node(n)
            for s, t, p in g.edges():
                self._add_edge(s, t, p)
        finally:
            if was_enabled:
                gc.enable()
        self._gp_nodes = {p.node for p in g.graph_problems}
        self.update_scene_rect()

    def _add_node(self, n: str) -> NodeItem:
        item = NodeItem(n)
        item.refresh(self.graph)
        x, y = self.graph.g.nodes[n]["pos"]
        item.setPos(x, y)
        self.addItem(item)
        self.nodes[n] = item
        self._grow(item.sceneBoundingRect())
        return item

    def _add_edge(self, s: str, t: str, port: int) -> EdgeItem:
        e = EdgeItem(self.nodes[s], self.nodes[t], port)
        self.nodes[s].edges_out.append(e)
        self.nodes[t].edges_in.append(e)
        e.label, e.muted = self._label_of(e)
        e.update_path()  # before it is in the scene's index: no re-indexing
        self.addItem(e)
        self.edges[(s, t)] = e
        return e

    def _remove_edge(self, key) -> None:
        e = self.edges.pop(key, None)
        if e is None:
            return
        e.src.edges_out.remove(e)
        e.dst.edges_in.remove(e)
        self._remove_quietly(e)

    def _remove_quietly(self, item) -> None:
        """Remove an item; if it was selected, one selectionChanged follows the whole burst
        of removals (one per item, each answered by listing the selection, is quadratic
        when thousands go at once)."""
        if item.isSelected():
            blocked = self.blockSignals(True)
            try:
                self.removeItem(item)
            finally:
                self.blockSignals(blocked)
            self._selection_timer.start(0)
        else:
            self.removeItem(item)

    def _label_of(self, e: EdgeItem) -> tuple[str, bool]:
        info = self.graph.info.get(e.src.node_id)
        shape = info.output_shape if info else None
        text = "" if shape is None else _memoized(("shape", shape), lambda: fmt_shape(shape))
        return text, e.dst.blocked

    def _label(self, e: EdgeItem) -> None:
        e.set_label(*self._label_of(e))

    def _refresh(self, n: str) -> None:
        item = self.nodes.get(n)
        if item is None or n not in self.graph.g:
            return
        before = item.sceneBoundingRect()
        if item.refresh(self.graph):
            self._shrink(before)
            self._grow(item.sceneBoundingRect())
            for e in item.edges_in + item.edges_out:
                e.update_path()
        for e in item.edges_out:
            self._label(e)
        for e in item.edges_in:
            self._label(e)

    def _on_event(self, kind: str, payload: Any) -> None:
        g = self.graph
        if kind == "node_moved":
            item = self.nodes.get(payload)
            if item is not None and payload in g.g:
                self._shrink(item.sceneBoundingRect())
                item.setPos(*g.g.nodes[payload]["pos"])
                self._grow(item.sceneBoundingRect())
                for e in item.edges_in:
                    e.update_path()
                for e in item.edges_out:
                    e.update_path()
                self._relabel_soon()
            return
        if kind == "node_added":
            if payload in g.g and payload not in self.nodes:
                self._add_node(payload)
        elif kind == "node_removed":
            item = self.nodes.pop(payload, None)
            if item is not None:
                self._shrink(item.sceneBoundingRect())
                for e in list(item.edges_in + item.edges_out):
                    self._remove_edge(e.key)
                self._remove_quietly(item)
        elif kind == "node_changed":
            self._refresh(payload)
        elif kind == "edge_added":
            s, t, p = payload
            if g.g.has_edge(s, t) and s in self.nodes and t in self.nodes and (s, t) not in self.edges:
                self._add_edge(s, t, p)
                self._refresh(t)
        elif kind == "edge_removed":
            s, t, _p = payload
            if not g.g.has_edge(s, t):
                self._remove_edge((s, t))
                self._refresh(t)
        elif kind == "info_changed":
            for n in payload:
                self._refresh(n)
        elif kind == "reset":
            self.sync()
        gp = {p.node for p in g.graph_problems}
        if gp or self._gp_nodes:
            for n in gp | self._gp_nodes:
                self._refresh(n)
        self._gp_nodes = gp
        self._rect_timer.start(0)
        self._relabel_soon()

    def _relabel_soon(self) -> None:
        self._relabel_timer.start(0)

    def relabel(self) -> None:
        """Labels in view keep clear of the nodes as they are now (after each burst of edits,
        and when a view shows another part). Only those in view: a 10,000-node graph must not
        ask the scene's index about every label after each edit; and zoomed out, where no
        label is drawn, only in a small graph (zooming in relabels)."""
        for view in self.views():
            if not view.isVisible() or (detail_level(view.transform().m11()) != "full"
                                        and len(self.edges) > RELABEL_FAR):
                continue
            area = view.mapToScene(view.viewport().rect()).boundingRect()
            edges = [it for it in self.items(area) if isinstance(it, EdgeItem)]
            for e in edges:
                e.relabel()

    def sync(self) -> None:
        """Make the items match the model again after a wholesale change (undo snapshots)."""
        g = self.graph
        self._bounds = None
        for n in [n for n in self.nodes if n not in g.g]:
            item = self.nodes.pop(n)
            for e in list(item.edges_in + item.edges_out):
                self._remove_edge(e.key)
            self._remove_quietly(item)
        want = {(s, t): p for s, t, p in g.edges()}
        for key, e in list(self.edges.items()):
            if want.get(key) != e.port:
                self._remove_edge(key)
        for n in g.g.nodes:
            if n not in self.nodes:
                self._add_node(n)
        for (s, t), p in want.items():
            if (s, t) not in self.edges:
                self._add_edge(s, t, p)
        for n, item in self.nodes.items():
            x, y = g.g.nodes[n]["pos"]
            moved = item.pos() != QPointF(x, y)
            if moved:
                item.setPos(x, y)
            if item.refresh(g) or moved:
                for e in item.edges_in + item.edges_out:
                    e.update_path()
        for e in self.edges.values():
            self._label(e)

    def update_scene_rect(self) -> None:
        r = self.items_rect()
        if r.isNull():
            r = QRectF(-400, -300, 800, 600)
        m = SCENE_MARGIN
        # a new scene rect rebuilds the item index (~60 ms at 10,000 nodes): keep the one
        # there while the nodes stay at least half a margin inside it and it is at most
        # half a margin too big on any side
        inner = r.adjusted(-m / 2, -m / 2, m / 2, m / 2)
        outer = r.adjusted(-1.5 * m, -1.5 * m, 1.5 * m, 1.5 * m)
        now = self._scene_rect
        if now is None or not (now.contains(inner) and outer.contains(now)):
            self._scene_rect = r.adjusted(-m, -m, m, m)
            self.setSceneRect(self._scene_rect)

    def helpEvent(self, ev):
        for it in self.items(ev.scenePos()):
            if isinstance(it, NodeItem):
                it.ensure_tooltip()
        super().helpEvent(ev)

    def items_rect(self) -> QRectF:
        """The nodes' bounding rect: kept as nodes move and change, recomputed (one pass
        over the nodes) only after one at the edge moved inwards or went away."""
        if self._bounds is None:
            r = QRectF()
            for item in self.nodes.values():
                r = r.united(item.sceneBoundingRect())
            self._bounds = r
        return QRectF(self._bounds)

    def _grow(self, r: QRectF) -> None:
        if self._bounds is not None:
            self._bounds = self._bounds.united(r) if not self._bounds.isNull() else QRectF(r)

    def _shrink(self, r: QRectF) -> None:
        """A node no longer covers r: the bounds stay right unless r touched them."""
        b = self._bounds
        if b is not None and not (r.left() > b.left() and r.top() > b.top()
                                  and r.right() < b.right() and r.bottom() < b.bottom()):
            self._bounds = None

    def restyle(self) -> None:
        for item in self.nodes.values():
            item._key = None
            item.refresh(self.graph)
        for e in self.edges.values():
            e.update()
        self.update()

    # ---- selection -------------------------------------------------------------------
    def _repaint_selected_edges(self) -> None:
        now = {i for i in self.selectedItems() if isinstance(i, NodeItem)}
        for item in now.symmetric_difference(self._selected_nodes):
            for e in item.edges_in:
                e.update()
            for e in item.edges_out:
                e.update()
        self._selected_nodes = now

    def selected_nodes(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_edges(self) -> list[tuple[str, str]]:
        return [i.key for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids) -> None:
        blocked = self.blockSignals(True)  # one selectionChanged, not one per node
        try:
            self.clearSelection()
            for n in ids:
                if n in self.nodes:
                    self.nodes[n].setSelected(True)
        finally:
            self.blockSignals(blocked)
        self.selectionChanged.emit()

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for it in self.items(pos):
            if isinstance(it, NodeItem):
                return it
        return None

    # ---- mouse: connect and move -------------------------------------------------------
    def mousePressEvent(self, ev):
        if self.cut_press(ev):
            return
        if ev.button() == Qt.MouseButton.LeftButton:
            item = self.node_at(ev.scenePos())
            if item is not None:
                port = item.port_at(item.mapFromScene(ev.scenePos()))
                if port is not None and self._start_wire(item, port, ev.scenePos()):
                    ev.accept()
                    return
            super().mousePressEvent(ev)
            if item is not None:
                ids = set(self.selected_nodes()) | {item.node_id}
                self._drag = {"start": ev.scenePos(), "moved": False, "gesture": object(),
                              "origin": {n: tuple(self.graph.g.nodes[n]["pos"]) for n in ids}}
            return
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):
        if self.cut_move(ev):
            return
        if self._wire is not None:
            self._update_wire(ev.scenePos())
            ev.accept()
            return
        if not ev.buttons():
            self._hover(ev)
        if self._drag is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            d = ev.scenePos() - self._drag["start"]
            if not self._drag["moved"] and abs(d.x()) + abs(d.y()) < 3:
                return
            self._drag["moved"] = True
            self.doc.move({n: (round(x + d.x()), round(y + d.y()))
                           for n, (x, y) in self._drag["origin"].items()}, self._drag["gesture"])
            ev.accept()
            return
        super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):
        if self.cut_release(ev):
            return
        if self._wire is not None and ev.button() == Qt.MouseButton.LeftButton:
            self._finish_wire(ev.scenePos())
            ev.accept()
            return
        if self._drag is not None:
            moved = self._drag["moved"]
            self._drag = None
            if moved:
                self.update_scene_rect()
        super().mouseReleaseEvent(ev)

    def mouseDoubleClickEvent(self, ev):
        if ev.button() == Qt.MouseButton.LeftButton:
            item = self.node_at(ev.scenePos())
            if item is not None and item.composite:
                self._drag = None
                self.enterRequested.emit(item.node_id)
                ev.accept()
                return
            if item is None and self.edge_at(ev.scenePos()) is None:
                self._drag = None
                self.quickAddRequested.emit(ev.scenePos(), None)
                ev.accept()
                return
        super().mouseDoubleClickEvent(ev)

    def contextMenuEvent(self, ev):
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            ev.accept()  # Ctrl+right-drag cuts wires: no menu
            return None
        if self.context_menu is None:
            return super().contextMenuEvent(ev)
        item = next((i for i in self.items(ev.scenePos()) if isinstance(i, (NodeItem, EdgeItem))), None)
        if isinstance(item, (NodeItem, EdgeItem)) and not item.isSelected():
            self.clearSelection()
            item.setSelected(True)
        self.context_menu(ev, item)

    # ---- wires -------------------------------------------------------------------------
    def _start_wire(self, item: NodeItem, port, pos: QPointF) -> bool:
        kind, i = port
        old = None
        if kind == "out":
            src, start, reverse = item, item.pos() + item.output_port_pos(), False
        else:
            edge = next((e for e in item.edges_in if e.port == i), None)
            if edge is not None:  # pull the edge off this input
                src, start, reverse, old = edge.src, edge.src.pos() + edge.src.output_port_pos(), False, edge
                edge.setOpacity(0.25)
            elif item.has_input:
                src, start, reverse = item, item.pos() + item.input_port_pos(i), True
            else:
                return False
        line = RubberLine(start)
        self.addItem(line)
        self._wire = {"src": src, "reverse": reverse, "port": i, "old": old, "line": line,
                      "target": None, "reason": None}
        self.light_ports(self._wire)
        self._update_wire(pos)
        return True

    def _target(self, pos: QPointF):
        """(src, dst, port) that releasing here would connect, or None over empty canvas."""
        w = self._wire
        item = self.node_at(pos)
        if item is None:
            return None
        if w["reverse"]:
            return item.node_id, w["src"].node_id, w["port"]
        port = item.port_at(item.mapFromScene(pos))
        p = port[1] if port and port[0] == "in" else None
        return w["src"].node_id, item.node_id, p

    def _update_wire(self, pos: QPointF) -> None:
        w = self._wire
        target = self._target(pos)
        reason = None
        old = w["old"]
        if target is not None:
            if old is not None and target[:2] == old.key:
                reason = None
            else:
                reason = self.graph.can_connect(*target)
        w["target"], w["reason"] = target, reason
        end = pos
        if target is not None and reason is None:
            dst = self.nodes[target[1]] if not w["reverse"] else self.nodes[target[0]]
            if w["reverse"]:
                end = dst.pos() + dst.output_port_pos()
            else:
                port = target[2] if target[2] is not None else dst.first_free_port()
                end = dst.pos() + dst.input_port_pos(min(port, max(dst.n_ports - 1, 0)))
        w["line"].set_end(end, reason is None)
        if reason:
            self.status.emit(f"Cannot connect: {reason}")
        elif target is not None:
            self.status.emit(f"Release to connect {target[0]} → {target[1]}")
        elif old is not None:
            self.status.emit(f"Release to disconnect {old.key[0]} → {old.key[1]}")
        else:
            self.status.emit("Drag onto an input port or a node to connect, or let go on "
                             "empty canvas to add a block")

    def _finish_wire(self, pos: QPointF) -> None:
        self._update_wire(pos)
        w, self._wire = self._wire, None
        self.light_ports(None)
        self.removeItem(w["line"])
        old = w["old"]
        if old is not None:
            old.setOpacity(1.0)
        target, reason = w["target"], w["reason"]
        if reason:
            return  # refused: the status bar says why; nothing changes
        if target is None:
            if old is not None:
                self.doc.disconnect(*old.key)
                self.status.emit(f"Disconnected {old.key[0]} → {old.key[1]}")
            else:  # a new wire let go on empty canvas: pick what it goes to
                self.status.emit("")
                self.quickAddRequested.emit(
                    pos, {"dst": (w["src"].node_id, w["port"])} if w["reverse"]
                    else {"src": w["src"].node_id})
            return
        if old is not None:
            if target[:2] != old.key or (target[2] is not None and target[2] != old.port):
                self.doc.reconnect(old.key, *target)
        else:
            self.doc.connect(*target)
        self.status.emit("")

    def cancel_wire(self) -> None:
        if self._wire is not None:
            w, self._wire = self._wire, None
            self.light_ports(None)
            self.removeItem(w["line"])
            if w["old"] is not None:
                w["old"].setOpacity(1.0)
            self.status.emit("")
