"""The editor window: palette, canvas (with a breadcrumb bar while a composite block is
open), inspector, summary and problems panels, menus, a toolbar and a status bar with the
totals."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from app.graph import NetGraph, fmt_shape
from app.summary import human

from . import files, safety
from .composite_ops import BreadcrumbBar, CompositeOpsMixin
from .document import Document
from .edit_ops import EditOpsMixin
from .export_ops import ExportMixin
from .diff_panel import install as install_diff_panel
from .file_ops import FileOpsMixin
from .import_dialog import ImportMixin
from .insight import MemoryStatus, node_insight_html
from .inspector import Inspector
from .layout import auto_positions
from .palette import Palette
from .panels import ProblemsPanel, SummaryPanel
from .scene import GraphScene
from .theme import apply_theme, icon, theme
from .view import CanvasView
from .weights_ops import WeightsMixin

SHORTCUTS = [
    ("Add a block", "drag it from the palette, or double-click it (connects to the selected node)"),
    ("Connect", "drag from an output port (right) to an input port (left) or onto a node"),
    ("Disconnect", "drag an edge off its input port, or click the edge and press Del"),
    ("Delete", "Del / Backspace"), ("Copy / Cut / Paste", "Ctrl+C / Ctrl+X / Ctrl+V"),
    ("Duplicate", "Ctrl+D"), ("Select all", "Ctrl+A"), ("Undo / Redo", "Ctrl+Z / Ctrl+Shift+Z"),
    ("Zoom", "mouse wheel (around the cursor), Ctrl++ / Ctrl+−, Ctrl+0 = 100 %"),
    ("Pan", "middle-drag, or hold Space and drag"), ("Fit all", "F"),
    ("Auto-layout", "Ctrl+L"), ("Find a node", "Ctrl+F"), ("Search blocks", "Ctrl+Shift+F"),
    ("Quick add", ("double-click the empty canvas, Tab or Shift+A; or let a wire go on "
                   "empty canvas (blocks that take its shape first)")),
    ("Dissolve", "Ctrl+Del: delete and join the neighbours"),
    ("Splice", "drop a palette block on an edge"), ("Cut wires", "Ctrl + right-drag across them"),
    ("Group into a block / Ungroup", "Ctrl+G / Ctrl+Shift+G"),
    ("Edit a block inside", "double-click it (Ctrl+E); Esc or ⬆ Up goes back"),
    ("New / Open / Save", "Ctrl+N / Ctrl+O / Ctrl+S (Save As: Ctrl+Shift+S)"),
    ("Import a model", "Ctrl+I, or drop an .onnx or .py file on the window"),
]


class MainWindow(ImportMixin, WeightsMixin, EditOpsMixin, FileOpsMixin, ExportMixin,
                 CompositeOpsMixin, QMainWindow):
    def __init__(self, graph: NetGraph | None = None, path=None, example: bool = True,
                 recover: bool = False):
        super().__init__()
        self.setObjectName("NetCanvasMain")
        self.doc = Document(parent=self)
        safety.install(self)  # a bug in an edit: a dialog, and the project as it was
        self.scene = GraphScene(self.doc, self)
        self.view = CanvasView(self.scene, self)
        self.breadcrumb = BreadcrumbBar(self)
        self.breadcrumb.hide()
        center = QWidget(self)
        lay = QVBoxLayout(center)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.breadcrumb)
        lay.addWidget(self.view)
        self.setCentralWidget(center)
        self.setAcceptDrops(True)
        self.setWindowIcon(icon("app"))
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_docks()
        self._build_actions()
        self._build_status()
        self._build_weights_ui()
        self._build_import_ui()
        self.diff_panel = install_diff_panel(self)
        self._connect()
        self.start_autosave()
        if graph is not None:
            self.doc.replace(graph, path)
            if path:
                self.attach_sidecar_weights(path, dialog=False)
            if graph.load_notes:  # a block renamed on the way in: said once, here
                self.show_status(" ".join(graph.load_notes), 20000)
        elif example:
            self.open_example()
        self.update_title()
        self.update_recent_menu()
        if recover:
            self.offer_recovery()
        self.resize(1400, 850)
        self.view.setFocus()
        self.fit_soon()

    # ---- dialogs (tests replace these) -------------------------------------------------------
    def ask(self, title: str, text: str, buttons: list[str]) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        made = {}
        for i, label in enumerate(buttons):
            role = (QMessageBox.ButtonRole.AcceptRole if i == 0 else
                    QMessageBox.ButtonRole.RejectRole if label == "Cancel" else
                    QMessageBox.ButtonRole.DestructiveRole)
            made[box.addButton(label, role)] = label
        box.setDefaultButton(next(iter(made)))
        if not self.isVisible():  # at start-up (recovery): centred on the screen, not its corner
            box.adjustSize()
            screen = self.screen() or QApplication.primaryScreen()
            box.move(screen.availableGeometry().center() - box.rect().center())
        box.exec()
        return made.get(box.clickedButton(), buttons[-1])

    def warn(self, title: str, text: str) -> None:
        QMessageBox.warning(self, title, text)

    def info(self, title: str, text: str) -> None:
        QMessageBox.information(self, title, text)

    def open_path(self, caption: str, filt: str) -> str:
        return QFileDialog.getOpenFileName(self, caption, "", filt)[0]

    def save_path(self, caption: str, filt: str, suggested: str) -> str:
        return QFileDialog.getSaveFileName(self, caption, suggested, filt)[0]

    # ---- building ----------------------------------------------------------------------------
    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        L, R, B = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                   Qt.DockWidgetArea.BottomDockWidgetArea)
        self.palette = Palette(self)
        self.inspector = Inspector(self.doc, self)
        self.summary = SummaryPanel(self.doc, self)
        self.problems = ProblemsPanel(self.doc, self)
        self.palette_dock = self._dock("Blocks", "palette", self.palette, L)
        self.inspector_dock = self._dock("Inspector", "inspector", self.inspector, R)
        self.problems_dock = self._dock("Problems", "problems", self.problems, R)
        self.summary_dock = self._dock("Summary", "summary", self.summary, B)
        self.setCorner(Qt.Corner.BottomLeftCorner, L)
        self.setCorner(Qt.Corner.BottomRightCorner, R)
        # the Train panel needs torch: its dock gets it when first shown (ensure_train_panel)
        self.train_panel = None
        self.train_dock = self._dock("Train", "train", QWidget(self), B)
        self.tabifyDockWidget(self.summary_dock, self.train_dock)
        self.summary_dock.raise_()
        self.train_dock.visibilityChanged.connect(lambda shown: shown and self.ensure_train_panel())
        self._docks_sized_for = None
        self.train_dock.visibilityChanged.connect(
            lambda shown: shown and QTimer.singleShot(0, self.size_docks))
        self.size_docks()

    def size_docks(self) -> None:
        """Dock sizes that suit the window: palette and inspector a fixed share of the
        width, the bottom docks of the height, tall enough for the Train panel's Start
        button when that tab is in front; Problems under the inspector."""
        W, H = max(self.width(), 800), max(self.height(), 500)
        self._docks_sized_for = (self.width(), self.height())

        def clamp(v, lo, hi):
            return round(max(lo, min(hi, v)))
        self.resizeDocks([self.palette_dock, self.inspector_dock],
                         [clamp(W * 0.17, 200, 300), clamp(W * 0.19, 250, 360)],
                         Qt.Orientation.Horizontal)
        bottom = clamp(H * 0.22, 150, 300)
        if not self.train_dock.visibleRegion().isEmpty():
            bottom = max(bottom, clamp(H * 0.32, 220, 380))  # settings and Start both show
        self.resizeDocks([self.summary_dock], [bottom], Qt.Orientation.Vertical)
        side = H - bottom - 120
        self.resizeDocks([self.inspector_dock, self.problems_dock],
                         [clamp(side * 0.7, 200, 2000), clamp(side * 0.3, 100, 600)],
                         Qt.Orientation.Vertical)
        if self.view.fitted:  # a view the user has not zoomed or panned fits again
            QTimer.singleShot(0, lambda: self.view.fitted and self.view.fit_all())

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        last = self._docks_sized_for
        if last is None or abs(last[0] - self.width()) > 80 or abs(last[1] - self.height()) > 80:
            QTimer.singleShot(0, self.size_docks)  # shrunk or grown: sensible sizes again

    def _act(self, text, slot, shortcut=None, icon_name=None, tip=None, canvas=False) -> QAction:
        """An action; `canvas` ones (single keys: Del, F, M) work only while the canvas has
        the focus, so that typing in the inspector never deletes or zooms."""
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        if icon_name:
            a.setIcon(icon(icon_name))
            a.setData(icon_name)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        if canvas:
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(a)
        else:
            self.addAction(a)
        return a

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.new_action = self._act("&New", self.new_document, K.New, "new", "New empty network")
        self.open_action = self._act("&Open…", self.open_file, K.Open, "open", "Open a project")
        self.save_action = self._act("&Save", self.save, K.Save, "save", "Save the project")
        self.save_as_action = self._act("Save &As…", self.save_as, K.SaveAs)
        self.name_action = self._act("Project &Name…", self.ask_project_name,
                                     tip="Name the network (shown in the title bar and exports)")
        self.quit_action = self._act("&Quit", self.close, K.Quit)
        self.undo_action = self.doc.stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(K.Undo)
        self.undo_action.setIcon(icon("undo"))
        self.undo_action.setData("undo")
        self.redo_action = self.doc.stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence(K.Redo), QKeySequence("Ctrl+Shift+Z")]
                                      if QKeySequence(K.Redo) != QKeySequence("Ctrl+Shift+Z")
                                      else [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("redo"))
        self.redo_action.setData("redo")
        self.addActions([self.undo_action, self.redo_action])
        self.cut_action = self._act("Cu&t", self.cut, K.Cut, "cut")
        self.copy_action = self._act("&Copy", self.copy, K.Copy, "copy")
        self.paste_action = self._act("&Paste", self.paste, K.Paste, "paste")
        self.duplicate_action = self._act("&Duplicate", self.duplicate, "Ctrl+D")
        self.delete_action = self._act("&Delete", self.delete_selection,
                                       [QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)],
                                       "delete", "Delete the selected nodes and connections", canvas=True)
        self.dissolve_action = self._act(
            "Dissol&ve", self.dissolve_selection, ["Ctrl+Del", "Ctrl+Backspace"],
            tip="Delete the selected nodes and join their neighbours where the shapes allow "
                "(Ctrl+Del)", canvas=True)
        self.quick_add_action = self._act(
            "&Quick Add…", lambda: self.quick_add(self.view.cursor_scene_pos()), "Shift+A",
            tip="Search a block and add it at the mouse (Tab, Shift+A, or double-click the "
                "empty canvas)", canvas=True)
        self.find_action = self._act("&Find Node…", self.find_node, K.Find,
                                     tip="Find a node by id, label or type and centre on it")
        self.select_all_action = self._act("Select &All", self.select_all, K.SelectAll)
        self.layout_action = self._act("Auto-&layout", self.auto_layout, "Ctrl+L", "layout",
                                       "Arrange the network in layers, left to right")
        self.fit_action = self._act("&Fit All", lambda: self.view.fit_all(), "F", "fit",
                                    "Show the whole network (F)", canvas=True)
        self.zoom_in_action = self._act("Zoom &In", lambda: self.view.set_zoom(self.view.zoom() * 1.25),
                                        [QKeySequence(K.ZoomIn), QKeySequence("Ctrl+=")], "zoom_in")
        self.zoom_out_action = self._act("Zoom &Out", lambda: self.view.set_zoom(self.view.zoom() / 1.25),
                                         K.ZoomOut, "zoom_out")
        self.zoom_reset_action = self._act("&Actual Size", lambda: self.view.set_zoom(1.0), "Ctrl+0")
        self.search_action = self._act("Search Blocks", self._focus_search, "Ctrl+Shift+F")
        self.minimap_action = self._act("&Minimap", self._toggle_minimap, "M", "minimap", "Show the overview",
                                        canvas=True)
        self.minimap_action.setCheckable(True)
        mm = self.view.minimap
        mm.set_corner(str(files.settings().value("minimap/corner", "bottom-right")))
        self.minimap_action.setChecked(files.settings().value("minimap/shown", "true") != "false")
        mm.setVisible(self.minimap_action.isChecked())
        mm.cornerChanged.connect(lambda c: files.settings().setValue("minimap/corner", c))
        mm.hideRequested.connect(lambda: (self.minimap_action.setChecked(False), self._toggle_minimap()))
        self._build_composite_actions()
        self.export_python_action = self._act("&Python…", self.export_python)
        self.export_onnx_action = self._act("&ONNX…", self.export_onnx)
        self.export_diagram_action = self._act("&Diagram (SVG/PNG/PDF)…", self.export_diagram)
        self.export_diagram_x_action = self._act("Diagram, Blocks &Expanded…",
                                                 lambda: self.export_diagram(expanded=True))
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.new_action])
        tm = m.addMenu("New from &Template")
        from resources import templates
        for name in templates():
            tm.addAction(name, lambda n=name: self.new_document(n))
        m.addAction(self.open_action)
        self.recent_menu = m.addMenu("Open &Recent")
        m.addSeparator()
        m.addActions([self.save_action, self.save_as_action, self.name_action])
        m.addSeparator()
        em = m.addMenu("&Export")
        em.setIcon(icon("export"))
        em.addActions([self.export_python_action, self.export_onnx_action,
                       self.export_diagram_action, self.export_diagram_x_action])
        self.export_menu = em
        m.addSeparator()
        m.addAction(self.quit_action)
        m = mb.addMenu("&Edit")
        m.addActions([self.undo_action, self.redo_action])
        m.addSeparator()
        m.addActions([self.cut_action, self.copy_action, self.paste_action, self.duplicate_action,
                      self.delete_action, self.dissolve_action])
        m.addSeparator()
        m.addActions([self.quick_add_action, self.find_action])
        m.addActions([self.select_all_action, self.layout_action, self.search_action])
        self._composite_menu(m)
        m = mb.addMenu("&View")
        m.addActions([self.fit_action, self.zoom_in_action, self.zoom_out_action,
                      self.zoom_reset_action])
        m.addSeparator()
        m.addAction(self.minimap_action)
        for dock in self.findChildren(QDockWidget):
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        th = m.addMenu("&Theme")
        for label, mode in (("Follow the system", None), ("Light", "light"), ("Dark", "dark")):
            th.addAction(label, lambda mode=mode: self.set_theme(mode))
        m = mb.addMenu("&Help")
        m.addAction("&Keyboard and Mouse", self.show_shortcuts)
        m.addAction("&About NetCanvas", lambda: self.info(
            "About NetCanvas", "NetCanvas: draw convolutional networks, see every shape live, "
                               "train them and export them to PyTorch or ONNX."))
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        tb.addActions([self.new_action, self.open_action, self.save_action])
        tb.addSeparator()
        tb.addActions([self.undo_action, self.redo_action, self.delete_action])
        tb.addSeparator()
        tb.addActions([self.layout_action, self.fit_action, self.zoom_in_action, self.zoom_out_action,
                       self.minimap_action])
        self.addToolBar(tb)
        self.toolbar = tb

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.status_nodes = QLabel()
        self.status_params = QLabel()
        self.status_macs = QLabel()
        self.status_output = QLabel()
        self.status_problems = QLabel()
        self.status_zoom = QLabel("100%")
        self.memory_status = MemoryStatus(self.doc, self.train_panel, self)
        for w in (self.status_nodes, self.status_params, self.status_macs, self.status_output,
                  self.memory_status, self.status_problems, self.status_zoom):
            sb.addPermanentWidget(w)
        # the inspector adds the node's receptive field and training memory to its numbers
        self.inspector.stats_extra = lambda g, n: node_insight_html(
            g, n, self.memory_status.estimate if g is self.doc.graph else None)
        self.memory_status.estimated.connect(lambda _est: self.inspector.refresh())

    def _connect(self) -> None:
        self.doc.changed.connect(self.update_totals)
        self.doc.modifiedChanged.connect(lambda _m: self.update_title())
        self.doc.nameChanged.connect(lambda _n: self.update_title())
        self.doc.graphReplaced.connect(self._graph_replaced)
        self.doc.message.connect(self.show_status)
        self.scene.status.connect(lambda text: self.show_status(text, 8000) if text
                                  else self.statusBar().clearMessage())
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.context_menu = self._context_menu
        self.view.zoomChanged.connect(lambda z: self.status_zoom.setText(f"{z * 100:.0f}%"))
        self.view.filesDropped.connect(self.open_dropped)
        self.palette.blockActivated.connect(self.add_block)
        self.scene.quickAddRequested.connect(self.quick_add)
        self.view.tabPressed.connect(self.quick_add_action.trigger)
        self.summary.nodeClicked.connect(self.reveal_top)
        self.problems.nodeClicked.connect(self.reveal_top)
        theme.changed.connect(self._restyle)
        if self.train_panel is not None:
            self.train_panel.set_graph(self.doc.graph)
        self._connect_composite()

    def ensure_train_panel(self):
        """The Train panel, made on first use (its import loads torch); None if it cannot be."""
        if self.train_panel is None:
            try:
                from app.ui.train_panel import TrainPanel
                self.train_panel = TrainPanel(self)
            except Exception as exc:  # noqa: BLE001 - the editor works without it
                self._train_error = exc
                self.train_dock.setWidget(QLabel(f"Training is not available: {exc}"))
                return None
            self.train_dock.setWidget(self.train_panel)
            self.train_panel.set_graph(self.doc.graph)
            self.memory_status.follow(self.train_panel)
        return self.train_panel

    # ---- state shown -------------------------------------------------------------------------
    def update_title(self) -> None:
        name = self.doc.graph.name
        if self.doc.path and self.doc.path.stem != name:
            name = f"{name} ({self.doc.path.name})"
        self.setWindowTitle(f"{name.replace('[*]', '[ *]')}[*] — NetCanvas")
        self.setWindowModified(self.doc.is_modified())
        if not self.doc.is_modified():
            self.autosave.remove()

    def update_totals(self) -> None:
        g = self.doc.graph
        t = g.totals()
        n = g.g.number_of_nodes()
        self.status_nodes.setText(f"{n} node{'s' * (n != 1)}")
        self.status_params.setText(f"{human(t['total_params'])} params")
        self.status_params.setToolTip(f"{t['total_params']:,} parameters")
        self.status_macs.setText(f"{human(t['total_macs'])} MACs")
        self.status_macs.setToolTip(f"{t['total_macs']:,} multiply-accumulates per sample")
        self.status_output.setText("output " + (fmt_shape(tuple(t["output_shape"]))
                                                if t["output_shape"] else "?"))
        k = len(g.problems())
        self.status_problems.setText(f"⚠ {k} problem{'s' * (k != 1)}" if k else "✓ no problems")
        self.status_problems.setStyleSheet(f"color: {'#D93025' if k else ''}")
        self.problems_dock.setWindowTitle(f"Problems ({k})" if k else "Problems")

    def show_status(self, text: str, ms: int = 6000) -> None:
        self.statusBar().showMessage(text, ms)

    def _graph_replaced(self, graph) -> None:
        self.update_title()
        if self.train_panel is not None:
            self.train_panel.set_graph(graph)

    def _selection_changed(self) -> None:
        nodes = self.scene.selected_nodes()
        if len(nodes) == 1:
            if self.inspector.node != nodes[0]:
                self.inspector.set_node(nodes[0])
        else:
            self.inspector.set_node(None, count=len(nodes))
        here = [inst for _, inst in self.doc.trail]
        self.summary.select_paths([here + [n] for n in nodes])
        has = bool(nodes)
        for a in (self.cut_action, self.copy_action, self.duplicate_action):
            a.setEnabled(has)
        self.delete_action.setEnabled(has or bool(self.scene.selected_edges()))
        self._update_composite_actions(nodes)

    def _restyle(self) -> None:
        for a in self.findChildren(QAction):
            if isinstance(a.data(), str):
                a.setIcon(icon(a.data()))
        self.problems.refresh()
        self.summary.refresh()
        self.view.viewport().update()

    def set_theme(self, mode: str | None) -> None:
        apply_theme(QApplication.instance(), mode)

    def fit_soon(self) -> None:
        """Fit the whole document in view once the window has its size (zoomed out, the
        nodes keep readable names; an empty one is shown at 100 %)."""
        QTimer.singleShot(0, self.view.fit_all)

    def reveal_top(self, node: str) -> None:
        """A node of the network (problem and summary clicks): leave any open block first."""
        if self.doc.trail:
            self.doc.go_to([])
        self.reveal(node)

    def reveal(self, node: str) -> None:
        """Select a node of the graph shown and centre the canvas on it."""
        item = self.scene.nodes.get(node)
        if item is None:
            return
        self.scene.select_nodes([node])
        self.view.center_on_node(item)

    def auto_layout(self) -> None:
        self.doc.layout(auto_positions(self.doc.current))
        self.fit_soon()

    def _focus_search(self) -> None:
        self.palette_dock.show()
        self.palette.search.setFocus()
        self.palette.search.selectAll()

    def _toggle_minimap(self) -> None:
        shown = self.minimap_action.isChecked()
        self.view.minimap.setVisible(shown)
        files.settings().setValue("minimap/shown", "true" if shown else "false")

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{a}</b>&nbsp;&nbsp;</td><td>{b}</td></tr>" for a, b in SHORTCUTS)
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard and mouse")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{rows}</table>")
        box.show()
