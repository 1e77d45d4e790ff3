"""The inspector: the selected node's label and parameters, one widget per parameter kind.
A value is checked with Param.check before it reaches the model; a refused one stays in
the field with the reason under it, and nothing is applied.

Composite blocks: an instance shows its block's exposed parameters (the same widgets) and
buttons to edit inside, ungroup and save it to the library; inside a block, each parameter
has an "expose" toggle that makes it a parameter of the block. A node with one input has
a Repeat ×N field. The fields themselves are in fields.py."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.graph import fmt_shape
from app.graph.composite import Definition, arity

from .fields import ParamEditor, RepeatEditor, Unreadable
from .panels import fix_text
from .theme import category_color, colors, icon


def expose_icon() -> QIcon:
    """A box with an arrow leaving it upwards: "make this a parameter of the block"."""
    ic = QIcon()
    for scale in (1, 2):
        pm = QPixmap(16 * scale, 16 * scale)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.scale(scale, scale)
        p.setPen(QPen(colors().text, 1.4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                      Qt.PenJoinStyle.RoundJoin))
        box = QPainterPath()
        box.moveTo(5, 7)
        box.lineTo(2.5, 7)
        box.lineTo(2.5, 14)
        box.lineTo(13.5, 14)
        box.lineTo(13.5, 7)
        box.lineTo(11, 7)
        p.drawPath(box)
        p.drawLine(8, 11, 8, 2)
        p.drawLine(5, 5, 8, 2)
        p.drawLine(11, 5, 8, 2)
        p.end()
        pm.setDevicePixelRatio(scale)
        ic.addPixmap(pm)
    return ic


class Inspector(QScrollArea):
    enterRequested = Signal(str)  # edit inside this composite instance
    ungroupRequested = Signal(str)
    saveBlockRequested = Signal(str)  # save this block (definition name) to the library
    exposeRequested = Signal(str, str, bool)  # node, parameter, expose (True) or stop (False)

    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.node: str | None = None
        self.stats_extra = None  # (graph, node) -> more HTML lines for the numbers, or None
        self.editors: dict[str, ParamEditor] = {}
        self.expose_buttons: dict[str, QToolButton] = {}
        self.exposed_notes: dict[str, QLabel] = {}
        self.repeat: RepeatEditor | None = None
        self._count = 1
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumWidth(240)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        body = QWidget()
        self.setWidget(body)
        self.lay = QVBoxLayout(body)
        self.lay.setContentsMargins(12, 10, 12, 10)
        self.lay.setSpacing(8)
        self.title = QLabel()
        self.title.setObjectName("title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.doc_label = QLabel()
        self.doc_label.setObjectName("muted")
        self.doc_label.setWordWrap(True)
        self.label_edit: QLineEdit | None = None
        self._problem = None
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem = QLabel()
        self.problem.setObjectName("error")
        self.problem.setWordWrap(True)
        self.fix_button = QPushButton()
        self.fix_button.setObjectName("fix")
        self.fix_button.setIcon(icon("fix"))
        self.fix_button.clicked.connect(self._fix)
        fix_row = QHBoxLayout()
        fix_row.addWidget(self.fix_button)
        fix_row.addStretch(1)
        self.empty = QLabel()
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        # a composite instance: what to do with the block
        self.block_buttons = QWidget()
        row = QHBoxLayout(self.block_buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.enter_button = QPushButton("Edit Inside")
        self.enter_button.setToolTip("Open the block to edit it (or double-click it): every use "
                                     "of it changes")
        self.enter_button.clicked.connect(lambda: self.node and self.enterRequested.emit(self.node))
        self.ungroup_button = QPushButton("Ungroup")
        self.ungroup_button.setToolTip("Put the blocks inside back in its place (Ctrl+Shift+G)")
        self.ungroup_button.clicked.connect(lambda: self.node and self.ungroupRequested.emit(self.node))
        self.save_button = QPushButton("To Library")
        self.save_button.setToolTip("Save this block to your block library, for other projects")
        self.save_button.clicked.connect(
            lambda: self.node and self.saveBlockRequested.emit(self.doc.current.type_of(self.node)))
        for b in (self.enter_button, self.ungroup_button, self.save_button):
            row.addWidget(b)
        row.addStretch(1)
        for w in (self.empty, self.title, self.doc_label, self.block_buttons):
            self.lay.addWidget(w)
        self.lay.addLayout(self.form)
        self.lay.addWidget(self.stats)
        self.lay.addWidget(self.problem)
        self.lay.addLayout(fix_row)
        self.lay.addStretch(1)
        doc.changed.connect(self.refresh)
        doc.graphReplaced.connect(lambda _g: self.set_node(None))
        doc.viewChanged.connect(lambda _g: self.set_node(None))
        self.set_node(None)

    # ---- building --------------------------------------------------------------------------
    def _empty_text(self, count: int) -> str:
        if count > 1:
            text = (f"{count} nodes selected.\n\nDrag to move them; Del deletes them; "
                    f"Ctrl+C / Ctrl+D copies or duplicates them; Ctrl+G groups them into a "
                    f"block of your own.")
        else:
            text = ("Select a node to edit it.\n\nAdd blocks from the palette: drag them "
                    "onto the canvas or double-click them. Connect an output port (right) "
                    "to an input port (left) by dragging.")
        d = self.doc.definition()
        if d is not None:
            uses = self.doc.uses_of(d.name)
            reach = "its one use" if uses == 1 else f"all {uses} uses of it"
            text = (f"Editing the inside of {d.name}: a change here reaches {reach}. Its "
                    f"Input nodes are its input ports.\n\nThe arrow button next to a "
                    f"parameter exposes it as a parameter of {d.name}, so that each use can "
                    f"set its own value. Esc or ⬆ Up goes back.\n\n") + text
        return text

    def set_node(self, node: str | None, count: int = 1) -> None:
        g = self.doc.current
        if node is not None and node not in g.g:
            node = None
        self.node = node
        self._count = count
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors, self.expose_buttons, self.exposed_notes = {}, {}, {}
        self.repeat = None
        has = node is not None
        for w in (self.title, self.doc_label, self.stats):
            w.setVisible(has)
        self.empty.setVisible(not has)
        self.empty.setText(self._empty_text(count))
        self.block_buttons.hide()
        if not has:
            self.problem.hide()
            self.fix_button.hide()
            return
        d = g.node(node)
        spec = g.kind(d["type"])
        inside = self.doc.definition()
        if isinstance(spec, Definition):
            inner = sum(1 for n in spec.body.g.nodes if n not in spec.inputs)
            uses = self.doc.uses_of(spec.name)
            self.title.setText(f"<span style='color:{spec.color}'>▣</span> {spec.type_id}")
            self.doc_label.setText(
                f"Composite block · {node}<br>{inner} block{'s' * (inner != 1)} inside · "
                f"{len(spec.inputs)} input{'s' * (len(spec.inputs) != 1)} · used {uses}×"
                + (f"<br>{_html(spec.doc)}" if spec.doc else "")
                + ("" if spec.exposed else "<br><i>No exposed parameters: open it and use the "
                                           "arrow next to a parameter to expose one.</i>"))
            self.block_buttons.show()
        else:
            color = category_color(spec.category).name()
            self.title.setText(f"<span style='color:{color}'>■</span> {spec.type_id}")
            self.doc_label.setText(f"{spec.category} · {node}<br>{spec.doc}")
        self.doc_label.setTextFormat(Qt.TextFormat.RichText)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("optional name")
        self.label_edit.editingFinished.connect(self._rename)
        self.form.addRow("Label", self.label_edit)
        port = inside is not None and node in inside.inputs
        if port:
            i = inside.inputs.index(node)
            note = QLabel(f"Input port {i + 1} of {inside.name}: its shape is what flows into "
                          f"the use you opened.")
            note.setObjectName("muted")
            note.setWordWrap(True)
            self.form.addRow(note)
        exposed = {}
        if inside is not None:
            exposed = {t: as_name for as_name, ts in inside.exposed.items() for t in ts}
        for p in spec.params:
            ed = ParamEditor(p)
            ed.edited.connect(self._edited)
            name = QLabel(p.name)
            name.setToolTip(p.doc)
            self.editors[p.name] = ed
            if port:
                ed.widget.setEnabled(False)
            if inside is None or port:
                self.form.addRow(name, ed)
                continue
            field = QWidget()
            col = QVBoxLayout(field)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(2)
            line = QHBoxLayout()
            line.setContentsMargins(0, 0, 0, 0)
            line.setSpacing(3)
            line.addWidget(ed, 1)
            b = QToolButton()
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setIcon(expose_icon())
            as_name = exposed.get((node, p.name))
            b.setChecked(as_name is not None)
            b.setToolTip(f"Exposed as {inside.name}.{as_name}: click to stop exposing it"
                         if as_name else f"Expose as a parameter of {inside.name}…, so that "
                                         f"each use of it can set its own {p.name}")
            b.toggled.connect(lambda on, pname=p.name: self.exposeRequested.emit(self.node, pname, on))
            line.addWidget(b, 0, Qt.AlignmentFlag.AlignTop)
            col.addLayout(line)
            if as_name:
                n = QLabel(f"⇡ {inside.name}.{as_name}: each use sets its own value; this one "
                           f"is for new uses")
                n.setObjectName("muted")
                n.setWordWrap(True)
                col.addWidget(n)
                self.exposed_notes[p.name] = n
            self.expose_buttons[p.name] = b
            self.form.addRow(name, field)
        if arity(spec) == "one":
            self.repeat = RepeatEditor()
            self.repeat.edited.connect(self._repeat_edited)
            label = QLabel("Repeat")
            label.setToolTip(self.repeat.widget.toolTip())
            self.form.addRow(label, self.repeat)
        self.refresh()

    def refresh(self) -> None:
        if self.node is None:
            self.empty.setText(self._empty_text(self._count))
            return
        g = self.doc.current
        if self.node not in g.g:
            self.set_node(None)
            return
        d = g.node(self.node)
        if self.label_edit is not None and not self.label_edit.hasFocus():
            self.label_edit.setText(d["label"])
        for name, ed in self.editors.items():
            if ed.error.isVisible() and ed.widget.hasFocus():
                continue
            ed.set_value(d["params"].get(name))
        if self.repeat is not None and not (self.repeat.error.isVisible()
                                            and self.repeat.widget.hasFocus()):
            self.repeat.set_value(d.get("repeat", 1))
        info = g.info.get(self.node)
        if info and info.output_shape is not None:
            extra = self.stats_extra(g, self.node) if self.stats_extra else ""
            self.stats.setText(f"Output <b>{fmt_shape(info.output_shape)}</b><br>"
                               f"{info.params:,} params · {info.macs:,} MACs{extra}")
        elif info and info.blocked:
            self.stats.setText("Not measured: an input before it has a problem.")
        else:
            self.stats.setText("")
        prob = info.problem if info else None
        if prob is None:
            prob = next((p for p in g.graph_problems if p.node == self.node), None)
        self.problem.setVisible(prob is not None)
        self.problem.setText(f"⚠ {prob.message}" if prob else "")
        self._problem = prob
        self.fix_button.setVisible(bool(prob and prob.fix))
        if prob and prob.fix:
            self.fix_button.setText(fix_text(prob.fix))
            self.fix_button.setToolTip(prob.fix.description)

    # ---- edits ------------------------------------------------------------------------------
    def _edited(self, name: str, value) -> None:
        if self.node is None:
            return
        ed = self.editors[name]
        checked, reason = ed.check(value)
        if reason is None:
            reason = self.doc.set_param(self.node, name, checked)
        ed.set_error(reason)

    def _repeat_edited(self, value) -> None:
        if self.node is None or self.repeat is None:
            return
        if isinstance(value, Unreadable):
            self.repeat.set_error(f"repeat: {value.reason}")
            return
        self.repeat.set_error(self.doc.set_repeat(self.node, value))

    def _rename(self) -> None:
        if self.node is not None and self.node in self.doc.current.g and self.label_edit is not None:
            self.doc.rename(self.node, self.label_edit.text().strip())

    def _fix(self) -> None:
        if self._problem is not None:
            self.doc.apply_fix(self._problem)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
