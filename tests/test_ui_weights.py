"""The editor's import and attached weights: File ▸ Import (importer monkeypatched to an
honest result made from a project), refusals, drops, weights kept or dropped per edit and
given back by undo, save → reopen, exports with them, fine-tuning from them."""
import threading

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("safetensors")

import torch  # noqa: E402
from helpers import chain, tiny_net  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

_APP = QApplication.instance() or QApplication([])

from app import importers  # noqa: E402
from app.compile import compile_graph  # noqa: E402
from app.importers import ImportRefused, ImportResult  # noqa: E402
from app.project import load_project  # noqa: E402
from app.ui.import_dialog import parse_request  # noqa: E402
from app.ui.main_window import MainWindow  # noqa: E402
from app.weights_store import sidecar_path  # noqa: E402
from resources import templates  # noqa: E402


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCANVAS_DATA_DIR", str(tmp_path / "data"))


class Dialogs:
    def __init__(self, save_to=None):
        self.asked, self.warned, self.told = [], [], []
        self.save_to = save_to

    def install(self, w):
        w.ask = lambda title, text, buttons: self.asked.append((title, text)) or "Discard"
        w.warn = lambda title, text: self.warned.append((title, text))
        w.info = lambda title, text: self.told.append((title, text))
        w.save_path = lambda *a: str(self.save_to) if self.save_to else ""
        w.open_path = lambda *a: ""
        return w


def pretrained(graph, seed=5):
    """A model of `graph` with weights no fresh initialisation gives, and its state_dict."""
    torch.manual_seed(seed)
    model = compile_graph(graph)
    with torch.no_grad():
        for k, t in model.state_dict().items():
            if k.endswith("running_var"):
                t.uniform_(0.5, 1.5)  # a variance is positive
            elif t.is_floating_point():
                t.normal_(0, 0.3)
            if k.endswith("linear.bias"):
                t[0] = 4.0  # a head sure of class 0: a loss no fresh start has
    return model.eval(), {k: v.clone() for k, v in model.state_dict().items()}


def small():
    g, _ = chain(("Conv2d", {"filters": 8, "batch_norm": True}), ("Conv2d", {"filters": 8}),
                 "GlobalAvgPool", ("Linear", {"units": 5}), shape=(3, 16, 16), name="small")
    return g


class FakeImporter:
    """import_source as the importers will be: a project dict and its weights."""

    def __init__(self, make=small, gate: threading.Event | None = None):
        self.make, self.gate, self.calls = make, gate, []

    def __call__(self, source, input_shape=None, kwargs=None):
        self.calls.append((source, input_shape, kwargs))
        if self.gate is not None:
            assert self.gate.wait(30)
        g = self.make()
        self.model, state = pretrained(g)
        return ImportResult(g.to_dict(), state, ["traced 4 modules", "BatchNorm folded: none"])


def window(qtbot, dialogs, monkeypatch, importer=None, **kw):
    if importer is not None:
        monkeypatch.setattr(importers, "import_source", importer)
    w = dialogs.install(MainWindow(**kw))
    qtbot.addWidget(w)
    return w


def imported(qtbot, w, source="torchvision.models:resnet18", **kw):
    assert w.start_import(source, **kw)
    qtbot.waitUntil(lambda: not w.importing(), timeout=30_000)
    QApplication.processEvents()


