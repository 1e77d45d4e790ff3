"""Catalogue blocks recognised where they are exactly equivalent, checked by construction.

A recognition is never taken on a class name's word: the candidate catalogue module is built
for the same input shape, the source's tensors are copied into it in registration order
(every shape must agree) and it must compute the source's output on the import's example
input within float32 tolerance. What passes becomes one node with those weights; what does
not stays the finer-grained nodes it was (still exact, only less compact).

Three kinds of recognition, each a table that grows with the catalogue:
- FUSIONS: Conv2d → BatchNorm → activation into one Conv2d (batch_norm, activation);
- FOLDS: runs of nodes in one fragment that are a block (ResNet stem, VGG block);
- BLOCKS (match.py): a whole module that is a block (BasicBlock → Residual, Bottleneck…).
"""
from __future__ import annotations

from collections.abc import Callable

import torch

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


def drop_identities(frag: Fragment) -> None:
    """Identity nodes that only changed torch's view of a tensor (a gate's unit axes)."""
    for n in [n for n in frag.nodes if n.type == "Identity" and len(n.inputs) == 1]:
        src = n.inputs[0]
        frag.nodes.remove(n)
        for m in frag.nodes:
            m.inputs = [src if i is n else i for i in m.inputs]
        if frag.output is n:
            frag.output = src


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
    return bn.extra["eps"] == BN_EPS or fits("Conv2d", "eps", bn.extra["eps"])[0]


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
        ok, v = fits(type_id, name, value)
        if ok:
            n.params[name] = v
        elif name == "eps":
            raise refuse(n.where, f"BatchNorm eps {value}",
                         "the catalogue's BatchNorm has eps 1e-5 only")
        # momentum only matters when training: leave the default (noted by the importer)


# --- folds: runs of nodes that are one catalogue block ---------------------------------------

def bn_settings(n: Node) -> dict:
    """The BatchNorm eps/momentum a fused conv carries (set in finish, or still pending)."""
    bn = n.extra.get("bn") or {}
    return {k: v for k, v in (("eps", n.params.get("eps", bn.get("eps"))),
                              ("momentum", n.params.get("momentum", bn.get("momentum"))))
            if v is not None}


def _conv_is(n: Node, **want) -> bool:
    return n.type == "Conv2d" and all(n.params.get(k) == v for k, v in want.items())


def _stem(frag: Fragment, n: Node) -> tuple[list[Node], str, dict] | None:
    pool = _only_consumer(frag, n)
    if (pool is not None and _conv_is(n, kernel_size=7, stride=2, padding=3, dilation=1,
                                      groups=1, activation="relu", batch_norm=True)
            and pool.type == "MaxPool2d"
            and pool.params == {"pool_size": 3, "stride": 2, "padding": 1}):
        return [n, pool], "ResNetStem", {"filters": n.params["filters"], **bn_settings(n)}
    return None


def _vgg(frag: Fragment, n: Node) -> tuple[list[Node], str, dict] | None:
    like = {"kernel_size": 3, "stride": 1, "dilation": 1, "groups": 1, "activation": "relu"}
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
                                             "batch_norm": n.params["batch_norm"],
                                             **bn_settings(n)}
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
