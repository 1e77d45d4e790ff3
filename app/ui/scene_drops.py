"""What the canvas scene does with palette drops (add, or splice into the edge under the
drop, which lights up while hovering), with the mouse over ports (a tooltip with the tensor
shape) and while a wire is drawn (the ports it can go to light up). A mixin of GraphScene,
kept apart to keep scene.py small. Ctrl+right-drag cuts the wires it crosses."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsLineItem, QToolTip

from app.graph import fmt_shape
from app.graph.composite import arity

from .edge_item import EdgeItem
from .layout import free_spot
from .node_item import WIDTH, NodeItem
from .theme import colors

BLOCK_MIME = "application/x-netcanvas-block"
LIBRARY_MIME = "application/x-netcanvas-library-block"  # the path of a library block file


class SceneDropsMixin:
    # ---- palette drops ---------------------------------------------------------------
    def drop_block(self, type_id: str, scene_pos: QPointF) -> str | None:
        """What a drop from the palette does: on an edge, splice the block into it (the
        nodes after it make room); elsewhere, add it centred on the drop point, moved down
        clear of other nodes."""
        edge = self.edge_at(scene_pos)
        g = self.graph
        if edge is not None and (type_id in g.definitions or arity(g.kind(type_id)) != "none"):
            new = self.doc.insert_on_edge(*edge.key, type_id)
        else:
            new = self.doc.add_node(type_id, self._free_spot(scene_pos))
        if new:
            self.select_nodes([new])
        return new

    def _free_spot(self, scene_pos: QPointF) -> tuple[float, float]:
        taken = (tuple(d["pos"]) for _, d in self.graph.g.nodes(data=True))
        return free_spot(taken, round(scene_pos.x() - WIDTH / 2), round(scene_pos.y() - 20))

    def edge_at(self, pos: QPointF) -> EdgeItem | None:
        """The edge under a point (a few pixels either side count), None over a node."""
        for it in self.items(QRectF(pos.x() - 5, pos.y() - 5, 10, 10),
                             Qt.ItemSelectionMode.IntersectsItemShape):
            if isinstance(it, NodeItem):
                return None
            if isinstance(it, EdgeItem):
                return it
        return None

    def _hot_edge(self, edge: EdgeItem | None) -> None:
        for e in self.edges.values():
            e.set_hot(e is edge)

    def drop_library_block(self, path: str, scene_pos: QPointF) -> str | None:
        """A library block dropped: copy it into the project and add it (one undo step)."""
        new = self.doc.add_library_block(path, self._free_spot(scene_pos))
        if new:
            self.select_nodes([new])
        else:
            self.status.emit(f"Cannot add this block: {self.doc.last_error}")
        return new

    def dragEnterEvent(self, ev):
        mime = ev.mimeData()
        if mime.hasFormat(BLOCK_MIME) or mime.hasFormat(LIBRARY_MIME):
            ev.acceptProposedAction()
            self._hot_edge(self.edge_at(ev.scenePos()) if mime.hasFormat(BLOCK_MIME) else None)
        else:
            ev.ignore()

    dragMoveEvent = dragEnterEvent

    def dragLeaveEvent(self, ev):
        self._hot_edge(None)

    def dropEvent(self, ev):
        self._hot_edge(None)
        mime = ev.mimeData()
        if mime.hasFormat(LIBRARY_MIME):
            self.drop_library_block(bytes(mime.data(LIBRARY_MIME)).decode("utf-8"), ev.scenePos())
        elif mime.hasFormat(BLOCK_MIME):
            self.drop_block(bytes(mime.data(BLOCK_MIME)).decode("utf-8"), ev.scenePos())
        else:
            ev.ignore()
            return
        ev.acceptProposedAction()

    def port_text(self, item: NodeItem, port) -> str:
        """What a port carries (hover): its tensor shape, or why it is free."""
        g = self.graph
        if port[0] == "out":
            info = g.info.get(item.node_id)
            shape = info.output_shape if info else None
            return (f"{item.node_id} output: {fmt_shape(shape)}" if shape is not None
                    else f"{item.node_id} output: not measured ({item.problem or 'waiting for input'})")
        i = port[1]
        src = next((s for s, p in g.inputs_of(item.node_id) if p == i), None)
        name = f"{item.node_id} input {i + 1}" if item.many or item.n_ports > 1 else f"{item.node_id} input"
        if src is None:
            return f"{name}: free — drag an output here"
        info = g.info.get(src)
        shape = fmt_shape(info.output_shape) if info and info.output_shape is not None else "?"
        return f"{name}: {shape} from {src}"

    def _hover(self, ev) -> None:
        item = self.node_at(ev.scenePos())
        port = item.port_at(item.mapFromScene(ev.scenePos())) if item is not None else None
        if port is not None:
            QToolTip.showText(ev.screenPos(), self.port_text(item, port))
        elif self._hovered_port:
            QToolTip.hideText()
        self._hovered_port = port is not None


    def light_ports(self, wire: dict | None) -> None:
        """While a wire is drawn, the nodes it could connect to light their ports up and the
        others dim (hovering one says why in the status bar); None puts them back."""
        for item in self.nodes.values():
            accepts = None
            if wire is not None:
                src = wire["src"].node_id
                s, d = (item.node_id, src) if wire["reverse"] else (src, item.node_id)
                old = wire["old"]
                ok = item is not wire["src"] and (
                    (old is not None and (s, d) == old.key)
                    or self.graph.can_connect(s, d, wire["port"] if wire["reverse"] else None) is None)
                accepts = ("out" if wire["reverse"] else "in") if ok else False
            item.set_accepts(accepts)

    # ---- Ctrl+right-drag: cut the wires the line crosses (one undo step) -------------------
    def cut_press(self, ev) -> bool:
        if not (ev.button() == Qt.MouseButton.RightButton
                and ev.modifiers() & Qt.KeyboardModifier.ControlModifier):
            return False
        line = QGraphicsLineItem(QLineF(ev.scenePos(), ev.scenePos()))
        line.setPen(QPen(colors().error, 0, Qt.PenStyle.DashLine))
        line.setZValue(10)
        self.addItem(line)
        self._cut = line
        ev.accept()
        return True

    def cut_move(self, ev) -> bool:
        if self._cut is None:
            return False
        self._cut.setLine(QLineF(self._cut.line().p1(), ev.scenePos()))
        ev.accept()
        return True

    def cut_release(self, ev) -> bool:
        if self._cut is None or ev.button() != Qt.MouseButton.RightButton:
            return False
        line, self._cut = self._cut, None
        self.removeItem(line)
        path = QPainterPath(line.line().p1())
        path.lineTo(line.line().p2())
        hit = [e.key for e in self.edges.values() if e.shape().intersects(path)]
        if hit:
            self.doc.delete([], hit)
            self.status.emit(f"Cut {len(hit)} connection{'s' * (len(hit) != 1)}")
        ev.accept()
        return True