def test_import_opens_an_untitled_document_with_its_weights(qtbot, tmp_path, monkeypatch):
    gate = threading.Event()
    fake = FakeImporter(gate=gate)
    d = Dialogs(save_to=tmp_path / "mine")
    w = window(qtbot, d, monkeypatch, fake)
    w.show()
    before = w.doc.graph
    assert w.start_import("torchvision.models:resnet18", [3, 16, 16], {"num_classes": 5})
    # the import runs in a worker: the window goes on, with a busy bar
    qtbot.wait(100)
    assert w.importing() and w.import_busy.isVisible() and not w.import_action.isEnabled()
    assert w.doc.graph is before
    gate.set()
    qtbot.waitUntil(lambda: not w.importing(), timeout=30_000)
    assert fake.calls == [("torchvision.models:resnet18", [3, 16, 16], {"num_classes": 5})]
    assert w.doc.graph is not before and w.doc.graph.name == "small"
    assert w.doc.path is None and w.doc.is_modified()
    n = len(compile_graph(w.doc.graph).state_dict())
    assert w.doc.weights.coverage(w.doc.graph) == (n, n)
    status = w.statusBar().currentMessage()
    assert "weights for" in status and "traced 4 modules" in status
    assert not w.import_busy.isVisible() and w.import_action.isEnabled()
    assert QApplication.overrideCursor() is None
    # the inspector says which nodes carry weights
    conv = w.doc.graph.topological_order()[1]
    w.scene.select_nodes([conv])
    QApplication.processEvents()
    assert "weights: imported" in w.inspector.stats.text()
    # unsaved: Ctrl+S asks where, and the weights go beside the project
    assert w.save()
    assert (tmp_path / "mine.json").exists() and sidecar_path(tmp_path / "mine.json").exists()


def test_a_refusal_is_one_line_in_a_message_box(qtbot, monkeypatch):
    line = "net.onnx: node 'loop_1' is a Loop — supported: Conv, Relu, Add, … (see README)"

    def refuse(source, input_shape=None, kwargs=None):
        raise ImportRefused(line)
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, refuse)
    before = w.doc.graph
    imported(qtbot, w, "net.onnx")
    assert d.warned == [("Cannot import this model", line)]
    assert w.doc.graph is before and not w.doc.weights
    assert QApplication.overrideCursor() is None and w.import_action.isEnabled()


def test_an_importer_bug_is_one_line_too(qtbot, monkeypatch):
    def broken(source, input_shape=None, kwargs=None):
        raise KeyError("conv1")
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, broken)
    imported(qtbot, w, "m.py:Net")
    (_title, text), = d.warned
    assert "\n" not in text and "KeyError" in text and "m.py:Net" in text


def test_dropping_a_model_file_imports_it(qtbot, tmp_path, monkeypatch):
    fake = FakeImporter()
    w = window(qtbot, Dialogs(), monkeypatch, fake)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"")
    w.open_dropped([str(onnx)])
    qtbot.waitUntil(lambda: not w.importing(), timeout=30_000)
    assert fake.calls[0][0] == str(onnx) and w.doc.weights
    asked = []
    w.ask_import = lambda source="": asked.append(source) or (f"{source}:Net", None, None)
    py = tmp_path / "net.py"
    py.write_text("")
    w.open_dropped([str(py)])  # a .py file: the dialog asks for the class
    qtbot.waitUntil(lambda: not w.importing(), timeout=30_000)
    assert asked == [str(py)] and fake.calls[1][0] == f"{py}:Net"


def test_the_dialogs_fields():
    assert parse_request("torchvision.models:resnet18", "", '{"num_classes": 10}', "3,224,224") \
        == ("torchvision.models:resnet18", [3, 224, 224], {"num_classes": 10})
    assert parse_request("/x/net.py", "Net", "", "") == ("/x/net.py:Net", None, None)
    assert parse_request("m.onnx", "", "", "") == ("m.onnx", None, None)
    for args, said in [(("net.py", "", "", ""), "class or factory"),
                       (("resnet18", "", "", ""), "package.module:callable"),
                       (("a:b", "", "{num_classes: 1}", ""), "not JSON"),
                       (("a:b", "", "[1]", ""), "JSON object"),
                       (("a:b", "", "", "3,x,2"), "whole numbers"),
                       (("a:b", "", "", "3,0,2"), "positive")]:
        with pytest.raises(ValueError, match=said):
            parse_request(*args)


