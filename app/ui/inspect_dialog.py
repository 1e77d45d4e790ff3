"""Right-click a node ▸ Show Feature Maps… / Grad-CAM…: what the trained network sees.

The pictures are app.inspect's (the same as `netcanvas inspect` writes); this dialog only
chooses the weights (a run of this project, the Train dock's last run, or a file), the
sample (a built-in digit or an image file) and, for Grad-CAM, the class.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
)

from app.graph import NetGraph
from app.inspect import InspectError, feature_maps, grad_cam, load_image, load_inspector
from app.inspect.command import describe_node
from app.inspect.render import feature_grid, grad_cam_image

MAPS, CAM = "maps", "cam"


def add_inspect_actions(menu: QMenu, window, node_id: str) -> None:
    """The node context menu's hook: feature maps for any layer, Grad-CAM for a node with a
    [C, H, W] output. Not inside a block (its nodes are not the model's nodes)."""
    doc = getattr(window, "doc", None)
    if doc is None or getattr(doc, "trail", None) or node_id not in doc.graph.nodes():
        return
    graph = doc.graph
    if graph.type_of(node_id) == "Input" or graph.info.get(node_id) is None \
            or graph.info[node_id].output_shape is None:
        return
    menu.addSeparator()
    menu.addAction("Show Feature Maps…", lambda: open_dialog(window, node_id, MAPS))
    if len(graph.info[node_id].output_shape) == 3:
        menu.addAction("Grad-CAM…", lambda: open_dialog(window, node_id, CAM))


def open_dialog(window, node_id: str, mode: str) -> InspectDialog:
    panel = getattr(window, "train_panel", None)
    result = getattr(panel, "result", None)
    dlg = InspectDialog(window.doc.graph, node_id, mode, project=window.doc.path,
                        weights=getattr(result, "last_checkpoint", None), parent=window)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    if dlg.weights_combo.currentData():
        dlg.update_picture()
    return dlg


def pil_to_pixmap(image) -> QPixmap:
    rgb = image.convert("RGB")
    data = rgb.tobytes("raw", "RGB")
    q = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(q.copy())  # copy: `data` is freed when this returns


class InspectDialog(QDialog):
    def __init__(self, graph: NetGraph, node_id: str, mode: str, project=None,
                 weights: str | None = None, parent=None):
        super().__init__(parent)
        self.graph, self.node, self.mode = graph, node_id, mode
        self.picture = None  # the last PIL image shown
        self._inspectors: dict[str, object] = {}
        what = "Feature maps" if mode == MAPS else "Grad-CAM"
        self.setWindowTitle(f"{what} — {describe_node(graph, node_id)}")
        form = QFormLayout()
        self.weights_combo = QComboBox()
        self._fill_weights(project, weights)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_weights)
        row = QHBoxLayout()
        row.addWidget(self.weights_combo, 1)
        row.addWidget(browse)
        form.addRow("Weights", row)
        self.sample_combo = QComboBox()
        self.sample_combo.addItem("Built-in digit", "digits")
        self.sample_combo.addItem("Image file…", "file")
        self.sample_combo.activated.connect(self._sample_chosen)
        self.digit_spin = QSpinBox()
        self.digit_spin.setRange(0, 1796)
        self.digit_spin.setToolTip("which of scikit-learn's 1,797 digits")
        self.image_path = ""
        row = QHBoxLayout()
        row.addWidget(self.sample_combo, 1)
        row.addWidget(self.digit_spin)
        form.addRow("Sample", row)
        self.class_combo = QComboBox()
        self.class_combo.addItem("the predicted class", None)
        if mode == CAM:
            form.addRow("Class", self.class_combo)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #D93025;")
        self.view = QLabel()
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.view)
        scroll.setWidgetResizable(True)
        show, save = QPushButton("Show"), QPushButton("Save PNG…")
        show.setDefault(True)
        show.clicked.connect(self.update_picture)
        save.clicked.connect(self._save_dialog)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(show)
        buttons.addWidget(save)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.error_label)
        lay.addWidget(scroll, 1)
        lay.addLayout(buttons)
        self.resize(780, 560 if mode == MAPS else 470)

    # ---- choices ----------------------------------------------------------------------
    def _fill_weights(self, project, weights: str | None) -> None:
        """Newest first: the Train dock's last run, then this project's runs."""
        from app.train.runs import find_runs
        paths = [weights] if weights else []
        if project:
            for run in reversed(find_runs(project)):
                folder = Path(run["folder"])
                best = next((folder / f for f in ("best.pt", "last.pt")
                             if (folder / f).is_file()), None)
                if best is not None:
                    paths.append(str(best))
        for p in dict.fromkeys(paths):
            self.weights_combo.addItem(f"{Path(p).parent.name}/{Path(p).name}", p)
        if not paths:
            self.weights_combo.addItem("no trained weights yet — train, or Browse…", None)

    def add_weights(self, path: str) -> None:
        self.weights_combo.insertItem(0, Path(path).name, path)
        self.weights_combo.setCurrentIndex(0)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Trained weights", "", "Checkpoints and weights (*.pt *.safetensors)")
        if path:
            self.add_weights(path)
            self.update_picture()

    def _sample_chosen(self) -> None:
        if self.sample_combo.currentData() == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Image", "",
                                                  "Images (*.png *.jpg *.jpeg *.bmp *.gif)")
            if path:
                self.set_image_file(path)
                self.update_picture()
            else:
                self.sample_combo.setCurrentIndex(0)
        self.digit_spin.setEnabled(self.sample_combo.currentData() == "digits")

    def set_image_file(self, path: str) -> None:
        self.image_path = path
        self.sample_combo.setCurrentIndex(1)
        self.sample_combo.setItemText(1, Path(path).name)

    def sample(self) -> str:
        if self.sample_combo.currentData() == "file" and self.image_path:
            return self.image_path
        return f"digits:{self.digit_spin.value()}"

    # ---- the picture ------------------------------------------------------------------
    def update_picture(self) -> bool:
        """Compute and show the picture; False (and the reason in red) when it cannot."""
        weights = self.weights_combo.currentData()
        try:
            if not weights:
                raise InspectError("no trained weights: train the network in the Train dock "
                                   "(saved projects keep their runs), or Browse… for a file")
            ins = self._inspectors.get(weights)
            if ins is None:
                ins = self._inspectors[weights] = load_inspector(self.graph, weights)
                self._set_classes(ins.classes)
            shape = tuple(self.graph.info[self.graph.input_nodes()[0]].output_shape)
            sample = self.sample()
            image = load_image(sample, shape)
            title = f"{describe_node(self.graph, self.node)} · {Path(sample).name}"
            if self.mode == CAM:
                cam, probs, k = grad_cam(ins, self.node, image, self.class_combo.currentData())
                self.picture = grad_cam_image(image, cam, probs, ins.classes, k, title)
            else:
                maps, _ = feature_maps(ins, self.node, image)
                self.picture = feature_grid(maps, title)
        except InspectError as exc:
            self.error_label.setText(str(exc))
            return False
        self.error_label.setText(" ".join(getattr(ins, "notes", [])))
        self.view.setPixmap(pil_to_pixmap(self.picture))
        return True

    def _set_classes(self, classes: list[str]) -> None:
        self.class_combo.blockSignals(True)
        while self.class_combo.count() > 1:
            self.class_combo.removeItem(1)
        for i, c in enumerate(classes):
            self.class_combo.addItem(f"{c}", i)
        self.class_combo.blockSignals(False)

    def save(self, path: str) -> None:
        if self.picture is None:
            raise ValueError("nothing to save yet — press Show")
        self.picture.save(path)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save picture", "inspect.png",
                                              "PNG image (*.png)")
        if path:
            try:
                self.save(path)
            except (OSError, ValueError) as exc:
                self.error_label.setText(f"could not save: {exc}")
