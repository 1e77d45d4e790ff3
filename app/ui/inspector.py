"""The inspector: the selected node's label and parameters, one widget per parameter kind.
A value is checked with Param.check before it reaches the model; a refused one stays in
the field with the reason under it, and nothing is applied."""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.graph import fmt_shape
from blocks import get_spec
from blocks.spec import BOOL, CHOICE, FLOAT, INT, KERNEL, PADDING, Param

from .panels import fix_text
from .theme import category_color, icon

INT_LIMIT = 2**31 - 1


def _ints(text: str) -> list[int] | None:
    parts = [p for p in re.split(r"[\s,x×\[\]]+", text.strip()) if p]
    try:
        return [int(p) for p in parts]
    except ValueError:
        return None


def parse_text(kind: str, text: str) -> Any:
    """A typed value from a field's text; what cannot be read goes on as text, for
    Param.check to refuse with its reason."""
    t = text.strip()
    if kind == PADDING:
        if t.lower() in ("same", "valid"):
            return t.lower()
        return int(t) if re.fullmatch(r"-?\d+", t) else t
    nums = _ints(t)
    if nums is None or not nums:
        return t
    if kind == KERNEL:
        return nums[0] if len(nums) == 1 else nums
    return nums  # SHAPE


def show_value(kind: str, value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class ParamEditor(QWidget):
    """One parameter's field and the line under it that says why a value was refused."""
    edited = Signal(str, object)  # name, value (not yet checked)

    def __init__(self, param: Param, parent=None):
        super().__init__(parent)
        self.param = param
        k = param.kind
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.nullable = param.default is None
        if k == INT:
            w = QSpinBox(self)
            lo = int(param.min) if param.min is not None else -INT_LIMIT
            hi = int(param.max) if param.max is not None else INT_LIMIT
            if self.nullable:
                lo -= 1
                w.setSpecialValueText("auto")
            w.setRange(lo, hi)
            w.setKeyboardTracking(False)
            w.setAccelerated(True)
            w.valueChanged.connect(lambda v: self._emit(None if self.nullable and v == w.minimum() else v))
        elif k == FLOAT:
            w = QDoubleSpinBox(self)
            w.setDecimals(3)
            w.setRange(param.min if param.min is not None else -1e9,
                       param.max if param.max is not None else 1e9)
            w.setSingleStep(0.05 if (param.max or 10) <= 1 else 0.1)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(lambda v: self._emit(round(v, 6)))
        elif k == BOOL:
            w = QCheckBox(self)
            w.toggled.connect(self._emit)
        elif k == CHOICE:
            w = QComboBox(self)
            for c in param.choices:
                w.addItem(str(c), c)
            w.activated.connect(lambda i: self._emit(w.itemData(i)))
        elif k == PADDING:
            w = QComboBox(self)
            w.setEditable(True)
            w.addItems(["same", "valid", "0", "1", "2", "3"])
            w.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            w.activated.connect(lambda i: self._emit(parse_text(k, w.itemText(i))))
            w.lineEdit().editingFinished.connect(lambda: self._emit(parse_text(k, w.currentText())))
        else:  # KERNEL, SHAPE
            w = QLineEdit(self)
            w.setPlaceholderText("3 or 3, 5" if k == KERNEL else "C, H, W")
            w.editingFinished.connect(lambda: self._emit(parse_text(k, w.text())))
        self.widget = w
        w.setToolTip(param.doc)
        lay.addWidget(w)
        lay.addWidget(self.error)
        self._value: Any = object()

    def _emit(self, value) -> None:
        self.edited.emit(self.param.name, value)

    def set_value(self, value: Any) -> None:
        """Show the model's value (without sending it back)."""
        self._value = value
        w, k = self.widget, self.param.kind
        w.blockSignals(True)
        try:
            if k == INT:
                w.setValue(w.minimum() if value is None else int(value))
            elif k == FLOAT:
                w.setValue(float(value))
            elif k == BOOL:
                w.setChecked(bool(value))
            elif k == CHOICE:
                w.setCurrentIndex(max(0, w.findData(value)))
            elif k == PADDING:
                w.setCurrentText(show_value(k, value))
            else:
                w.setText(show_value(k, value))
        finally:
            w.blockSignals(False)
        self.set_error(None)

    def set_error(self, reason: str | None) -> None:
        self.error.setText(reason or "")
        self.error.setVisible(bool(reason))
        target = self.widget.lineEdit() if isinstance(self.widget, QComboBox) and self.widget.isEditable() \
            else self.widget
        if isinstance(target, QLineEdit):
            target.setProperty("invalid", bool(reason))
            target.style().unpolish(target)
            target.style().polish(target)


class Inspector(QScrollArea):
    def __init__(self, doc, parent=None):
        super().__init__(parent)
        self.doc = doc
        self.node: str | None = None
        self.editors: dict[str, ParamEditor] = {}
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
        self.empty = QLabel("Select a node to edit it.\n\nAdd blocks from the palette: drag them "
                            "onto the canvas or double-click them. Connect an output port (right) "
                            "to an input port (left) by dragging.")
        self.empty.setObjectName("muted")
        self.empty.setWordWrap(True)
        for w in (self.empty, self.title, self.doc_label):
            self.lay.addWidget(w)
        self.lay.addLayout(self.form)
        self.lay.addWidget(self.stats)
        self.lay.addWidget(self.problem)
        self.lay.addLayout(fix_row)
        self.lay.addStretch(1)
        doc.changed.connect(self.refresh)
        doc.graphReplaced.connect(lambda _g: self.set_node(None))
        self.set_node(None)

    # ---- building --------------------------------------------------------------------------
    def set_node(self, node: str | None, count: int = 1) -> None:
        if node is not None and node not in self.doc.graph.g:
            node = None
        self.node = node
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors = {}
        has = node is not None
        for w in (self.title, self.doc_label, self.stats):
            w.setVisible(has)
        self.empty.setVisible(not has)
        if count > 1:
            self.empty.setText(f"{count} nodes selected.\n\nDrag to move them; Del deletes them; "
                               f"Ctrl+C / Ctrl+D copies or duplicates them.")
        if not has:
            self.problem.hide()
            self.fix_button.hide()
            return
        d = self.doc.graph.node(node)
        spec = get_spec(d["type"])
        color = category_color(spec.category).name()
        self.title.setText(f"<span style='color:{color}'>■</span> {spec.type_id}")
        self.doc_label.setText(f"{spec.category} · {node}<br>{spec.doc}")
        self.doc_label.setTextFormat(Qt.TextFormat.RichText)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("optional name")
        self.label_edit.editingFinished.connect(self._rename)
        self.form.addRow("Label", self.label_edit)
        for p in spec.params:
            ed = ParamEditor(p)
            ed.edited.connect(self._edited)
            name = QLabel(p.name)
            name.setToolTip(p.doc)
            self.form.addRow(name, ed)
            self.editors[p.name] = ed
        self.refresh()

    def refresh(self) -> None:
        if self.node is None:
            return
        g = self.doc.graph
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
        info = g.info.get(self.node)
        if info and info.output_shape is not None:
            self.stats.setText(f"Output <b>{fmt_shape(info.output_shape)}</b><br>"
                               f"{info.params:,} params · {info.macs:,} MACs")
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
    def _edited(self, name: str, value: Any) -> None:
        if self.node is None:
            return
        ed = self.editors[name]
        checked, reason = ed.param.check(value)
        if reason is None:
            reason = self.doc.set_param(self.node, name, checked)
        ed.set_error(reason)

    def _rename(self) -> None:
        if self.node is not None and self.node in self.doc.graph.g and self.label_edit is not None:
            self.doc.rename(self.node, self.label_edit.text().strip())

    def _fix(self) -> None:
        if self._problem is not None:
            self.doc.apply_fix(self._problem)