def test_edits_keep_or_drop_weights_and_undo_gives_them_back(qtbot, monkeypatch):
    w = window(qtbot, Dialogs(), monkeypatch, FakeImporter())
    imported(qtbot, w)
    doc = w.doc
    inp, conv1, conv2, _pool, fc = doc.graph.topological_order()
    full = {n: dict(t) for n, t in doc.weights.by_node.items()}
    doc.rename(conv1, "first")
    doc.move({conv2: (600.0, 80.0)})
    doc.set_param(conv1, "activation", "none")
    assert set(doc.weights.by_node) == set(full)
    doc.set_param(conv1, "filters", 16, merge=False)  # conv1 and what reads it change
    assert set(doc.weights.by_node) == {fc}
    # a drag of the input's shape in small steps merges into one undo step
    doc.set_param(inp, "shape", [3, 20, 20])
    doc.set_param(inp, "shape", [4, 20, 20])  # merged: conv1's input channels now change
    assert set(doc.weights.by_node) == {fc}
    doc.stack.undo()  # the merged input edit
    assert set(doc.weights.by_node) == {fc}
    doc.stack.undo()  # the filters edit: conv1 and conv2 come back, the very tensors
    assert set(doc.weights.by_node) == set(full)
    assert all(doc.weights.by_node[n][k] is full[n][k] for n in full for k in full[n])
    doc.stack.redo()
    assert set(doc.weights.by_node) == {fc}
    doc.stack.undo()
    doc.delete([fc])
    assert not doc.weights.has(fc)
    doc.stack.undo()
    assert doc.weights.has(fc) and doc.weights.coverage(doc.graph)[0] == sum(
        len(t) for t in full.values())
    # grouping is an undo step too (its nodes leave the top graph) and undo restores them
    doc.group([conv1, conv2], "Pair", "#888888")
    doc.stack.undo()
    assert set(doc.weights.by_node) == set(full)


def test_merged_input_edit_that_drops_is_undone_in_one_step(qtbot, monkeypatch):
    w = window(qtbot, Dialogs(), monkeypatch, FakeImporter())
    imported(qtbot, w)
    doc = w.doc
    inp, conv1 = doc.graph.topological_order()[:2]
    n = doc.weights.tensor_count()
    doc.set_param(inp, "shape", [3, 20, 20])  # no tensor changes shape
    doc.set_param(inp, "shape", [4, 20, 20])  # merged into it: conv1's weight changes
    assert doc.stack.count() == 1 and not doc.weights.has(conv1)
    doc.stack.undo()
    assert doc.weights.tensor_count() == n


def test_save_and_reopen_keeps_the_weights(qtbot, tmp_path, monkeypatch):
    fake = FakeImporter()
    d = Dialogs(save_to=tmp_path / "net.json")
    w = window(qtbot, d, monkeypatch, fake)
    imported(qtbot, w)
    assert w.save()
    path = tmp_path / "net.json"
    other = window(qtbot, Dialogs(), monkeypatch, None, graph=load_project(path), path=path)
    n = len(compile_graph(other.doc.graph).state_dict())
    assert other.doc.weights.coverage(other.doc.graph) == (n, n)
    model = compile_graph(other.doc.graph).eval()
    other.doc.weights.apply_to(model, other.doc.graph)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x), fake.model(x))
    # Open… attaches them too; a sidecar that no longer fits is said once, no traceback
    from safetensors.torch import save_file
    _, wrong = pretrained(chain(("Conv2d", {"filters": 3}), shape=(3, 16, 16))[0])
    save_file(wrong, str(sidecar_path(path)))
    d2 = Dialogs()
    third = window(qtbot, d2, monkeypatch, None)
    assert third.open_file(str(path))
    assert len(d2.warned) == 1 and "another shape" in d2.warned[0][1]
    assert not third.doc.weights.has(third.doc.graph.topological_order()[1])


