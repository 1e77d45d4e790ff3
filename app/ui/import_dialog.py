"""File ▸ Import… (Ctrl+I) and dropping an .onnx or .py file on the window: a model from
elsewhere (app.importers) opens as a new, unsaved document with its weights attached.

The import runs in a worker thread (it may trace a large model, or run the user's own code
at their request): the window stays responsive, a busy bar shows in the status bar, and
the result comes back through a queued signal. A refusal is the importer's one line in a
message box; anything else that goes wrong is said in one line too, never a traceback.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

IMPORT_FILTER = "Models (*.onnx *.py);;ONNX models (*.onnx);;Python files (*.py);;All files (*)"


def parse_request(source: str, name: str, kwargs: str, shape: str
                  ) -> tuple[str, list[int] | None, dict[str, Any] | None]:
    """The dialog's fields → import_source's arguments; ValueError says what is wrong."""
    source = source.strip()
    name = name.strip()
    if not source:
        raise ValueError("give an .onnx file, a .py file, or package.module:callable")
    is_py = source.lower().endswith(".py")
    if is_py:
        if not name:
            raise ValueError(f"{Path(source).name}: give the name of the class or factory "
                             f"in it to import")
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a Python name (a class or function in the file)")
        source = f"{source}:{name}"
    elif ":" not in source and not source.lower().endswith(".onnx"):
        raise ValueError(f"{source!r}: give an .onnx file, a .py file with a class name, or "
                         f"package.module:callable (e.g. torchvision.models:resnet18)")
    args = None
    if kwargs.strip():
        try:
            args = json.loads(kwargs)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the keyword arguments are not JSON ({exc.msg} at column "
                             f"{exc.colno}); e.g. {{\"num_classes\": 10}}") from None
        if not isinstance(args, dict):
            raise ValueError("the keyword arguments must be a JSON object, e.g. "
                             "{\"num_classes\": 10}")
    dims = None
    if shape.strip():
        if not re.fullmatch(r"\s*\d+(\s*[,x×]\s*\d+)*\s*", shape):
            raise ValueError(f"the input shape {shape.strip()!r} is not whole numbers "
                             f"like 3,224,224")
        dims = [int(v) for v in re.split(r"\s*[,x×]\s*", shape.strip())]
        if not dims or any(d <= 0 for d in dims):
            raise ValueError(f"the input shape {shape.strip()!r} needs positive sizes "
                             f"like 3,224,224")
    return source, dims, args


class ImportDialog(QDialog):
    """Asks what to import; `request()` gives import_source's arguments."""

    def __init__(self, parent=None, source: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Import a model")
        lay = QVBoxLayout(self)
        intro = QLabel("An ONNX file, a Python file with a model class or factory, or an "
                       "importable callable such as <b>torchvision.models:resnet18</b>. "
                       "Python code runs on this machine: import only code you trust.")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        row = QWidget(self)
        rl = QHBoxLayout(row)
        rl.setContentsMargins(0, 0, 0, 0)
        self.source_edit = QLineEdit(source)
        self.source_edit.setPlaceholderText("model.onnx, my_net.py or package.module:callable")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        rl.addWidget(self.source_edit, 1)
        rl.addWidget(browse)
        form.addRow("Source", row)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("for a .py file: the class or factory, e.g. Net")
        form.addRow("Class / factory", self.name_edit)
        self.kwargs_edit = QLineEdit()
        self.kwargs_edit.setPlaceholderText('optional JSON, e.g. {"num_classes": 10}')
        form.addRow("Arguments", self.kwargs_edit)
        self.shape_edit = QLineEdit()
        self.shape_edit.setPlaceholderText("optional C,H,W, e.g. 3,224,224")
        form.addRow("Input shape", self.shape_edit)
        lay.addLayout(form)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #D93025;")
        self.error_label.hide()
        lay.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.source_edit.textChanged.connect(self._source_changed)
        self._source_changed()
        if self.name_edit.isEnabled():  # a dropped .py: what is left to say is the class
            self.name_edit.setFocus()
        self.resize(560, self.sizeHint().height())
        self.result_request = None

    def _source_changed(self, *_):
        self.name_edit.setEnabled(self.source_edit.text().strip().lower().endswith(".py"))

    def _browse(self) -> None:
        path = QFileDialog.getOpenFileName(self, "Import a model", "", IMPORT_FILTER)[0]
        if path:
            self.source_edit.setText(path)
            if self.name_edit.isEnabled():
                self.name_edit.setFocus()

    def request(self):
        return parse_request(self.source_edit.text(), self.name_edit.text(),
                             self.kwargs_edit.text(), self.shape_edit.text())

    def _accept(self) -> None:
        try:
            self.result_request = self.request()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.accept()


class _Relay(QObject):
    done = Signal(object, object, object)  # request, ImportResult, error line


class ImportMixin:
    """The window's import: the dialog, the worker, opening the result."""

    def _build_import_ui(self) -> None:
        self.import_action = self._act("&Import…", lambda: self.import_model(), "Ctrl+I",
                                       tip="Import a PyTorch model or an ONNX file (Ctrl+I)")
        file_menu = self.menuBar().actions()[0].menu()
        first_separator = next((a for a in file_menu.actions() if a.isSeparator()), None)
        file_menu.insertAction(first_separator, self.import_action)
        self.import_busy = QProgressBar(self)
        self.import_busy.setRange(0, 0)  # busy: how long a trace takes is not known
        self.import_busy.setMaximumWidth(120)
        self.import_busy.setToolTip("Importing…")
        self.import_busy.hide()
        self.statusBar().insertPermanentWidget(0, self.import_busy)  # beside a message
        self._import_thread: threading.Thread | None = None

    def ask_import(self, source: str = ""):
        """The Import dialog (tests replace this): import_source's arguments, or None."""
        dialog = ImportDialog(self, source)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.result_request

    def import_model(self, source: str = "") -> bool:
        request = self.ask_import(source)
        if request is None:
            return False
        return self.start_import(*request)

    def importing(self) -> bool:
        return self._import_thread is not None

    def start_import(self, source: str, input_shape: list[int] | None = None,
                     kwargs: dict[str, Any] | None = None) -> bool:
        """Run the import in a worker thread; the result opens when it is done."""
        if self._import_thread is not None:
            self.show_status("An import is already running")
            return False
        relay = _Relay(self)
        relay.done.connect(self._import_done, Qt.ConnectionType.QueuedConnection)
        self.import_action.setEnabled(False)
        self.import_busy.show()
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.show_status(f"Importing {source}…", 0)
        request = (source, input_shape, kwargs)

        def work():
            from app.importers import ImportRefused, import_source
            result, error = None, None
            try:
                result = import_source(source, input_shape=input_shape, kwargs=kwargs)
            except ImportRefused as exc:
                error = (str(exc).strip().splitlines()[0] if str(exc).strip()
                         else "the importer refused this source")
            except BaseException as exc:  # noqa: BLE001 - the user's code may even sys.exit()
                first = (str(exc).strip().splitlines() or [""])[0]
                error = f"{source}: {type(exc).__name__}: {first}"
            try:
                relay.done.emit(request, result, error)
            except RuntimeError:  # the window closed meanwhile: nobody to tell
                pass

        from . import gc_guard
        self._import_thread = gc_guard.start_thread(work, name="import")
        return True

    def _import_done(self, request, result, error) -> None:
        self._import_thread = None
        QApplication.restoreOverrideCursor()
        self.import_busy.hide()
        self.import_action.setEnabled(True)
        self.sender().deleteLater()
        self.statusBar().clearMessage()  # "Importing…" is over (a Save? prompt may come)
        source = request[0]
        if error:
            self.show_status(f"Import failed: {error}", 12000)
            self.warn("Cannot import this model", error)
            return
        self.open_import(source, result)

    def open_import(self, source: str, result) -> bool:
        """Open an ImportResult as a new untitled document with its weights attached."""
        from app.project import ProjectError, project_from_dict
        from app.weights_store import AttachedWeights
        try:
            graph = project_from_dict(result.project)
        except (ProjectError, ValueError) as exc:
            line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.warn("Cannot import this model", f"{source}: the imported project does not "
                                                  f"open ({line})")
            return False
        store, message = (AttachedWeights.from_state_dict(graph, result.weights, "the import")
                          if result.weights else (AttachedWeights(), None))
        if not self.maybe_save():
            return False
        self.doc.replace(graph, None, modified=True, weights=store)
        self.fit_soon()
        n, m = store.coverage(graph) if store else (0, 0)
        shown = Path(source).name if Path(source).is_file() else source
        said = [f"Imported {shown}: {graph.g.number_of_nodes()} nodes"
                + (f", weights for {n} of {m} tensors" if store else ", no weights")]
        said += list(result.notes)
        if message:
            said.append(message)
        self.import_notes = said
        self.show_status(" — ".join(said), 20000)
        if message:
            self.warn("Imported weights", message)
        return True

    # ---- drops --------------------------------------------------------------------------
    def open_dropped(self, paths: list[str]) -> None:
        models = [p for p in paths if p.lower().endswith((".onnx", ".py"))]
        if models and not any(p.lower().endswith(".json") for p in paths):
            path = models[0]
            if path.lower().endswith(".onnx"):
                self.start_import(path)
            else:  # a .py needs the class or factory to import: the dialog asks
                self.import_model(path)
            return
        super().open_dropped(paths)
