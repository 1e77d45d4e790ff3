"""Views that start right and the small things (issue 9, sections 5 and 6): fit on open and
New, the empty-canvas hint, readable zoomed-out nodes, the minimap's corner and size, dock
sizes, the summary following the canvas' selection, the project's name, the data folder,
the recovery dialog's place and the missing-libxcb-cursor message."""
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from PySide6.QtCore import QPointF, QRect, QRectF  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from tests.test_ui_editor import make_window, settle  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def win(qtbot):
    return make_window(qtbot)


def shows_everything(w) -> bool:
    area = w.view.mapToScene(w.view.viewport().rect()).boundingRect()
    return all(area.contains(it.pos() + QPointF(80, 40)) for it in w.scene.nodes.values())


def colours_in(image, rect: QRect) -> int:
    return len({image.pixel(x, y) for x in range(rect.left(), rect.right(), 2)
                for y in range(rect.top(), rect.bottom(), 2)})


def test_open_and_new_fit_the_graph_and_an_empty_canvas_says_how_to_start(qtbot):
    from app.ui.main_window import MainWindow
    w = MainWindow()  # as the app starts: the built-in example, fitted once shown
    w.ask = lambda *a, **k: "Discard"
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: shows_everything(w), timeout=3000)
    assert len(w.scene.nodes) == 12
    w.view.set_zoom(2.0)
    w.new_document("resnet18")
    qtbot.waitUntil(lambda: shows_everything(w) and w.view.zoom() < 1, timeout=3000)
    w.new_document()
    qtbot.waitUntil(lambda: w.view.zoom() == 1.0, timeout=3000)  # not the template's zoom
    vp = w.view.viewport()
    img = vp.grab().toImage()
    middle = QRect(vp.width() // 4, vp.height() // 2 - 20, vp.width() // 2, 40)
    assert colours_in(img, middle) > 3  # the hint's text is drawn there
    assert "palette" in w.view.EMPTY_HINT and "Template" in w.view.EMPTY_HINT


def test_zoomed_out_nodes_keep_a_readable_name_and_badge(win):
    win.doc.set_repeat("n9", 3)
    win.view.set_zoom(0.15)  # fit-all on ResNet-50 in a small window
    item = win.scene.nodes["n9"]
    win.view.centerOn(item)
    settle(win)
    img = win.view.viewport().grab().toImage()
    box = win.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    white = sum(1 for x in range(box.left(), box.right()) for y in range(box.top(), box.bottom())
                if QColor(img.pixel(x, y)).lightness() > 235)
    assert white > 30  # letters on the coloured box, not a blank box
    assert item.badge == "×3"


def test_minimap_corner_size_and_hiding(win):
    mm = win.view.minimap
    win.resize(1024, 700)
    settle(win)
    vp = win.view.viewport()
    mm.place()
    assert mm.width() <= vp.width() / 4 + 1 and mm.height() <= vp.height() / 4 + 1
    mm.set_corner("top-left")
    assert mm.x() < vp.width() / 2 and mm.y() < vp.height() / 2
    mm.set_corner("bottom-right")
    assert mm.x() > vp.width() / 2 and mm.y() > vp.height() / 2
    mm.set_corner("top-left")
    mm.hideRequested.emit()
    assert not mm.isVisible() and not win.minimap_action.isChecked()
    from app.ui import files
    assert files.settings().value("minimap/corner") == "top-left"
    assert files.settings().value("minimap/shown") == "false"


def test_docks_keep_start_visible_and_come_back_after_resizing(win):
    win.train_dock.raise_()
    start = win.train_panel.start_button
    for size in ((1024, 700), (1920, 1080), (1024, 700), (1400, 850)):
        win.resize(*size)
        for _ in range(4):
            QApplication.processEvents()
        assert not start.visibleRegion().isEmpty(), size
        assert win.view.viewport().width() > size[0] * 0.45, size  # the canvas keeps room
        assert win.view.viewport().height() > size[1] * 0.25, size
        assert 200 <= win.palette_dock.width() <= 320 and 240 <= win.inspector_dock.width() <= 380


def test_summary_selection_follows_the_canvas(win):
    win.scene.select_nodes(["n2", "n5", "n9"])
    settle(win)
    assert sorted(win.summary.selected_paths()) == [("n2",), ("n5",), ("n9",)]
    win.scene.select_nodes(["n3"])
    settle(win)
    assert win.summary.selected_paths() == [("n3",)]
    win.new_document("vgg16")
    settle(win)
    assert win.summary.selected_paths() == []


def test_the_project_name_is_editable_undoable_and_in_the_title(win, tmp_path):
    win.ask_text = lambda title, label, default: "  My net "
    win.name_action.trigger()
    assert win.doc.graph.name == "My net" and win.windowTitle().startswith("My net")
    win.doc.stack.undo()
    assert win.doc.graph.name == "Hybrid CNN (example)" and "Hybrid CNN" in win.windowTitle()
    assert win.doc.rename_project("   ") == "a project needs a name"
    # a first save of an untitled network names it after the file
    win.new_document()
    win.doc.add_node("Input", (0, 0))
    win.save_path = lambda *a: str(tmp_path / "mynet.json")
    assert win.save_as()
    import json
    assert json.loads((tmp_path / "mynet.json").read_text())["name"] == "mynet"
    assert win.windowTitle().startswith("mynet")


def test_the_data_folder_is_not_doubled(monkeypatch, tmp_path):
    from app.ui import files
    monkeypatch.delenv("NETCANVAS_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    _APP.setOrganizationName("NetCanvas")
    _APP.setApplicationName("NetCanvas")
    assert files.autosave_dir() == tmp_path / "share" / "NetCanvas" / "autosave"


def test_a_dialog_before_the_window_shows_is_centred_on_the_screen(qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from app.ui.main_window import MainWindow
    w = MainWindow()
    qtbot.addWidget(w)
    seen = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: seen.append(box.geometry().center()) or 0)
    w.ask("Recover unsaved work?", "Recover it?", ["Recover", "Discard"])
    centre = (w.screen() or QApplication.primaryScreen()).availableGeometry().center()
    assert (seen[0] - centre).manhattanLength() < 20


def test_missing_libxcb_cursor_is_one_clear_line(monkeypatch, capsys):
    import ctypes.util
    import sys

    from app.cli import main
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert main(["gui"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libxcb-cursor.so.0" in err[0] and "apt install libxcb-cursor0" in err[0]
    # what the xcb plugin itself lacks is named too, with its package
    from app.ui import command
    monkeypatch.setattr(command, "missing_libraries",
                        lambda: ["libxcb-icccm.so.4", "libxkbcommon-x11.so.0"])
    assert main(["gui"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "apt install libxcb-icccm4 libxkbcommon-x11-0" in err[0]


def test_edge_labels_are_never_under_a_node(win):
    e = win.scene.edges[("n2", "n3")]
    r = e.label_rect()
    assert r.isValid()
    # drag-free: put another node right on the label
    win.doc.move({"n11": (r.center().x() - 80, r.center().y() - 40)})
    settle(win)
    node = win.scene.nodes["n11"]
    box = QRectF(node.pos().x(), node.pos().y(), 160, node.height)
    assert not e.label_rect().intersects(box)
    for edge in win.scene.edges.values():  # and no label of the example sits under a node
        for it in win.scene.nodes.values():
            if edge.label_rect().isValid():
                assert not edge.label_rect().intersects(
                    QRectF(it.pos().x(), it.pos().y(), 160, it.height)), (edge.key, it.node_id)


def test_the_empty_canvas_hint_is_repainted_whole_when_it_comes_and_goes(win):
    from PySide6.QtCore import QEvent, QObject

    class Paints(QObject):
        rects = []

        def eventFilter(self, obj, ev):
            if ev.type() == QEvent.Type.Paint:
                self.rects.append(ev.rect())
            return False

    vp = win.view.viewport()
    spy = Paints()
    vp.installEventFilter(spy)
    win.new_document()
    settle(win)
    for make in (lambda: win.doc.add_node("Input", (0, 0)), win.doc.stack.undo):
        spy.rects.clear()
        make()
        for _ in range(3):
            QApplication.processEvents()
        assert any(r.contains(vp.rect()) for r in spy.rects)  # not only the node's own area
    vp.removeEventFilter(spy)


def test_a_fitted_view_stays_fitted_when_the_window_changes_size(win, qtbot):
    win.resize(1920, 1080)
    win.view.fit_all()
    win.resize(1024, 700)  # the docks resize after the window: the canvas shrinks twice
    qtbot.waitUntil(lambda: shows_everything(win), timeout=3000)
    win.view.set_zoom(1.0)  # once the user zooms, a resize leaves the view alone
    zoom = win.view.zoom()
    win.resize(1400, 850)
    settle(win)
    QApplication.processEvents()
    assert win.view.zoom() == zoom