def test_exports_use_the_attached_weights(qtbot, tmp_path, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    fake = FakeImporter()
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, fake)
    imported(qtbot, w)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        want = fake.model(x).numpy()
    d.save_to = tmp_path / "net.onnx"
    w.export_onnx(wait=True)
    qtbot.waitUntil(lambda: any(t == "ONNX export" for t, _ in d.told), timeout=60_000)
    session = ort.InferenceSession(str(tmp_path / "net.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert abs(got - want).max() <= 1e-5 * max(1.0, abs(want).max())
    d.save_to = tmp_path / "net.py"
    w.export_python()
    assert (tmp_path / "net.safetensors").exists()
    import importlib.util

    from safetensors.torch import load_file

    from app.export import network_class_name
    spec = importlib.util.spec_from_file_location("exported_net", tmp_path / "net.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = getattr(mod, network_class_name(w.doc.graph))()
    net.load_state_dict(load_file(str(tmp_path / "net.safetensors")))
    with torch.no_grad():
        assert torch.equal(net.eval()(x), fake.model(x))
    d.save_to = tmp_path / "w.safetensors"
    assert w.export_weights()
    model = compile_graph(w.doc.graph).eval()
    model.load_state_dict(load_file(str(tmp_path / "w.safetensors")))
    with torch.no_grad():
        assert torch.equal(model(x), fake.model(x))


def test_training_starts_from_the_imported_weights(qtbot, tmp_path, monkeypatch):
    from test_train_weights import expected_first_loss

    from app.train import TrainConfig
    fake = FakeImporter(make=tiny_net)
    w = window(qtbot, Dialogs(), monkeypatch, fake)
    imported(qtbot, w)
    panel = w.ensure_train_panel()
    n = len(compile_graph(w.doc.graph).state_dict())
    assert panel.start_from_combo.currentText() == \
        f"starting from imported weights ({n} of {n} tensors)"
    want = expected_first_loss(w.doc.graph, fake.model)
    # one batch holds the whole training split: the epoch's loss is the first step's
    panel.set_config(TrainConfig(epochs=1, batch_size=4096, normalize=False, augment=False,
                                 device="cpu", out_dir=str(tmp_path / "run")))
    losses = []
    for choice in ("weights", "scratch"):
        panel.start_from_combo.setCurrentIndex(panel.start_from_combo.findData(choice))
        with qtbot.waitSignal(panel.finished, timeout=120_000) as done:
            assert panel.start()
        assert done.args[0].status == "finished", panel.error_label.text()
        qtbot.waitUntil(lambda: not panel.is_running(), timeout=10_000)
        losses.append(panel.curves.train_loss[0][1])  # (epoch, loss)
    assert losses[0] == pytest.approx(want, rel=1e-5)
    assert abs(losses[1] - want) > 0.05
    # Keep: the run's weights become the network's (marked unsaved, used by the next run)
    w.doc.stack.setClean()
    assert panel.keep_button.isEnabled() and panel.keep_weights()
    trained = panel.result.model.state_dict()
    kept = w.doc.weights.state_dict(w.doc.graph)
    assert set(kept) == set(trained) and all(torch.equal(kept[k], trained[k].cpu())
                                             for k in kept)
    assert w.doc.is_modified() and w.doc.weights.source == "trained"
    assert panel.start_from_combo.currentText() == \
        f"starting from trained weights ({n} of {n} tensors)"
    # an edit that drops some weights: the panel says how many are left
    doc = w.doc
    fc = doc.graph.topological_order()[-1]
    doc.set_param(fc, "units", 7)
    doc.flush()
    QApplication.processEvents()
    have, total = doc.weights.coverage(doc.graph)
    assert have == n - 2 and f"({have} of {total} tensors)" in panel.start_from_combo.itemText(0)


def test_a_template_sized_import_keeps_the_resnet_numbers(qtbot, monkeypatch):
    """ResNet-18 as an importer would give it: every tensor attached; a channel edit in
    layer2.0 drops only that block and layer2.1, which reads its output (layer2.1 still
    gives 128 channels, so layer3.0 keeps its weights)."""
    def resnet18():
        return load_project(templates()["resnet18"])
    w = window(qtbot, Dialogs(), monkeypatch, FakeImporter(make=resnet18))
    imported(qtbot, w)
    doc = w.doc
    assert doc.weights.coverage(doc.graph) == (122, 122)
    layer = {doc.graph.node(n)["label"]: n for n in doc.graph.topological_order()}
    doc.set_param(layer["layer2.0"], "filters", 96, merge=False)
    gone = {n for n in layer.values() if n not in doc.weights.by_node and
            doc.graph.type_of(n) not in ("Input", "GlobalAvgPool")}
    assert gone == {layer["layer2.0"], layer["layer2.1"]}
    doc.stack.undo()
    assert doc.weights.coverage(doc.graph) == (122, 122)


def test_a_real_import_of_torchvision_resnet18(qtbot, tmp_path, monkeypatch):
    """File ▸ Import of the user's own factory (torchvision's ResNet-18 with a seed): the
    weights arrive attached, survive an edit elsewhere and its undo, and the ONNX export
    computes torchvision's outputs."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("app.importers.torch_import")
    from helpers import import_torchvision
    tv = import_torchvision()
    factory = tmp_path / "my_resnet.py"
    factory.write_text(
        "import torch\n"
        "from torchvision.models import resnet18\n\n\n"
        "def make(num_classes=10):\n"
        "    torch.manual_seed(7)\n"
        "    return resnet18(num_classes=num_classes)\n")
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, None)
    w.ask_import = lambda source="": parse_request(source, "make", '{"num_classes": 10}',
                                                   "3,64,64")
    w.open_dropped([str(factory)])
    qtbot.waitUntil(lambda: not w.importing(), timeout=120_000)
    assert not d.warned, d.warned
    doc = w.doc
    assert doc.weights.coverage(doc.graph) == (122, 122)
    assert doc.path is None and doc.is_modified()
    assert "resnet18" in w.statusBar().currentMessage().lower() or "make" in \
        w.statusBar().currentMessage()
    head = doc.graph.output_nodes()[0]
    doc.rename(head, "classifier")
    doc.set_param(head, "units", 4, merge=False)  # a new head: only its 2 tensors go
    assert doc.weights.coverage(doc.graph) == (120, 122)
    doc.stack.undo()
    assert doc.weights.coverage(doc.graph) == (122, 122)
    torch.manual_seed(7)
    reference = tv.models.resnet18(num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = reference(x).numpy()
    d.save_to = tmp_path / "r18.onnx"
    w.export_onnx(wait=True)
    qtbot.waitUntil(lambda: any(t == "ONNX export" for t, _ in d.told), timeout=120_000)
    session = ort.InferenceSession(str(tmp_path / "r18.onnx"))
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert abs(got - want).max() <= 1e-4 * max(1.0, abs(want).max())


def test_group_and_ungroup_carry_the_weights(qtbot, monkeypatch):
    fake = FakeImporter()
    w = window(qtbot, Dialogs(), monkeypatch, fake)
    imported(qtbot, w)
    doc = w.doc
    _inp, conv1, conv2, _pool, fc = doc.graph.topological_order()
    n = doc.weights.tensor_count()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        want = fake.model(x)

    def output():
        model = compile_graph(doc.graph).eval()
        assert doc.weights.apply_to(model, doc.graph) == (n, n)
        with torch.no_grad():
            return model(x)

    inst = doc.group([conv1, conv2], "Pair", "#888888")
    assert doc.weights.has(inst) and set(doc.weights.by_node) == {inst, fc}
    assert torch.equal(output(), want)
    doc.stack.undo()
    assert set(doc.weights.by_node) == {conv1, conv2, fc}
    doc.stack.redo()
    assert set(doc.weights.by_node) == {inst, fc} and torch.equal(output(), want)
    inner = doc.ungroup(inst)
    assert len(inner) == 2 and set(doc.weights.by_node) == {*inner, fc}
    assert torch.equal(output(), want)
    doc.stack.undo()
    assert set(doc.weights.by_node) == {inst, fc}


def test_dropping_a_real_onnx_file_opens_it_with_its_weights(qtbot, tmp_path, monkeypatch):
    """An .onnx file (exported here from a network with random weights) dropped on the
    window: the imported project with its weights attached computes what onnxruntime
    computes from the file."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("app.importers.onnx_import")
    from app.export import export_onnx
    source = small()
    model, _ = pretrained(source)
    path = tmp_path / "small.onnx"
    export_onnx(source, path, model=model)
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, None)
    w.open_dropped([str(path)])
    qtbot.waitUntil(lambda: not w.importing(), timeout=120_000)
    assert not d.warned, d.warned
    doc = w.doc
    have, total = doc.weights.coverage(doc.graph)
    assert have == total > 0 and doc.path is None
    x = torch.randn(2, 3, 16, 16)
    session = ort.InferenceSession(str(path))
    want = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    mine = compile_graph(doc.graph).eval()
    doc.weights.apply_to(mine, doc.graph)
    with torch.no_grad():
        got = mine(x).numpy()
    assert abs(got - want).max() <= 1e-5 * max(1.0, abs(want).max())


def test_recovered_work_gets_its_weights_back(qtbot, monkeypatch):
    import os

    from app.ui import files
    w = window(qtbot, Dialogs(), monkeypatch, FakeImporter())
    imported(qtbot, w)
    fc = w.doc.graph.topological_order()[-1]
    w.doc.set_param(fc, "units", 3)  # drops fc's weights; the rest stay
    kept = {n: dict(t) for n, t in w.doc.weights.by_node.items()}
    assert w.autosave_now() and w.autosave.weights_path.exists()
    # the "crash": the autosave and its weights are left behind under a dead process's id
    dead = files.autosave_dir() / "autosave-999999998-1.json"
    os.replace(w.autosave.path, dead)
    os.replace(w.autosave.weights_path, sidecar_path(dead))
    w.doc.stack.setClean()
    d2 = Dialogs()
    w2 = d2.install(MainWindow.__new__(MainWindow))
    w2.ask = lambda title, text, buttons: "Recover"
    MainWindow.__init__(w2, recover=True)
    qtbot.addWidget(w2)
    assert w2.doc.graph.node(fc)["params"]["units"] == 3
    assert set(w2.doc.weights.by_node) == set(kept) and fc not in kept
    assert all(torch.equal(w2.doc.weights.by_node[n][k], kept[n][k]) for n in kept for k in kept[n])
    assert not dead.exists() and not sidecar_path(dead).exists()
    w.autosave.remove()
    assert not w.autosave.weights_path.exists()


def test_user_code_that_exits_does_not_leave_the_import_stuck(qtbot, monkeypatch):
    import sys

    def exits(source, input_shape=None, kwargs=None):
        sys.exit(3)
    d = Dialogs()
    w = window(qtbot, d, monkeypatch, exits)
    imported(qtbot, w, "net.py:Net")
    assert d.warned and "SystemExit" in d.warned[0][1]
    assert w.import_action.isEnabled() and not w.importing()


def test_the_import_dialog(qtbot):
    from app.ui.import_dialog import ImportDialog
    dialog = ImportDialog(None, "/models/net.py")
    qtbot.addWidget(dialog)
    assert dialog.name_edit.isEnabled()  # a .py file: the class is asked for
    dialog.import_button.click()
    assert dialog.result() == 0 and "class or factory" in dialog.error_label.text()
    dialog.name_edit.setText("Net")
    dialog.kwargs_edit.setText('{"num_classes": 3}')
    dialog.shape_edit.setText("3x32x32")
    dialog.import_button.click()
    assert dialog.result() == 1
    assert dialog.result_request == ("/models/net.py:Net", [3, 32, 32], {"num_classes": 3})
    dialog.source_edit.setText("torchvision.models:resnet18")
    assert not dialog.name_edit.isEnabled()
