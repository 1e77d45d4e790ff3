"""Catalogue blocks recognised where they are exactly equivalent, checked by construction.

A recognition is never taken on a class name's word: the candidate catalogue module is built
for the same input shape, the source's tensors are copied into it in registration order
(every shape must agree) and it must compute the source's output on the import's example
input within float32 tolerance. What passes becomes one node with those weights; what does
not stays the finer-grained nodes it was (still exact, only less compact).

Three kinds of recognition, each a table that grows with the catalogue:
- FUSIONS: Conv2d → BatchNorm → activation into one Conv2d (batch_norm, activation);
- FOLDS: runs of nodes in one fragment that are a block (ResNet stem, VGG block);
- BLOCKS: a whole module that is a block (BasicBlock → Residual, Bottleneck, DenseBlock…).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from blocks import REGISTRY, get_spec

from .fragment import Fragment, Node, refuse
from .primitives import fits, pshape

BN_EPS, BN_MOMENTUM = 1e-5, 0.1


def close(ours: torch.Tensor, theirs: torch.Tensor) -> tuple[bool, float]:
    """(within max|diff| ≤ 1e-5·max(1, max|y|), max|diff|), comparing flattened values."""
    a, b = ours.reshape(ours.shape[0], -1), theirs.reshape(theirs.shape[0], -1)
    if a.shape != b.shape:
        return False, float("inf")
    diff = (a - b).abs().max().item() if a.numel() else 0.0
    return diff <= 1e-5 * max(1.0, b.abs().max().item() if b.numel() else 0.0), diff


def try_block(type_id: str, params: dict, shapes: list[tuple], src: list[torch.Tensor],
              probe: tuple | None = None, n_params: int | None = None) -> dict | None:
    """The catalogue block's weights (its state_dict names → the source tensors) when it
    takes the source's tensors `src` (registration order, every shape equal) for inputs of
    per-sample `shapes`, and, given `probe` = (inputs, output), computes that output."""
    from app.graph.analysis import node_stats
    spec = REGISTRY.get(type_id)
    if spec is None:
        return None
    params, problems = spec.resolve(params)
    if problems:
        return None
    st = node_stats(type_id, params, shapes)
    if st.error or (n_params is not None and st.params != n_params):
        return None
    try:
        with torch.device("meta"):  # no memory and no initialisation: the source's go in
            module = spec.build(shapes, params)
    except (ValueError, RuntimeError, TypeError):
        return None
    target = module.state_dict()
    if len(target) != len(src) or any(tuple(t.shape) != tuple(s.shape)
                                      for t, s in zip(target.values(), src)):
        return None
    weights = dict(zip(target.keys(), src))
    if probe is None:
        return weights
    module.load_state_dict({k: v.detach() for k, v in weights.items()}, assign=True)
    module.eval()
    with torch.no_grad():
        try:
            out = module(*probe[0])
        except (ValueError, RuntimeError):
            return None
    return weights if close(out, probe[1])[0] else None


PROBE_SIZE = 12  # H and W of the crop a recognised module is checked on (the whole
# network is checked on the full input afterwards; this only decides the recognition)


def probe(m: nn.Module, x: torch.Tensor) -> tuple | None:
    """(inputs, output) of m on a small crop of its real input, or on all of it when m does
    not take the crop (a module that needs a minimum size)."""
    crop = x[..., :PROBE_SIZE, :PROBE_SIZE] if x.dim() == 4 else x
    for attempt in (crop, x):
        try:
            with torch.no_grad():
                return (attempt,), m(attempt)
        except Exception:  # noqa: BLE001 - too small for it: try the real size
            continue
    return None


# --- fusions ------------------------------------------------------------------------------

def _absorb(frag: Fragment, keep: Node, gone: Node) -> None:
    keep.value, keep.squeezed = gone.value, gone.squeezed
    frag.nodes.remove(gone)
    for n in frag.nodes:
        n.inputs = [keep if i is gone else i for i in n.inputs]
    if frag.output is gone:
        frag.output = keep


def _only_consumer(frag: Fragment, n: Node) -> Node | None:
    users = frag.consumers().get(n, [])
    return users[0] if len(users) == 1 and users[0].inputs == [n] and frag.output is not n \
        else None


def fuse(frag: Fragment) -> None:
    """conv → BN → activation and linear → activation, into one node each."""
    changed = True
    while changed:
        changed = False
        for n in list(frag.nodes):
            nxt = _only_consumer(frag, n)
            if nxt is None:
                continue
            if (n.type == "Conv2d" and nxt.type == "BatchNorm" and not n.params["batch_norm"]
                    and n.params["activation"] == "none"
                    and _bn_ok(nxt, n.extra.get("bias", n.params.get("bias", True)))):
                n.params["batch_norm"] = True
                n.weights.update(nxt.weights)
                n.extra["bn"] = nxt.extra
                _absorb(frag, n, nxt)
                changed = True
            elif (n.type in ("Conv2d", "Linear") and nxt.type == "Activation"
                  and n.params["activation"] == "none"
                  and fits(n.type, "activation", nxt.params["function"])[0]):
                n.params["activation"] = nxt.params["function"]
                _absorb(frag, n, nxt)
                changed = True
            if changed:
                break


def _bn_ok(bn: Node, conv_bias: bool) -> bool:
    """Can this BatchNorm go inside the conv before it (bias and eps expressible)?"""
    if conv_bias and not fits("Conv2d", "bias", True)[0]:
        return False
    return bn.extra["eps"] == BN_EPS or fits("Conv2d", "bn_eps", bn.extra["eps"])[0]


def finish(frag: Fragment) -> None:
    """Options each node needs beyond the defaults (bias, eps), or a refusal (BatchNorms
    first: a BatchNorm that could not join its conv says why, not the conv)."""
    for n in sorted(frag.nodes, key=lambda n: n.type != "BatchNorm"):
        if n.type == "Conv2d" and "bias" in n.extra:
            bias, bn = n.extra.pop("bias"), n.extra.pop("bn", None)
            if bias == (not n.params["batch_norm"]):
                pass  # the catalogue's convention: a bias exactly when there is no BatchNorm
            else:
                ok, n.params["bias"] = fits("Conv2d", "bias", bias)
                if not ok:
                    raise refuse(n.where, "a convolution with neither bias nor BatchNorm",
                                 "the catalogue has no such option yet")
            if bn is not None:
                _bn_options(n, "Conv2d", bn)
        elif n.type == "BatchNorm" and "eps" in n.extra:
            _bn_options(n, "BatchNorm", n.extra)
            n.extra.clear()


def _bn_options(n: Node, type_id: str, bn: dict) -> None:
    for name, value, default in (("eps", bn["eps"], BN_EPS),
                                 ("momentum", bn["momentum"], BN_MOMENTUM)):
        if value == default:
            continue
        pname = name if type_id == "BatchNorm" else f"bn_{name}"
        ok, v = fits(type_id, pname, value)
        if ok:
            n.params[pname] = v
        elif name == "eps":
            raise refuse(n.where, f"BatchNorm eps {value}",
                         "the catalogue's BatchNorm has eps 1e-5 only")
        # momentum only matters when training: leave the default (noted by the importer)


# --- folds: runs of nodes that are one catalogue block ---------------------------------------

def _conv_is(n: Node, **want) -> bool:
    return n.type == "Conv2d" and all(n.params.get(k) == v for k, v in want.items())


def _stem(frag: Fragment, n: Node) -> tuple[list[Node], str, dict] | None:
    pool = _only_consumer(frag, n)
    if (pool is not None and _conv_is(n, kernel_size=7, stride=2, padding=3, dilation=1,
                                      groups=1, activation="relu", batch_norm=True)
            and pool.type == "MaxPool2d"
            and pool.params == {"pool_size": 3, "stride": 2, "padding": 1}):
        return [n, pool], "ResNetStem", {"filters": n.params["filters"]}
    return None


def _vgg(frag: Fragment, n: Node) -> tuple[list[Node], str, dict] | None:
    like = dict(kernel_size=3, stride=1, dilation=1, groups=1, activation="relu")
    if not _conv_is(n, **like) or n.params["padding"] not in (1, "same"):
        return None
    run = [n]
    while True:
        nxt = _only_consumer(frag, run[-1])
        if nxt is None:
            return None
        if nxt.type == "MaxPool2d" and nxt.params.get("padding") in (0, "valid") and \
                {k: v for k, v in nxt.params.items() if k != "padding"} == \
                {"pool_size": 2, "stride": 2}:
            return run + [nxt], "VGGBlock", {"filters": n.params["filters"],
                                             "convs": len(run),
                                             "batch_norm": n.params["batch_norm"]}
        if not (_conv_is(nxt, **like) and nxt.params == run[-1].params):
            return None
        run.append(nxt)


FOLDS: list[Callable[[Fragment, Node], tuple[list[Node], str, dict] | None]] = [_stem, _vgg]


def fold(frag: Fragment) -> None:
    for rule in FOLDS:
        i = 0
        while i < len(frag.nodes):
            found = rule(frag, frag.nodes[i])
            if found:
                run, type_id, params = found
                src = [t for r in run for t in (r.weights or {}).values()]
                # the nodes are each exact already; the whole network is checked at the end
                w = try_block(type_id, params, [pshape(i.value) for i in run[0].inputs], src)
                if w is not None:
                    new = Node(type_id, get_spec(type_id).resolve(params)[0], run[0].inputs,
                               run[-1].value, label=run[0].label, weights=w,
                               where=run[0].where)
                    frag.replace(run, new)
            i += 1


# --- whole modules that are one catalogue block ----------------------------------------------

def _convs(m: nn.Module) -> list[torch.Tensor]:
    return [p for p in m.parameters() if p.dim() == 4]


def _has_bn(m: nn.Module) -> bool:
    return any(isinstance(c, nn.modules.batchnorm._BatchNorm) for c in m.modules())


def _stride(x, y) -> int:
    return max(1, x.shape[2] // max(1, y.shape[2]))


def _residual(m, x, y):
    return [{"filters": y.shape[1], "stride": _stride(x, y), "batch_norm": _has_bn(m)}]


def _bottleneck(m, x, y):
    c = _convs(m)
    if not c or y.shape[1] % c[0].shape[0]:
        return []
    return [{"filters": c[0].shape[0], "stride": _stride(x, y),
             "expansion": y.shape[1] // c[0].shape[0], "batch_norm": _has_bn(m)}]


def _dense(m, x, y):
    layers = len([w for w in _convs(m) if w.shape[-1] == 3])
    if not layers or (y.shape[1] - x.shape[1]) % layers:
        return []
    return [{"growth_rate": (y.shape[1] - x.shape[1]) // layers, "layers": layers}]


def _inception(m, x, y):
    c = _convs(m)
    if len(c) != 6:
        return []
    f1, r3, f3, r5, f5, pp = (w.shape[0] for w in c)
    return [{"f1": f1, "f3_reduce": r3, "f3": f3, "f5_reduce": r5, "f5": f5, "pool_proj": pp,
             "batch_norm": _has_bn(m)}]


BLOCKS: list[tuple[str, Callable[[nn.Module, Any, Any], list[dict]]]] = [
    ("Residual", _residual),
    ("Bottleneck", _bottleneck),
    ("DenseBlock", _dense),
    ("Inception", _inception),
]


def match_module(m: nn.Module, ins: list, y) -> Node | None:
    """The catalogue block `m` is, checked by construction; None when there is none."""
    if len(ins) != 1 or not isinstance(y, torch.Tensor) or ins[0].value.dim() != 4 \
            or y.dim() != 4:
        return None
    x = ins[0].value
    n_params = sum(p.numel() for p in m.parameters())
    src = list(m.state_dict(keep_vars=True).values())
    checked = None
    for type_id, propose in BLOCKS:
        if type_id not in REGISTRY:
            continue
        for params in propose(m, x, y):
            shapes = [pshape(x)]
            if try_block(type_id, params, shapes, src, None, n_params) is None:
                continue
            checked = checked or probe(m, x)
            w = try_block(type_id, params, shapes, src, checked) if checked else None
            if w is not None:
                return Node(type_id, get_spec(type_id).resolve(params)[0], list(ins), y,
                            weights=w)
    return None


# --- repeats ---------------------------------------------------------------------------------

def merge_repeats(frag: Fragment, one_input: Callable[[str], bool], max_repeat: int) -> None:
    """Consecutive identical nodes (same type and params, each the only user of the one
    before) become one node repeated ×N."""
    i = 0
    while i < len(frag.nodes):
        n = frag.nodes[i]
        run = [n]
        if n.repeat == 1 and not n.squeezed and one_input(n.type):
            while len(run) < max_repeat:
                nxt = _only_consumer(frag, run[-1])
                if (nxt is None or nxt.type != n.type or nxt.params != n.params
                        or nxt.repeat != 1 or nxt.squeezed):
                    break
                run.append(nxt)
        if len(run) > 1:
            new = Node(n.type, n.params, n.inputs, run[-1].value,
                       label=f"{n.label}–{run[-1].label}" if n.label else "",
                       weights=[r.weights for r in run], repeat=len(run), where=n.where)
            frag.replace(run, new)
        i += 1
