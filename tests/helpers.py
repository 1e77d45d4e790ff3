"""Small builders shared by the tests."""
import torch

from app.compile import compile_graph
from app.graph import NetGraph


def chain(*layers, shape=(3, 32, 32), name="test"):
    """Input → layers…; each layer is (type, params) or a type name. Returns (graph, ids)."""
    g = NetGraph(name)
    ids = [g.add_node("Input", {"shape": list(shape)})]
    for layer in layers:
        t, p = (layer, {}) if isinstance(layer, str) else layer
        n = g.add_node(t, p)
        g.connect(ids[-1], n)
        ids.append(n)
    return g, ids


def tiny_net(filters=8, units=10):
    """Conv2d(BatchNorm) → GlobalAvgPool → Linear on 1×8×8: trains on digits in moments."""
    g, _ = chain(("Conv2d", {"filters": filters, "batch_norm": True}), "GlobalAvgPool",
                 ("Linear", {"units": units}), shape=(1, 8, 8), name="tiny")
    return g


MEAN, STD = [0.5], [0.5]


def quadrant_net():
    """1×8×8 → 1×1 conv (ch0 = relu(x), ch1 = relu(-x)) → Flatten → Linear(2), where class 0
    reads ch0 in the top-left quadrant only and class 1 reads ch1 in the bottom-right only:
    each answer depends on one quadrant and on nothing else."""
    g, ids = chain(("Conv2d", {"filters": 2, "kernel_size": 1, "activation": "relu"}),
                   "Flatten", ("Linear", {"units": 2}), shape=(1, 8, 8), name="quadrants")
    model = compile_graph(g)
    sd = model.state_dict()
    conv_w = next(k for k in sd if k.endswith("weight") and sd[k].ndim == 4)
    lin_w = next(k for k in sd if k.endswith("weight") and sd[k].ndim == 2)
    with torch.no_grad():
        sd[conv_w].copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
        for k in sd:
            if k.endswith("bias"):
                sd[k].zero_()
        w = torch.zeros(2, 2, 8, 8)
        w[0, 0, :4, :4] = 1.0   # class 0 ← bright top-left
        w[1, 1, 4:, 4:] = 1.0   # class 1 ← dark bottom-right
        sd[lin_w].copy_(w.flatten(1))
    model.load_state_dict(sd)
    model.eval()
    return g, ids, model


def picture(tl=1.0, br=0.0):
    """Grey (0.5, which normalises to 0) with a top-left and a bottom-right square."""
    x = torch.full((1, 8, 8), 0.5)
    x[0, :4, :4] = tl
    x[0, 4:, 4:] = br
    return x


_TORCHVISION_OPS = []  # keeps the stand-in operator library alive for the session


def import_torchvision():
    """torchvision's model code (pure Python), even beside a torch it was not built for.

    The index's torchvision is compiled against the CUDA torch; beside the CPU torch its
    C++ ops fail to register and ``import torchvision`` raises "operator torchvision::nms does
    not exist" before any model code loads. The models never call those ops (detection ops:
    nms, roi_align, deform_conv2d…), so each missing op gets a stand-in schema, and the
    import is retried. With a matching torchvision this is a plain import.
    """
    import re
    import sys
    try:
        import torchvision
        return torchvision
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    lib = torch.library.Library("torchvision", "FRAGMENT")
    _TORCHVISION_OPS.append(lib)
    defined = set()
    while True:
        for name in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[name]
        try:
            import torchvision
            return torchvision
        except RuntimeError as exc:
            m = re.search(r"operator torchvision::(\w+) does not exist", str(exc))
            if not m or m.group(1) in defined:
                raise
            lib.define(f"{m.group(1)}(Tensor x) -> Tensor")
            defined.add(m.group(1))
