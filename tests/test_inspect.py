"""Feature maps and Grad-CAM: the maths on a hand-built net, and `netcanvas inspect`."""
import numpy as np
import pytest
import torch
from helpers import MEAN, STD, chain, picture, quadrant_net
from PIL import Image

from app import cli
from app.compile import compile_graph
from app.inspect import Inspector, feature_maps, grad_cam
from app.inspect.core import InspectError
from app.project import save_project
from app.train.checkpoint import save_checkpoint


def quadrant_means(cam):
    h, w = cam.shape[0] // 2, cam.shape[1] // 2
    return {"tl": float(cam[:h, :w].mean()), "tr": float(cam[:h, w:].mean()),
            "bl": float(cam[h:, :w].mean()), "br": float(cam[h:, w:].mean())}


def test_grad_cam_lights_the_quadrant_the_answer_depends_on():
    g, ids, model = quadrant_net()
    ins = Inspector(g, model, ["tl", "br"], MEAN, STD)
    image = picture(tl=1.0, br=0.2)  # both squares present, top-left stronger
    cam, probs, k = grad_cam(ins, ids[1], image)
    assert k == 0 and probs[0] > 0.5 and cam.shape == (8, 8)
    q = quadrant_means(cam)
    assert q["tl"] > 0.9 and max(q["tr"], q["bl"], q["br"]) < 0.05, q
    cam, probs, k = grad_cam(ins, ids[1], image, cls=1)  # explain the other class
    q = quadrant_means(cam)
    assert k == 1 and q["br"] > 0.9 and max(q["tl"], q["tr"], q["bl"]) < 0.05, q


def test_feature_maps_are_the_nodes_output():
    g, ids, model = quadrant_net()
    ins = Inspector(g, model, ["tl", "br"], MEAN, STD)
    maps, probs = feature_maps(ins, ids[1], picture(tl=1.0, br=0.0))
    assert maps.shape == (2, 8, 8) and abs(float(probs.sum()) - 1) < 1e-6
    assert torch.allclose(maps[0, :4, :4], torch.ones(4, 4))   # relu(+1)
    assert torch.allclose(maps[1, 4:, 4:], torch.ones(4, 4))   # relu(-(-1))
    assert float(maps[:, :4, 4:].abs().max()) == 0.0           # grey: nothing
    with pytest.raises(InspectError, match="Grad-CAM needs a node with a \\[C, H, W\\]"):
        grad_cam(ins, ids[2], picture())
    with pytest.raises(InspectError, match="no node 'nope'"):
        feature_maps(ins, "nope", picture())


@pytest.fixture
def project(tmp_path):
    g, ids, model = quadrant_net()
    path = tmp_path / "q.json"
    save_project(g, path)
    save_checkpoint(tmp_path / "last.pt", {
        "model": model.state_dict(), "classes": ["tl", "br"],
        "normalization": {"mean": MEAN, "std": STD}, "epoch": 1})
    img = (picture(tl=1.0, br=0.2)[0].numpy() * 255).astype(np.uint8)
    Image.fromarray(img, "L").resize((32, 32), Image.Resampling.NEAREST).save(tmp_path / "q.png")
    return path, ids


def test_cli_writes_pictures(project, tmp_path, capsys):
    path, ids = project
    base = ["inspect", str(path), "--weights", str(tmp_path / "last.pt"),
            "--image", str(tmp_path / "q.png"), "--node", ids[1]]
    assert cli.main(base + ["--grad-cam", "-o", str(tmp_path / "cam.png")]) == 0
    assert capsys.readouterr().out.startswith("predicted: tl ")
    with Image.open(tmp_path / "cam.png") as im:
        a = np.asarray(im.convert("RGB")).astype(int)
    # the overlay (second picture) is red where the heat is: top-left, not bottom-right
    over = a[40:40 + 224, 20 + 224:20 + 448]
    red = over[..., 0] - over[..., 2]
    assert red[:112, :112].mean() > 60 and red[112:, 112:].mean() < 0
    assert cli.main(base + ["--grad-cam", "--class", "br", "-o", str(tmp_path / "c2.png")]) == 0
    assert cli.main(base + ["--feature-maps", "-o", str(tmp_path / "maps.png")]) == 0
    assert (tmp_path / "maps.png").stat().st_size > 0


@pytest.mark.parametrize("change, message", [
    ({"--node": "n9"}, "no node 'n9' in the network; its nodes are"),
    ({"--grad-cam": None, "--class": "cat"}, "no class 'cat'; the classes are tl, br"),
    ({"--image": "missing.png"}, "missing.png: no such image file"),
    ({"--image": "digits:5000"}, "the digits are digits:0 … digits:1796"),
    ({"--weights": "missing.pt"}, "missing.pt: no such checkpoint file"),
])
def test_cli_bad_input_gets_a_message(project, tmp_path, capsys, change, message):
    path, ids = project
    args = {"--weights": str(tmp_path / "last.pt"), "--image": str(tmp_path / "q.png"),
            "--node": ids[1], "--feature-maps": None, "-o": str(tmp_path / "x.png")}
    if "--grad-cam" in change:
        del args["--feature-maps"]
    args.update(change)
    argv = ["inspect", str(path)] + [a for k, v in args.items() for a in (k, v) if a is not None]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_weights_of_another_network(project, tmp_path, capsys):
    path, ids = project
    other, _ = chain(("Conv2d", {"filters": 3}), "GlobalAvgPool", ("Linear", {"units": 2}),
                     shape=(1, 8, 8))
    save_checkpoint(tmp_path / "other.pt", {"model": compile_graph(other).state_dict(), "epoch": 1})
    assert cli.main(["inspect", str(path), "--weights", str(tmp_path / "other.pt"), "--image",
                     "digits:0", "--node", ids[1], "--feature-maps", "-o",
                     str(tmp_path / "x.png")]) == 1
    assert "do not fit the graph 'quadrants'" in capsys.readouterr().err
