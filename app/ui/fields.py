"""The inspector's fields: one per parameter kind, and Repeat ×N. A field never changes what
the user typed: a number out of range or text that is not a number stays in the field, the
line under it says why (with the limit), and nothing reaches the model until it is valid.
(Qt's spin boxes ate the digit past the maximum and ignored letters without a word.)"""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.graph.composite import MAX_REPEAT
from blocks.spec import (
    BOOL,
    CHOICE,
    FLOAT,
    INT,
    KERNEL,
    LEVELS,
    PADDING,
    PADS,
    PAIR,
    SHAPE,
    Param,
)


class _WheelGuard(QObject):
    """The mouse wheel over a field that does not have the focus scrolls the panel around
    it; it never changes the value (Qt's combo and spin boxes take any wheel turn)."""

    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Wheel and not obj.hasFocus():
            area = obj.parent()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parent()
            if area is not None:
                QApplication.sendEvent(area.verticalScrollBar(), ev.clone())
            return True
        return False


_GUARD: _WheelGuard | None = None


def guard_wheel(widget) -> None:
    """Let `widget` take the wheel only once clicked or tabbed into."""
    global _GUARD
    if _GUARD is None:
        _GUARD = _WheelGuard()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_GUARD)


class Unreadable(str):
    """Typed text that is not a value, with what was wrong with it (for the error line)."""

    def __new__(cls, text: str, reason: str):
        s = super().__new__(cls, text)
        s.reason = reason
        return s


def _number(token: str, whole: bool):
    try:
        return int(token) if whole else float(token)
    except ValueError:
        return None


def read_numbers(text: str, whole: bool = True) -> list | Unreadable:
    """"3, 32, 32", "3 32 32", "[3, 32, 32]" or "3x32x32" → numbers; anything else says
    which part is not a number (an "x" between numbers separates them, a lone "x" does not)."""
    t = re.sub(r"(?<=\d)\s*[x×]\s*(?=\d)", ",", text.strip())
    parts = [p for p in re.split(r"[\s,\[\]]+", t) if p]
    out = []
    for p in parts:
        v = _number(p, whole)
        if v is None:
            kind = "whole number" if whole else "number"
            return Unreadable(text.strip(), f"{p!r} is not a {kind}")
        out.append(v)
    return out


def parse_text(kind: str, text: str) -> Any:
    """A typed value from a field's text; what cannot be read comes back as Unreadable."""
    t = text.strip()
    if kind == PADDING:
        if t.lower() in ("same", "valid"):
            return t.lower()
        if re.fullmatch(r"-?\d+", t):
            return int(t)
        nums = read_numbers(t)
        if not isinstance(nums, Unreadable) and len(nums) == 2:
            return nums  # [h, w]: Param.check judges the range
        return Unreadable(t, f"{t!r} is not \"same\", \"valid\", a whole number or h, w")
    if kind in (INT, FLOAT):
        v = _number(t, kind == INT)
        if v is None and kind == INT and _number(t, False) is not None:
            return float(t)  # 2.5: Param.check says it must be whole
        return v if v is not None else Unreadable(t, f"{t!r} is not a {'whole ' * (kind == INT)}number")
    nums = read_numbers(t)
    if isinstance(nums, Unreadable):
        return nums
    if not nums:
        return Unreadable(t, "nothing was typed")
    if kind in (KERNEL, PADS, PAIR):
        return nums[0] if len(nums) == 1 else nums
    return nums  # SHAPE, LEVELS


_PLACEHOLDERS = {KERNEL: "3 or 3, 5", SHAPE: "C, H, W", PADS: "1 or left, right, top, bottom",
                 LEVELS: "1, 2, 4"}


