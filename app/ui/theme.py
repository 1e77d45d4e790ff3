"""Look and feel: Fusion with a light or dark palette that follows the system, category
colours, canvas colours and the toolbar icons (SVGs tinted to the palette's text colour)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from resources import ROOT as RESOURCES

ICONS = RESOURCES / "icons"
STYLES = RESOURCES / "styles"

from app.export.style import CATEGORY_COLORS, DEFAULT_COLOR  # one set for canvas and diagrams


def category_color(category: str) -> QColor:
    return QColor(CATEGORY_COLORS.get(category, DEFAULT_COLOR))


@dataclass(frozen=True)
class Colors:
    dark: bool
    background: QColor
    grid: QColor
    node: QColor
    node_border: QColor
    text: QColor
    subtext: QColor
    edge: QColor
    label_bg: QColor
    accent: QColor
    error: QColor
    ok: QColor
    muted_alpha: int


LIGHT = Colors(False, QColor("#F4F5F7"), QColor("#E3E5E9"), QColor("#FFFFFF"), QColor("#C5CAD3"),
               QColor("#1F2329"), QColor("#5F6670"), QColor("#8A93A0"), QColor("#FFFFFF"),
               QColor("#2F7FD8"), QColor("#D93025"), QColor("#1E9150"), 110)
DARK = Colors(True, QColor("#1B1D21"), QColor("#25282D"), QColor("#2A2D33"), QColor("#474C55"),
              QColor("#E6E8EB"), QColor("#A2A9B3"), QColor("#7C8594"), QColor("#2A2D33"),
              QColor("#5AA2F0"), QColor("#F2665C"), QColor("#4CC27E"), 120)


class _Theme(QObject):
    changed = Signal()

    def __init__(self):
        super().__init__()
        self.colors = LIGHT
        self.forced: str | None = None  # "light" | "dark" | None (follow the system)


theme = _Theme()


def colors() -> Colors:
    return theme.colors


def system_is_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    try:
        return app.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return app.palette().window().color().lightness() < 128


def apply_theme(app, mode: str | None = None) -> None:
    """Fusion + palette + style sheet; mode "light"/"dark", or None to follow the system
    (and keep following it). NETCANVAS_THEME=light|dark overrides the system."""
    mode = mode or os.environ.get("NETCANVAS_THEME") or None
    first = theme.forced is None and not getattr(theme, "_hooked", False)
    theme.forced = mode if mode in ("light", "dark") else None
    app.setStyle("Fusion")
    _apply(app)
    if first:
        theme._hooked = True
        try:
            app.styleHints().colorSchemeChanged.connect(lambda *_: _apply(app))
        except AttributeError:
            pass


def _apply(app) -> None:
    dark = theme.forced == "dark" if theme.forced else system_is_dark()
    theme.colors = DARK if dark else LIGHT
    app.setPalette(_palette(dark))
    qss = (STYLES / "app.qss").read_text(encoding="utf-8") if (STYLES / "app.qss").exists() else ""
    c = theme.colors
    subs = {"@border": "#3A3E45" if dark else "#D5D9DF", "@muted": c.subtext.name(),
            "@accent": c.accent.name(), "@error": c.error.name(),
            "@panel": "#23262B" if dark else "#FAFBFC", "@hover": "#30343A" if dark else "#EBEEF2"}
    for k, v in subs.items():
        qss = qss.replace(k, v)
    app.setStyleSheet(qss)
    _icon_cache.clear()
    theme.changed.emit()


def _palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        win, base, alt, text, btn = "#24272C", "#2B2E34", "#2F3238", "#E6E8EB", "#33373E"
        hi, hitext, mid, disabled = "#3D7ACB", "#FFFFFF", "#3A3E45", "#7A818B"
    else:
        win, base, alt, text, btn = "#F3F4F6", "#FFFFFF", "#F6F7F9", "#1F2329", "#F7F8FA"
        hi, hitext, mid, disabled = "#2F7FD8", "#FFFFFF", "#C9CED6", "#9AA1AB"
    R = QPalette.ColorRole
    for role, col in ((R.Window, win), (R.Base, base), (R.AlternateBase, alt),
                      (R.WindowText, text), (R.Text, text), (R.Button, btn),
                      (R.ButtonText, text), (R.Highlight, hi), (R.HighlightedText, hitext),
                      (R.ToolTipBase, base), (R.ToolTipText, text), (R.Mid, mid),
                      (R.PlaceholderText, disabled), (R.Link, "#5AA2F0" if dark else "#1F6FC8"),
                      (R.Light, "#3A3E45" if dark else "#FFFFFF"),
                      (R.Midlight, "#33373D" if dark else "#E3E6EA"),
                      (R.Dark, "#15171A" if dark else "#A9AFB8"),
                      (R.Shadow, "#000000" if dark else "#7A808A")):
        p.setColor(role, QColor(col))
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return p


_icon_cache: dict[str, QIcon] = {}


def icon(name: str) -> QIcon:
    """A toolbar icon drawn from resources/icons/NAME.svg in the palette's text colour."""
    if name in _icon_cache:
        return _icon_cache[name]
    path = ICONS / f"{name}.svg"
    ic = QIcon()
    if path.exists():
        color = colors().text.name()
        svg = path.read_text(encoding="utf-8").replace("currentColor", color)
        renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
        for size in (16, 20, 24, 32, 48, 64):
            pm = QPixmap(size, size)
            pm.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pm)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            renderer.render(painter, QRectF(0, 0, size, size))
            painter.end()
            ic.addPixmap(pm)
    _icon_cache[name] = ic
    return ic


def swatch(color: QColor, size: int = 12, round_: bool = True) -> QIcon:
    """A small filled circle (palette entries) or square (categories)."""
    ic = QIcon()
    for scale in (1, 2):
        pm = QPixmap(size * scale, size * scale)
        pm.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pm)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        r = QRectF(1.5 * scale, 1.5 * scale, (size - 3) * scale, (size - 3) * scale)
        if round_:
            painter.drawEllipse(r)
        else:
            painter.drawRoundedRect(r, 2.5 * scale, 2.5 * scale)
        painter.end()
        pm.setDevicePixelRatio(scale)
        ic.addPixmap(pm)
    return ic


def style_path() -> Path:
    return STYLES / "app.qss"
