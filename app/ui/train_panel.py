"""The Train dock: data, hyper-parameters and device; a run in a worker thread with a
progress bar and ETA, live loss/accuracy curves, a cancel button, the confusion matrix at
the end and "Save weights…".

The loop is app.train's (the same as `netcanvas train`); it runs in a QObject moved to a
QThread and reports through queued signals, so the editor never freezes. Every error ends
up in the panel's message line, never as an exception in the event loop.

    panel = TrainPanel()
    panel.set_graph(document.graph)   # whenever the document changes; compiled at start
"""
from __future__ import annotations

import math
import threading
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.graph import NetGraph
from app.train.config import OPTIMIZERS, SCHEDULES, TrainConfig
from app.ui.train_plots import ConfusionMatrixWidget, CurvesWidget
from app.ui.train_runs import RunsList
from app.ui.train_weights import StartFromMixin

from .fields import guard_wheel

ERROR_COLOR = "#D93025"

SOURCES = (("digits", "Digits (built in, 1,797 images)"), ("folder", "Image folder…"),
           ("npz", "NumPy .npz file…"))
SCHEDULE_NAMES = {"constant": "constant", "step": "step", "cosine": "cosine",
                  "onecycle": "one-cycle"}


# ---- the worker ------------------------------------------------------------------------

def _collect_on_gui_thread_only(running: bool, owner: QObject) -> None:
    """While the training thread runs, Python's cyclic GC runs on the GUI thread only
    (gc_guard says why: a collection in a worker can free Qt objects there)."""
    from . import gc_guard
    if running:
        gc_guard.begin()
    else:
        gc_guard.end()