def show_value(kind: str, value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


class NumberField(QLineEdit):
    """A number typed freely: Up/Down and the wheel (while focused) step within the limits;
    Enter or leaving the field sends what was typed, even when it is refused."""
    valueChanged = Signal(object)  # a number, None ("auto") or Unreadable text

    def __init__(self, whole: bool, lo, hi, nullable: bool = False, step: float = 1,
                 prefix: str = "", parent=None):
        super().__init__(parent)
        self.whole, self.lo, self.hi, self.nullable, self.step = whole, lo, hi, nullable, step
        self.prefix = prefix
        self._value = None
        self.setPlaceholderText("auto" if nullable else "")
        self.editingFinished.connect(self._typed)

    def minimum(self):
        return self.lo

    def maximum(self):
        return self.hi

    def value(self):
        return self._value

    def _show(self, v) -> str:
        if v is None:
            return "auto" if self.nullable else ""
        return self.prefix + (str(v) if self.whole else f"{v:g}")

    def setValue(self, v) -> None:
        """Show v and send it on (as QSpinBox.setValue does)."""
        self._value = v
        self.setText(self._show(v))
        self.valueChanged.emit(v)

    def read(self):
        t = self.text().strip()
        if self.prefix and t.startswith(self.prefix):
            t = t[len(self.prefix):].strip()
        if self.nullable and t.lower() in ("", "auto"):
            return None
        return parse_text(INT if self.whole else FLOAT, t)

    def _typed(self) -> None:
        v = self.read()
        if isinstance(v, Unreadable) or v != self._value:
            if not isinstance(v, Unreadable):
                self._value = v
            self.valueChanged.emit(v)

    def _step(self, k: int) -> None:
        v = self.read()
        if isinstance(v, Unreadable) or v is None:
            v = self.lo if self.lo is not None else 0
        else:
            v = v + k * self.step
        if self.lo is not None:
            v = max(self.lo, v)
        if self.hi is not None:
            v = min(self.hi, v)
        self.setValue(int(v) if self.whole else round(v, 6))

    def keyPressEvent(self, ev):
        if ev.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self._step(1 if ev.key() == Qt.Key.Key_Up else -1)
            ev.accept()
            return
        super().keyPressEvent(ev)

    def wheelEvent(self, ev):
        if self.hasFocus() and ev.angleDelta().y():
            self._step(1 if ev.angleDelta().y() > 0 else -1)
            ev.accept()
            return
        super().wheelEvent(ev)


class _Field(QWidget):
    """A widget with the line under it that says why a value was refused."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.lay.setSpacing(2)
        self.error = QLabel(self)
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

    def _place(self, w) -> None:
        self.widget = w
        self.lay.addWidget(w)
        self.lay.addWidget(self.error)

    def set_error(self, reason: str | None) -> None:
        self.error.setText(reason or "")
        self.error.setVisible(bool(reason))
        w = self.widget
        target = w.lineEdit() if isinstance(w, QComboBox) and w.isEditable() else w
        if isinstance(target, QLineEdit):
            target.setProperty("invalid", bool(reason))
            target.style().unpolish(target)
            target.style().polish(target)


class ParamEditor(_Field):
    """One parameter's field."""
    edited = Signal(str, object)  # name, value (not yet checked; Unreadable for bad text)

    def __init__(self, param: Param, parent=None):
        super().__init__(parent)
        self.param = param
        k = param.kind
        self.nullable = param.default is None
        if k in (INT, FLOAT):
            step = 1 if k == INT else (0.05 if (param.max or 10) <= 1 else 0.1)
            w = NumberField(k == INT, param.min, param.max, self.nullable, step, parent=self)
            w.valueChanged.connect(self._emit)
        elif k == BOOL:
            w = QCheckBox(self)
            w.toggled.connect(self._emit)
        elif k == CHOICE:
            w = QComboBox(self)
            for c in param.choices:  # true / false as the file writes them (a conv's bias)
                w.addItem(str(c).lower() if isinstance(c, bool) else str(c), c)
            w.activated.connect(lambda i: self._emit(w.itemData(i)))
        elif k == PADDING:
            w = QComboBox(self)
            w.setEditable(True)
            w.addItems(["same", "valid", "0", "1", "2", "3"])
            w.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
            w.activated.connect(lambda i: self._emit(parse_text(k, w.itemText(i))))
            w.lineEdit().editingFinished.connect(lambda: self._emit(parse_text(k, w.currentText())))
        else:  # KERNEL, PAIR, SHAPE, PADS, LEVELS: numbers typed in a line
            w = QLineEdit(self)
            if k == PAIR:
                w.setPlaceholderText("auto, 2 or 2, 1" if self.nullable else "2 or 2, 1")
            else:
                w.setPlaceholderText(_PLACEHOLDERS.get(k, "C, H, W") if not self.nullable
                                     else "empty: not set")
            w.editingFinished.connect(lambda: self._emit(self._read_line(w.text())))
        if isinstance(w, QComboBox):
            guard_wheel(w)
        w.setToolTip(param.doc)
        self._place(w)

    def _emit(self, value) -> None:
        self.edited.emit(self.param.name, value)

    def _read_line(self, text: str) -> Any:
        if self.nullable and text.strip().lower() in ("", "auto"):
            return None  # e.g. a pool's stride: the same as its window
        return parse_text(self.param.kind, text)

    def check(self, value) -> tuple[Any, str | None]:
        """(value for the model, None) or (None, why not), saying what was wrong with text."""
        if isinstance(value, Unreadable):
            return None, f"{self.param.name}: {value.reason}"
        return self.param.check(value)

    def set_value(self, value: Any) -> None:
        """Show the model's value (without sending it back)."""
        w, k = self.widget, self.param.kind
        w.blockSignals(True)
        try:
            if k in (INT, FLOAT):
                w.setValue(value)
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


class RepeatEditor(_Field):
    """Repeat ×N (1..64)."""
    edited = Signal(object)  # a whole number (not yet checked) or Unreadable text

    def __init__(self, parent=None):
        super().__init__(parent)
        w = NumberField(True, 1, MAX_REPEAT, prefix="×", parent=self)
        w.setToolTip("Run this block N times in a row, as N independent copies: the "
                     "first may change the shape (e.g. stride 2), the others then "
                     "see the new shape. One node on the canvas, N in the model.")
        w.valueChanged.connect(self.edited.emit)
        self._place(w)

    def set_value(self, value: int) -> None:
        self.widget.blockSignals(True)
        self.widget.setValue(int(value))
        self.widget.blockSignals(False)
        self.set_error(None)
