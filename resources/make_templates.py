"""Writes the template projects in resources/templates/ (run: python -m resources.make_templates).

The JSON files are what ships and what users open; this script is how they were made, so
that a change to a template is a reviewable change here. tests/test_templates.py checks that
the files and this script agree.
"""
from __future__ import annotations

from pathlib import Path

from app.graph import NetGraph
from app.project import dumps_project

DX, DY = 230.0, 130.0


class Builder:
    """Lays nodes out left to right while a template is written down."""

    def __init__(self, name: str, shape: list[int]):
        self.g = NetGraph(name)
        self.col = 0
        self.last = self.g.add_node("Input", {"shape": shape}, pos=(0, 0))

    def add(self, type_id: str, label: str = "", after: str | None = None, row: float = 0,
            repeat: int = 1, **params) -> str:
        self.col += 1
        n = self.g.add_node(type_id, params, label, pos=(self.col * DX, row * DY), repeat=repeat)
        self.g.connect(after or self.last, n)
        self.last = n
        return n

    def join(self, type_id: str, sources: list[str], label: str = "") -> str:
        self.col += 1
        n = self.g.add_node(type_id, {}, label, pos=(self.col * DX, 0))
        for s in sources:
            self.g.connect(s, n)
        self.last = n
        return n


def vgg16() -> NetGraph:
    b = Builder("VGG-16", [3, 224, 224])
    for i, (f, c) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], 1):
        b.add("VGGBlock", f"block{i}", filters=f, convs=c)
    b.add("Flatten")
    b.add("Linear", "fc1", units=4096, activation="relu")
    b.add("Dropout", rate=0.5)
    b.add("Linear", "fc2", units=4096, activation="relu")
    b.add("Dropout", rate=0.5)
    b.add("Linear", "classifier", units=1000)
    return b.g


def resnet(name: str, block: str, layers: list[int]) -> NetGraph:
    b = Builder(name, [3, 224, 224])
    b.add("ResNetStem", "stem", filters=64)
    for stage, (filters, count) in enumerate(zip((64, 128, 256, 512), layers), 1):
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            b.add(block, f"layer{stage}.{i}", filters=filters, stride=stride)
    b.add("GlobalAvgPool", "avgpool")
    b.add("Linear", "fc", units=1000)
    return b.g


def googlenet() -> NetGraph:
    b = Builder("GoogLeNet-style", [3, 224, 224])
    b.add("Conv2d", "conv1", filters=64, kernel_size=7, stride=2, batch_norm=True)
    b.add("MaxPool2d", pool_size=3, stride=2, padding="same")
    b.add("Conv2d", "conv2", filters=64, kernel_size=1, batch_norm=True)
    b.add("Conv2d", "conv3", filters=192, kernel_size=3, batch_norm=True)
    b.add("MaxPool2d", pool_size=3, stride=2, padding="same")
    table = {
        "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "pool": None,
        "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
        "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
        "4e": (256, 160, 320, 32, 128, 128), "pool2": None,
        "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
    }
    for name, f in table.items():
        if f is None:
            b.add("MaxPool2d", pool_size=3, stride=2, padding="same")
            continue
        keys = ("f1", "f3_reduce", "f3", "f5_reduce", "f5", "pool_proj")
        b.add("Inception", f"inception{name}", batch_norm=True, **dict(zip(keys, f)))
    b.add("GlobalAvgPool")
    b.add("Dropout", rate=0.4)
    b.add("Linear", "fc", units=1000)
    return b.g


def inception_resnet(version: int) -> NetGraph:
    v = f"v{version}"
    b = Builder(f"Inception-ResNet-{v}", [3, 299, 299])
    b.add("InceptionStem", "stem", variant="resnet_v1" if version == 1 else "v4")
    # Repeats: 5× A, 10× B, 5× C, each one node drawn with a ×N badge.
    b.add("InceptionResNetA", "block35", variant=v, scale=0.17, repeat=5)
    klmn = (192, 192, 256, 384) if version == 1 else (256, 256, 384, 384)
    b.add("ReductionA", "reduction_a", **dict(zip("klmn", klmn)))
    b.add("InceptionResNetB", "block17", variant=v, scale=0.10, repeat=10)
    b.add("ReductionB", "reduction_b", variant=f"resnet_{v}")
    b.add("InceptionResNetC", "block8", variant=v, scale=0.20, repeat=5)
    b.add("GlobalAvgPool")
    b.add("Dropout", rate=0.2)
    b.add("Linear", "logits", units=1000)
    return b.g