class TrainWorker(QObject):
    """Runs app.train.train in its thread; everything it says goes out as signals."""

    event = Signal(str, object)   # the loop's callback: (event, data)
    failed = Signal(str)          # could not start: a message for the user
    done = Signal(object)         # TrainResult

    def __init__(self, graph: NetGraph, config: TrainConfig, cancel: threading.Event,
                 resume: str | None = None, project: str | None = None,
                 initial_weights: dict | None = None):
        super().__init__()
        self.graph, self.config, self.cancel, self.resume = graph, config, cancel, resume
        self.project = project
        self.initial_weights = initial_weights

    @Slot()
    def run(self) -> None:
        from app.compile import CompileError
        from app.train import CheckpointError, DataError, TrainError, train
        from app.train.runs import recording
        callback = recording(self.event.emit, self.config.out_dir, self.graph, self.config,
                             project=self.project)  # run.json, as the CLI writes it
        try:
            result = train(self.graph, self.config, callback=callback,
                           cancel=self.cancel, resume=self.resume,
                           initial_weights=self.initial_weights)
        except (CompileError, DataError, TrainError, CheckpointError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - never into the event loop
            self.failed.emit(f"training failed: {type(exc).__name__}: {exc}")
        else:
            self.done.emit(result)


# ---- the panel ---------------------------------------------------------------------------

class TrainPanel(StartFromMixin, QWidget):
    """The Train dock's widget. `set_graph` whenever the document changes."""

    finished = Signal(object)        # TrainResult, or None when the run could not start
    running_changed = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.graph: NetGraph | None = None
        self.result = None                      # the last TrainResult
        self._thread: QThread | None = None
        self._worker: TrainWorker | None = None
        self._cancel = threading.Event()
        self._epochs = 1
        self._estimate_timer = QTimer(self, singleShot=True, interval=300)
        self._estimate_timer.timeout.connect(self._update_estimate)
        self._build()
        app = QCoreApplication.instance()
        if app is not None:  # never leave a running thread behind at exit
            app.aboutToQuit.connect(self.shutdown)
        self._update_enabled()

    # ---- building ---------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)

        # data
        box = QGroupBox("Data")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.source_combo = QComboBox()
        for key, text in SOURCES:
            self.source_combo.addItem(text, key)
        self.source_combo.currentIndexChanged.connect(self._source_changed)
        form.addRow("Source", self.source_combo)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("folder with one sub-folder per class")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse_data)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        form.addRow("Path", row)
        self.val_spin = QSpinBox()
        self.val_spin.setRange(5, 50)
        self.val_spin.setSuffix(" %")
        self.val_spin.setValue(20)
        self.val_spin.setToolTip("share of the data held out for validation (stratified)")
        form.addRow("Validation", self.val_spin)
        self.augment_check = QCheckBox("Augment")
        self.augment_check.setToolTip("random crop with padding and horizontal flip, per batch")
        self.normalize_check = QCheckBox("Normalize")
        self.normalize_check.setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.augment_check)
        row.addWidget(self.normalize_check)
        row.addStretch(1)
        form.addRow(row)
        lay.addWidget(box)

        # hyper-parameters
        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        d = TrainConfig()
        self.start_from_combo = QComboBox()  # fine-tuning: shown filled when weights are attached
        self.start_from_combo.setToolTip("the weights attached to the network's nodes (imported "
                                         "or saved with the project), or a fresh initialisation")
        form.addRow("Start", self.start_from_combo)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 10_000)
        self.epochs_spin.setValue(d.epochs)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 65_536)
        self.batch_spin.setValue(d.batch_size)
        self.batch_spin.valueChanged.connect(self._schedule_estimate)
        row = QHBoxLayout()
        row.addWidget(self.epochs_spin, 1)
        row.addWidget(QLabel("Batch"))
        row.addWidget(self.batch_spin, 1)
        form.addRow("Epochs", row)
        self.optimizer_combo = QComboBox()
        for name in OPTIMIZERS:
            self.optimizer_combo.addItem({"sgd": "SGD (momentum)", "adam": "Adam",
                                          "adamw": "AdamW"}[name], name)
        self.optimizer_combo.setCurrentIndex(OPTIMIZERS.index(d.optimizer))
        self.optimizer_combo.currentIndexChanged.connect(self._schedule_estimate)
        self.lr_edit = QLineEdit(f"{d.lr:g}")
        self.lr_edit.setToolTip("learning rate (the peak for one-cycle)")
        self.lr_edit.setMaximumWidth(90)
        row = QHBoxLayout()
        row.addWidget(self.optimizer_combo, 1)
        row.addWidget(QLabel("LR"))
        row.addWidget(self.lr_edit)
        form.addRow("Optimizer", row)
        self.schedule_combo = QComboBox()
        for name in SCHEDULES:
            self.schedule_combo.addItem(SCHEDULE_NAMES[name], name)
        self.schedule_combo.setCurrentIndex(SCHEDULES.index(d.schedule))
        self.wd_edit = QLineEdit(f"{d.weight_decay:g}")
        self.wd_edit.setMaximumWidth(90)
        self.wd_edit.setToolTip("weight decay (on weights, not biases or norms)")
        row = QHBoxLayout()
        row.addWidget(self.schedule_combo, 1)
        row.addWidget(QLabel("Decay"))
        row.addWidget(self.wd_edit)
        form.addRow("Schedule", row)
        self.smoothing_spin = QDoubleSpinBox()
        self.smoothing_spin.setRange(0.0, 0.5)
        self.smoothing_spin.setSingleStep(0.05)
        self.smoothing_spin.setDecimals(2)
        self.smoothing_spin.setToolTip("label smoothing of the cross-entropy loss")
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        row = QHBoxLayout()
        row.addWidget(self.smoothing_spin, 1)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_spin, 1)
        form.addRow("Smoothing", row)
        self.device_combo = QComboBox()
        for key, text in _device_choices():
            self.device_combo.addItem(text, key)
        self.device_combo.currentIndexChanged.connect(self._schedule_estimate)
        self.amp_check = QCheckBox("Mixed precision")
        self.amp_check.setChecked(True)
        self.amp_check.setToolTip("CUDA only: bf16 where supported, else fp16 with loss scaling")
        self.amp_check.toggled.connect(self._schedule_estimate)
        self.cl_check = QCheckBox("Channels-last")
        self.cl_check.setChecked(True)
        self.cl_check.setToolTip("CUDA only: NHWC memory layout, faster convolutions")
        form.addRow("Device", self.device_combo)
        row = QHBoxLayout()
        row.addWidget(self.amp_check)
        row.addWidget(self.cl_check)
        row.addStretch(1)
        form.addRow(row)
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("runs/ beside the project (unsaved: in memory)")
        self.out_button = QPushButton("…")
        self.out_button.setMaximumWidth(32)
        self.out_button.clicked.connect(self._browse_out)
        row = QHBoxLayout()
        row.addWidget(self.out_edit, 1)
        row.addWidget(self.out_button)
        form.addRow("Checkpoints", row)
        lay.addWidget(box)

        self.memory_label = QLabel("")
        self.memory_label.setWordWrap(True)
        self.memory_label.setToolTip("weights, gradients, optimizer state and the activations "
                                     "kept for the backward pass (measured with fake tensors, no data)")
        lay.addWidget(self.memory_label)

        row = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save weights…")
        self.save_button.clicked.connect(self._save_weights)
        self.keep_button = QPushButton("Keep")
        self.keep_button.setToolTip("Attach the trained weights to the network's nodes: the "
                                    "exports and the next run start from them, and Save "
                                    "writes them beside the project")
        self.keep_button.clicked.connect(self.keep_weights)
        row.addWidget(self.start_button, 1)
        row.addWidget(self.cancel_button)
        row.addWidget(self.save_button)
        row.addWidget(self.keep_button)
        # Start, the progress and the status stay below the scrolled settings: visible
        # however low the dock is (issue 9)
        bar = QWidget(self)
        bar_lay = QVBoxLayout(bar)
        bar_lay.setContentsMargins(6, 4, 6, 4)
        bar_lay.setSpacing(4)
        bar_lay.addLayout(row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        bar_lay.addWidget(self.progress)
        self.status_label = QLabel("Ready.")
        self.status_label.setWordWrap(True)
        bar_lay.addWidget(self.status_label)
        outer.addWidget(bar)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error_label.hide()
        lay.addWidget(self.error_label)

        self.curves = CurvesWidget()
        lay.addWidget(self.curves)
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        lay.addWidget(self.result_label)
        self.confusion = ConfusionMatrixWidget()
        lay.addWidget(self.confusion)
        self.runs = RunsList()
        self.runs.overlaysChanged.connect(self.curves.set_overlays)
        lay.addWidget(self.runs)
        lay.addStretch(1)
        for w in body.findChildren(QAbstractSpinBox) + body.findChildren(QComboBox):
            guard_wheel(w)  # scrolling the settings never changes one of them
        self._source_changed()

    # ---- public API -----------------------------------------------------------------
    def set_graph(self, graph: NetGraph | None) -> None:
        """Keep a reference; the network is compiled from a snapshot when a run starts."""
        self.graph = graph
        self.runs.set_project(self.project_path())
        self.update_start_from()
        self._update_enabled()
        self._schedule_estimate()

    def project_path(self):
        """The open project's file (None while unsaved). Read from the editor window's
        document, so that the window needs no extra call to tell the panel."""
        doc = getattr(self.window(), "doc", None)
        return getattr(doc, "path", None)

    def is_running(self) -> bool:
        return self._thread is not None

    def config(self) -> TrainConfig:
        """The settings shown in the panel (raises ValueError for a malformed number)."""
        source = self.source_combo.currentData()
        path = self.path_edit.text().strip()
        if source != "digits" and not path:
            raise ValueError("choose the " + ("image folder" if source == "folder"
                                               else ".npz file") + " to train on")
        lr = _number(self.lr_edit.text(), "learning rate")
        wd = _number(self.wd_edit.text(), "weight decay")
        return TrainConfig(
            data="digits" if source == "digits" else path,
            val_fraction=self.val_spin.value() / 100, augment=self.augment_check.isChecked(),
            normalize=self.normalize_check.isChecked(), epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), lr=lr,
            optimizer=self.optimizer_combo.currentData(), weight_decay=wd,
            schedule=self.schedule_combo.currentData(),
            label_smoothing=self.smoothing_spin.value(), seed=self.seed_spin.value(),
            device=self.device_combo.currentData(), amp=self.amp_check.isChecked(),
            channels_last=self.cl_check.isChecked(),
            out_dir=self.out_edit.text().strip() or None)

    def set_config(self, c: TrainConfig) -> None:
        """Show these settings (data: "digits", a folder or a .npz path)."""
        if c.data == "digits":
            self.source_combo.setCurrentIndex(0)
        else:
            self.source_combo.setCurrentIndex(2 if str(c.data).lower().endswith(".npz") else 1)
            self.path_edit.setText(str(c.data))
        self.val_spin.setValue(int(round(c.val_fraction * 100)))
        self.augment_check.setChecked(c.augment)
        self.normalize_check.setChecked(c.normalize)
        self.epochs_spin.setValue(c.epochs)
        self.batch_spin.setValue(c.batch_size)
        self.lr_edit.setText(f"{c.lr:g}")
        self.optimizer_combo.setCurrentIndex(OPTIMIZERS.index(c.optimizer))
        self.wd_edit.setText(f"{c.weight_decay:g}")
        self.schedule_combo.setCurrentIndex(SCHEDULES.index(c.schedule))
        self.smoothing_spin.setValue(c.label_smoothing)
        self.seed_spin.setValue(c.seed)
        i = self.device_combo.findData(c.device)
        self.device_combo.setCurrentIndex(max(0, i))
        self.amp_check.setChecked(c.amp)
        self.cl_check.setChecked(c.channels_last)
        self.out_edit.setText(c.out_dir or "")

    @Slot()
    def start(self) -> bool:
        """Start a run with the panel's settings; False (and a message) when it cannot."""
        if self._thread is not None:
            return False
        self._show_error("")
        if self.graph is None:
            self._show_error("Open or draw a network first.")
            return False
        problems = self.graph.problems()
        if problems:
            self._show_error(f"The network has {len(problems)} problem(s) — fix them first "
                             f"(first: {problems[0].node}: {problems[0].message}).")
            return False
        try:
            config = self.config()
        except ValueError as exc:
            self._show_error(str(exc))
            return False
        issues = config.problems()
        if issues:
            self._show_error("; ".join(issues))
            return False
        try:  # a snapshot: the document may be edited while this trains
            from app.project import project_from_dict
            snapshot = project_from_dict(self.graph.to_dict())
        except Exception as exc:  # noqa: BLE001
            self._show_error(f"cannot snapshot the network: {exc}")
            return False
        project = self.project_path()
        if config.out_dir is None and project is not None:  # every saved project's run is kept
            from app.train.runs import new_run_dir
            config.out_dir = str(new_run_dir(project))
        self._epochs = config.epochs
        self.curves.clear(config.epochs)
        self.confusion.clear()
        self.result_label.setText("")
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self.status_label.setText("Loading the data and compiling the network…")
        self._cancel = threading.Event()
        self._thread = QThread(self)
        self._worker = TrainWorker(snapshot, config, self._cancel,
                                   project=str(project) if project else None,
                                   initial_weights=self.initial_weights())
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.event.connect(self._on_event)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._thread.quit)
        self._worker.done.connect(self._thread.quit)
        self._thread.finished.connect(self._on_thread_finished)
        _collect_on_gui_thread_only(True, self)
        self._thread.start()
        self._update_enabled()
        self.running_changed.emit(True)
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the run within one batch; the last checkpoint is kept."""
        if self._thread is not None:
            self._cancel.set()
            self.status_label.setText("Cancelling after this batch…")
            self.cancel_button.setEnabled(False)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Cancel and wait for the worker (call from the editor's closeEvent)."""
        if self._thread is not None:
            self._cancel.set()
            self._thread.quit()
            self._thread.wait(timeout_ms)

    # ---- run events (UI thread, queued from the worker) ----------------------------
    @Slot(str, object)
    def _on_event(self, event: str, d: dict[str, Any]) -> None:
        try:
            if event == "start":
                self._epochs = d["epochs"]
                self.curves.clear(d["epochs"])
                amp = f", {d['amp']} mixed precision" if d["amp"] else ""
                self.memory_label.setText(f"Memory: {d['memory_text']}")
                text = f"Training on {d['device']}{amp}. {d['data']}."
                if d["messages"]:
                    text += " " + " ".join(d["messages"])
                self.status_label.setText(text)
            elif event == "batch":
                done = (d["epoch"] - 1 + d["batch"] / d["batches"]) / d["epochs"]
                self.progress.setValue(int(done * 1000))
                self.progress.setFormat(
                    f"epoch {d['epoch']}/{d['epochs']} · batch {d['batch']}/{d['batches']} · "
                    f"ETA {_fmt_time(d['eta_s'])}")
                self.curves.add_train(d["epoch"] - 1 + d["batch"] / d["batches"],
                                      d["loss"], d["acc"])
            elif event == "epoch_end":
                self.curves.add_val(d["epoch"], d["val_loss"], d["val_acc"])
                self.confusion.set_matrix(d["confusion_matrix"], d["classes"])
                self.status_label.setText(
                    f"Epoch {d['epoch']}/{d['epochs']}: train loss {d['train_loss']:.3f}, "
                    f"accuracy {d['train_acc']:.1%} · validation loss {d['val_loss']:.3f}, "
                    f"accuracy {d['val_acc']:.1%} ({d['seconds']:.1f} s, "
                    f"{d['samples_per_s']:.0f} samples/s)")
        except Exception as exc:  # noqa: BLE001 - a display glitch must not end the run
            self._show_error(f"display error: {exc}")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_error(message)
        self.status_label.setText("Could not train.")
        self.progress.setFormat("")
        self.finished.emit(None)

    @Slot(object)
    def _on_done(self, result) -> None:
        self.result = result
        final = result.final
        if final:
            self.confusion.set_matrix(final["confusion_matrix"], final["classes"])
            worst = sorted(((a, c) for c, a in zip(final["classes"], final["per_class_accuracy"])
                            if a is not None))[:3]
            self.result_label.setText(
                f"Validation accuracy {final['accuracy']:.1%} after epoch {final['epoch']} "
                f"(best {result.best_val_acc:.1%}, epoch {result.best_epoch}). Weakest classes: "
                + ", ".join(f"{c} {a:.0%}" for a, c in worst)
                + (f". Checkpoints: {result.last_checkpoint}" if result.last_checkpoint else "."))
        if result.status == "finished":
            self.progress.setValue(1000)
            self.progress.setFormat("done")
            self.status_label.setText(result.message[:1].upper() + result.message[1:] + ".")
        elif result.status == "cancelled":
            self.progress.setFormat("cancelled")
            self.status_label.setText(result.message[:1].upper() + result.message[1:] + ".")
        else:
            self.progress.setFormat(result.status)
            self.status_label.setText("The run stopped.")
            self._show_error(result.message[:1].upper() + result.message[1:] + ".")
        self.runs.refresh()
        self.finished.emit(result)

    @Slot()
    def _on_thread_finished(self) -> None:
        if self._worker is not None:
            self._worker.deleteLater()
        if self._thread is not None:
            self._thread.deleteLater()
        self._worker = None
        self._thread = None
        _collect_on_gui_thread_only(False, self)
        self._update_enabled()
        self.running_changed.emit(False)

    # ---- helpers --------------------------------------------------------------------
    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _update_enabled(self) -> None:
        running = self._thread is not None
        for w in (self.source_combo, self.path_edit, self.browse_button, self.val_spin,
                  self.augment_check, self.normalize_check, self.epochs_spin, self.batch_spin,
                  self.optimizer_combo, self.lr_edit, self.schedule_combo, self.wd_edit,
                  self.smoothing_spin, self.seed_spin, self.device_combo, self.amp_check,
                  self.cl_check, self.out_edit, self.out_button):
            w.setEnabled(not running)
        self.start_from_combo.setEnabled(not running and self.start_from_combo.count() > 1)
        if not running:
            self._source_changed()
            self._schedule_estimate()
        self.start_button.setEnabled(not running and self.graph is not None)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None
                                    and self.result.model is not None)
        self.keep_button.setEnabled(self.save_button.isEnabled()
                                    and hasattr(self.window(), "attach_weights"))

    def _source_changed(self, *_) -> None:
        key = self.source_combo.currentData()
        self.path_edit.setEnabled(key != "digits" and self._thread is None)
        self.browse_button.setEnabled(key != "digits" and self._thread is None)
        self.path_edit.setPlaceholderText({"digits": "built in — no path needed",
                                           "folder": "folder with one sub-folder per class",
                                           "npz": ".npz with arrays x and y"}[key])

    def _browse_data(self) -> None:
        if self.source_combo.currentData() == "folder":
            path = QFileDialog.getExistingDirectory(self, "Image folder (one sub-folder per class)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "NumPy data", "", "NumPy (*.npz)")
        if path:
            self.path_edit.setText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Checkpoint folder")
        if path:
            self.out_edit.setText(path)

    def _schedule_estimate(self, *_) -> None:
        choice = self.device_combo.currentData()
        cuda = choice == "cuda" or (choice == "auto" and "CUDA" in self.device_combo.currentText())
        for w in (self.amp_check, self.cl_check):
            w.setEnabled(cuda and self._thread is None)
        self._estimate_timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._schedule_estimate()

    def _update_estimate(self) -> None:
        if not self.isVisible():  # a hidden dock measures nothing; showEvent catches up
            return
        g = self.graph
        if g is None:
            self.memory_label.setText("")
            return
        problems = g.problems()
        if problems or len(g.input_nodes()) != 1:
            self.memory_label.setText(f"Memory: fix the network's {len(problems)} problem(s) "
                                      f"to see an estimate." if problems else "")
            return
        try:
            from app.train import estimate_memory
            from app.train.loop import pick_device
            try:
                device = pick_device(self.device_combo.currentData())
            except Exception:  # noqa: BLE001
                device = None
            amp = bool(device is not None and device.type == "cuda" and self.amp_check.isChecked())
            est = estimate_memory(g, self.batch_spin.value(), self.optimizer_combo.currentData(),
                                  amp=amp)
            self.memory_label.setText(f"Memory: {est.text()}")
        except Exception as exc:  # noqa: BLE001
            self.memory_label.setText(f"Memory: no estimate ({exc})")

    def save_weights(self, path: str) -> None:
        """Write the trained weights as safetensors (raises on failure)."""
        import json

        r = self.result
        if r is None or r.model is None:
            raise ValueError("train the network first")
        meta = {"classes": json.dumps(r.classes), "epochs": str(r.epochs_done)}
        if self.graph is not None:
            meta["project"] = str(self.graph.name)
        if r.final:
            meta["val_accuracy"] = f"{r.final['accuracy']:.6f}"
        try:
            from app.export import save_weights
        except ImportError:  # the exporter is missing: the same file, written here
            from safetensors.torch import save_file
            save_file({k: v.detach().cpu().contiguous().clone()
                       for k, v in r.model.state_dict().items()}, path, metadata=meta)
        else:
            save_weights(r.model, path, metadata=meta)

    def _save_weights(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save weights", "weights.safetensors",
                                              "safetensors (*.safetensors)")
        if not path:
            return
        try:
            self.save_weights(path)
        except Exception as exc:  # noqa: BLE001
            self._show_error(f"Could not save the weights: {exc}")
        else:
            self._show_error("")
            self.status_label.setText(f"Saved the weights to {path}.")


def _device_choices() -> list[tuple[str, str]]:
    import torch

    from app.train.loop import mps_available
    auto = "CUDA" if torch.cuda.is_available() else ("MPS" if mps_available() else "CPU")
    out = [("auto", f"Auto ({auto})"), ("cpu", "CPU")]
    if torch.cuda.is_available():
        out.append(("cuda", f"CUDA ({torch.cuda.get_device_name(0)})"))
    if mps_available():
        out.append(("mps", "Apple MPS"))
    return out


def _number(text: str, what: str) -> float:
    try:
        v = float(text.strip())
    except ValueError:
        raise ValueError(f"the {what} must be a number, not {text.strip()!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"the {what} must be a finite number")
    return v


def _fmt_time(s: float) -> str:
    s = int(round(max(0.0, s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
