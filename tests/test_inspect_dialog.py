"""Right-click a node ▸ Show Feature Maps… / Grad-CAM…: the menu entries and the dialog."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication, QMenu

# a QApplication before anything can make a plain QGuiApplication (see test_ui_editor)
_APP = QApplication.instance() or QApplication([])

import numpy as np
from helpers import MEAN, STD, picture, quadrant_net
from PIL import Image

from app.project import save_project
from app.train.checkpoint import save_checkpoint
from app.ui.inspect_dialog import CAM, MAPS, InspectDialog, add_inspect_actions
from app.ui.main_window import MainWindow


@pytest.fixture
def trained(tmp_path):
    """The quadrant net saved as a project with a run folder holding its checkpoint."""
    g, ids, model = quadrant_net()
    project = tmp_path / "q.json"
    save_project(g, project)
    run = tmp_path / "runs" / "q-1"
    save_checkpoint(run / "best.pt", {"model": model.state_dict(), "epoch": 1, "classes": ["tl", "br"],
                                      "normalization": {"mean": MEAN, "std": STD}})
    (run / "run.json").write_text('{"format": "netcanvas-run", "started": 1, "epochs": []}')
    img = (picture(tl=1.0, br=0.2)[0].numpy() * 255).astype(np.uint8)
    Image.fromarray(img, "L").save(tmp_path / "q.png")
    return project, g, ids


def red_share(pixmap_image, box):
    a = np.asarray(pixmap_image.convert("RGB")).astype(int)
    x0, y0, x1, y1 = box
    part = a[y0:y1, x0:x1]
    return float((part[..., 0] - part[..., 2]).mean())


def test_grad_cam_dialog_finds_the_runs_weights_and_explains_a_class(qtbot, trained, tmp_path):
    project, g, ids = trained
    dlg = InspectDialog(g, ids[1], CAM, project=project)
    qtbot.addWidget(dlg)
    assert dlg.weights_combo.currentText() == "q-1/best.pt"
    dlg.set_image_file(str(tmp_path / "q.png"))
    assert dlg.update_picture(), dlg.error_label.text()
    assert not dlg.view.pixmap().isNull()
    assert [dlg.class_combo.itemText(i) for i in range(3)] == ["the predicted class", "tl",
                                                              "br"]
    overlay = (20 + 224, 40, 20 + 448, 40 + 224)  # the heat map over the input
    tl = (overlay[0], 40, overlay[0] + 112, 40 + 112)
    br = (overlay[0] + 112, 40 + 112, overlay[2], 40 + 224)
    assert red_share(dlg.picture, tl) > 40 > red_share(dlg.picture, br)
    dlg.class_combo.setCurrentIndex(2)  # explain "br" instead
    assert dlg.update_picture()
    assert red_share(dlg.picture, br) > 40 > red_share(dlg.picture, tl)
    dlg.save(str(tmp_path / "cam.png"))
    assert (tmp_path / "cam.png").stat().st_size > 0


def test_feature_maps_dialog_and_its_errors(qtbot, trained, tmp_path):
    _, g, ids = trained
    dlg = InspectDialog(g, ids[1], MAPS, project=None)
    qtbot.addWidget(dlg)
    assert not dlg.update_picture()  # no project, no run: it says what to do
    assert "no trained weights" in dlg.error_label.text()
    dlg.add_weights(str(tmp_path / "runs" / "q-1" / "best.pt"))
    dlg.digit_spin.setValue(3)
    assert dlg.sample() == "digits:3" and dlg.update_picture(), dlg.error_label.text()
    assert dlg.picture.width > 100 and dlg.error_label.text() == ""
    dlg.add_weights(str(tmp_path / "q.png"))  # not weights
    assert not dlg.update_picture()
    assert "not a readable checkpoint" in dlg.error_label.text()


def test_node_menu_offers_what_fits_the_node(qtbot, trained, monkeypatch, tmp_path):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))
    project, g, ids = trained
    w = MainWindow(g, path=project)
    qtbot.addWidget(w)

    def entries(node):
        menu = QMenu()
        add_inspect_actions(menu, w, node)
        return [a.text() for a in menu.actions() if a.text()]
    assert entries(ids[1]) == ["Show Feature Maps…", "Grad-CAM…"]   # a conv: [2, 8, 8]
    assert entries(ids[3]) == ["Show Feature Maps…"]                # the Linear: flat
    assert entries(ids[0]) == []                                    # the Input