def hybrid() -> NetGraph:
    """The seeds' hybrid: VGG blocks shallow, Inception in the middle, residual deep."""
    b = Builder("Hybrid CNN (example)", [3, 32, 32])
    b.add("VGGBlock", "vgg1", filters=32, convs=2, batch_norm=True)
    b.add("VGGBlock", "vgg2", filters=64, convs=2, batch_norm=True)
    b.add("Inception", "inception", f1=32, f3_reduce=48, f3=64, f5_reduce=8, f5=16,
          pool_proj=16, batch_norm=True)
    trunk = b.last
    # A residual connection drawn by hand, so the example shows a join on the canvas.
    b.add("Conv2d", "res_conv1", row=-1, filters=128, kernel_size=3, batch_norm=True)
    b.add("Conv2d", "res_conv2", row=-1, filters=128, kernel_size=3, batch_norm=True,
          activation="none")
    b.join("Add", [trunk, b.last], "skip")
    b.add("Activation", function="relu")
    b.add("Bottleneck", "deep", filters=64, stride=2)
    b.add("GlobalAvgPool")
    b.add("Dropout", rate=0.2)
    b.add("Linear", "classifier", units=10)
    return b.g


TEMPLATES = {
    "hybrid": hybrid,
    "vgg16": vgg16,
    "resnet18": lambda: resnet("ResNet-18", "Residual", [2, 2, 2, 2]),
    "resnet50": lambda: resnet("ResNet-50", "Bottleneck", [3, 4, 6, 3]),
    "googlenet": googlenet,
    "inception_resnet_v1": lambda: inception_resnet(1),
    "inception_resnet_v2": lambda: inception_resnet(2),
}


# Templates made by importing torchvision's own models (issue 11): file stem → (torchvision
# builder, its kwargs, input shape, project name). `python -m resources.make_templates` needs
# torchvision for these; tests/test_import_torch.py checks that the importer still gives them.
IMPORTED = {
    "resnet34": ("resnet34", {}, [3, 224, 224], "ResNet-34 (torchvision)"),
    "resnext50_32x4d": ("resnext50_32x4d", {}, [3, 224, 224], "ResNeXt-50 32x4d (torchvision)"),
    "densenet121": ("densenet121", {}, [3, 224, 224], "DenseNet-121 (torchvision)"),
    "mobilenet_v2": ("mobilenet_v2", {}, [3, 224, 224], "MobileNetV2 (torchvision)"),
    "inception_v3": ("inception_v3", {"aux_logits": False, "init_weights": True},
                     [3, 299, 299], "Inception-v3 (torchvision)"),
    "googlenet_torchvision": ("googlenet", {"aux_logits": False, "init_weights": True},
                              [3, 224, 224], "GoogLeNet (torchvision)"),
    "squeezenet1_1": ("squeezenet1_1", {}, [3, 224, 224], "SqueezeNet 1.1 (torchvision)"),
}


def imported(name: str) -> NetGraph:
    """The template for IMPORTED[name], made by importing torchvision's model."""
    import sys

    # torchvision's model code beside any torch: tests/helpers.py, the one way to get it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import import_torchvision

    from app.importers.torch_import import import_module
    from app.project import project_from_dict
    builder, kwargs, shape, title = IMPORTED[name]
    model = getattr(import_torchvision().models, builder)(**kwargs)
    project = import_module(model, title, shape).project
    return project_from_dict(project)


def main() -> None:
    out = Path(__file__).resolve().parent / "templates"
    out.mkdir(exist_ok=True)
    makers = dict(TEMPLATES)
    makers.update({name: (lambda n=name: imported(n)) for name in IMPORTED})
    for name, make in makers.items():
        g = make()
        problems = g.problems()
        assert not problems, (name, problems)
        (out / f"{name}.json").write_text(dumps_project(g), encoding="utf-8")
        t = g.totals()
        print(f"{name}: {t['total_params']:,} params, {t['total_macs']:,} MACs, "
              f"output {t['output_shape']}")


if __name__ == "__main__":
    main()
