"""Small builders shared by the tests."""
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
