"""Weights attached to a project's nodes (imported or trained), GUI-free.

The tensors are kept per top-level node id, each under its name inside that node's module
(`conv.weight` of node n5, whose compiled attribute is `n5`): renaming, moving and edits
elsewhere leave them alone, and the state_dict names are made from the graph as it is when
they are needed (exports, training, the sidecar file).

After an edit `reconcile` drops the weights of the nodes that are gone or whose tensors no
longer have the shapes they had, and returns what it dropped (the undo command keeps it;
`restore` puts it back). Whether a node changed is decided cheaply: a node's signature
(type, params, repeat, input shapes, the version of its composite block) is compared
first; a node whose signature changed and whose closed-form parameter count (live
validation's, no torch) changed is dropped at once; only one whose count stayed the same
has its own module built, on the meta device (no memory, no initialisation), to compare
the shapes. A node that cannot be measured now
(a wire pulled off for a moment) keeps its weights until it can be.

Beside a saved project `net.json` the weights are `net.weights.safetensors` (safetensors
only, written atomically; keyed by the compiled project's state_dict names, so the
CLI's `export --weights` and `train --weights` take the same file). The project file stays
pure data. torch is imported only when there are weights.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .graph import NetGraph

SIDECAR_SUFFIX = ".weights.safetensors"

Dropped = dict[str, dict[str, Any]]  # node id → {name inside the node: tensor}


def sidecar_path(project: str | os.PathLike) -> Path:
    """`dir/net.json` → `dir/net.weights.safetensors`."""
    p = Path(project)
    return p.with_name((p.stem if p.suffix else p.name) + SIDECAR_SUFFIX)


class AttachedWeights:
    """Tensors per node; empty is the usual case (a drawn network)."""

    def __init__(self, source: str = "imported"):
        self.by_node: dict[str, dict[str, Any]] = {}
        self._signature: dict[str, tuple] = {}
        self._old_signature: dict[str, tuple | None] = {}  # of dropped nodes, for restore
        self._params: dict[str, int] = {}  # node → closed-form parameter count when verified
        self._counts: dict[str, tuple[tuple, int | None]] = {}  # node → (signature, tensors)
        self.source = source  # said in the inspector and the Train panel

    # ---- what is there ------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.by_node)

    def has(self, node: str) -> bool:
        return node in self.by_node

    def tensor_count(self) -> int:
        return sum(len(t) for t in self.by_node.values())

    def coverage(self, graph: NetGraph) -> tuple[int, int]:
        """(tensors attached that fit, tensors the compiled project has). A node's count is
        measured once per signature, so that the Train panel can say it after every edit."""
        have = total = 0
        for n in _module_nodes(graph):
            sig = signature(graph, n)
            if n in self.by_node and self._signature.get(n) == sig:
                count = len(self.by_node[n])  # checked at this signature: all of them fit
                have += count
            else:
                cached = self._counts.get(n)
                if cached is None or cached[0] != sig:
                    shapes = expected_shapes(graph, n)
                    cached = self._counts[n] = (sig, None if shapes is None else len(shapes))
                    if n in self.by_node and shapes is not None and shapes == {
                            k: tuple(v.shape) for k, v in self.by_node[n].items()}:
                        self._verified(graph, n, sig)
                count = cached[1] or 0
                if n in self.by_node and self._signature.get(n) == sig:
                    have += count
            total += count
        return have, total

    def state_dict(self, graph: NetGraph) -> dict[str, Any]:
        """The attached tensors under the compiled project's state_dict names (only those
        that fit the graph as it is now)."""
        from .compile import attribute_names
        names = attribute_names(graph)
        out = {}
        for node, tensors in self.by_node.items():
            if node not in names:
                continue
            if self._signature.get(node) != signature(graph, node):  # not checked as it is
                want = expected_shapes(graph, node)
                if want is None or {k: tuple(v.shape) for k, v in tensors.items()} != want:
                    continue
            for k, v in tensors.items():
                out[f"{names[node]}.{k}"] = v
        return out

    def apply_to(self, model, graph: NetGraph) -> tuple[int, int]:
        """Copy the attached tensors into a model compiled from `graph`; the others keep
        their fresh initialisation. Returns (tensors loaded, tensors of the model)."""
        import torch
        state = self.state_dict(graph)
        with torch.no_grad():
            model.load_state_dict(state, strict=False)
        return len(state), len(model.state_dict())

    # ---- attaching ----------------------------------------------------------------------
    @classmethod
    def from_state_dict(cls, graph: NetGraph, tensors: dict[str, Any], where: str = "the weights",
                        source: str = "imported") -> tuple[AttachedWeights, str | None]:
        """Attach tensors keyed by state_dict names; every name and shape is checked against
        the graph, and whatever does not fit is dropped with one message (else None)."""
        from .compile import attribute_names
        from .export.weights import WeightsError, check_weights
        store = cls(source)
        names = attribute_names(graph)
        node_of = {attr: node for node, attr in names.items()}
        model = _meta_model(graph)
        message = None
        try:
            check_weights(model, tensors, where, graph)
        except WeightsError as exc:
            fit = len(tensors) - len(exc.unexpected) - len(exc.mismatched)
            parts = []
            if exc.mismatched:
                k, f, m = exc.mismatched[0]
                parts.append(f"{len(exc.mismatched)} of another shape (first: {k} is "
                             f"{list(f)}, the project needs {list(m)})")
            if exc.unexpected:
                parts.append(f"{len(exc.unexpected)} the project has no place for "
                             f"(first: {exc.unexpected[0]})")
            if exc.missing:
                parts.append(f"{len(exc.missing)} of the project's tensors have none "
                             f"(first: {exc.missing[0]})")
            message = (f"{where}: {fit} of {len(tensors)} tensors fit the project; "
                       + "; ".join(parts) + " — the nodes they belong to start fresh")
        expected = model.state_dict()
        per_node: dict[str, dict[str, Any]] = {}
        for key, value in tensors.items():
            attr, _, inner = key.partition(".")
            node = node_of.get(attr)
            if node is None or key not in expected or \
                    tuple(expected[key].shape) != tuple(value.shape):
                continue
            per_node.setdefault(node, {})[inner] = value.detach()
        for node, got in per_node.items():
            want = {k[len(names[node]) + 1:] for k in expected
                    if k.startswith(names[node] + ".")}
            if set(got) == want:  # a node has all its tensors or none
                store.by_node[node] = got
                store._verified(graph, node, signature(graph, node))
        return store, message

    def save_sidecar(self, graph: NetGraph, project: str | os.PathLike) -> Path | None:
        """Write the weights beside the project (atomically); with none attached, a sidecar
        NetCanvas wrote before is removed, so that it cannot come back on the next open.
        Raises OSError when it cannot write."""
        path = sidecar_path(project)
        if not self:
            if path.exists() and _written_by_us(path):
                path.unlink()
            return None
        from safetensors.torch import save

        from .project import atomic_write
        state = {k: v.detach().to("cpu").contiguous() for k, v in self.state_dict(graph).items()}
        meta = {"format": "pt", "producer": "NetCanvas", "project": str(graph.name)}
        atomic_write(path, lambda f: f.write(save(state, metadata=meta)))
        return path

    # ---- edits --------------------------------------------------------------------------
    def reconcile(self, graph: NetGraph) -> Dropped:
        """Drop the weights of nodes that are gone or whose tensor shapes changed."""
        dropped: Dropped = {}
        for node in list(self.by_node):
            if node not in graph.g:
                dropped[node] = self.by_node.pop(node)
                self._forget(node)
                continue
            sig = signature(graph, node)
            if sig == self._signature.get(node):
                continue
            info = graph.info.get(node)
            count = info.params if info is not None and info.output_shape is not None else None
            if count is not None and node in self._params and count != self._params[node]:
                # the closed-form parameter count changed: some tensor's shape did, no build
                dropped[node] = self.by_node.pop(node)
                self._forget(node)
                continue
            want = expected_shapes(graph, node)
            if want is None:
                continue  # cannot be measured now: decided when it can
            have = {k: tuple(v.shape) for k, v in self.by_node[node].items()}
            if have == want:
                self._verified(graph, node, sig)
            else:
                dropped[node] = self.by_node.pop(node)
                self._forget(node)
        return dropped

    def _verified(self, graph: NetGraph, node: str, sig: tuple) -> None:
        """The node's tensors fit the graph at this signature (and parameter count)."""
        self._signature[node] = sig
        info = graph.info.get(node)
        if info is not None and info.output_shape is not None:
            self._params[node] = info.params

    def _forget(self, node: str) -> None:
        # the parameter count and the signature they were checked at stay with the node's
        # tensors: undo brings those very tensors back, to the graph as it was
        self._old_signature[node] = self._signature.pop(node, None)

    def attach(self, graph: NetGraph, node: str, tensors: dict[str, Any]) -> bool:
        """Attach tensors (names inside the node) to one node if they are exactly the
        node's tensors with their shapes (group and ungroup carry weights this way)."""
        want = expected_shapes(graph, node)
        if want is None or want != {k: tuple(v.shape) for k, v in tensors.items()}:
            return False
        self.by_node[node] = dict(tensors)
        self._verified(graph, node, signature(graph, node))
        return True

    def detach(self, node: str) -> dict[str, Any] | None:
        """Take a node's tensors off (the undo of `attach`)."""
        self._signature.pop(node, None)
        return self.by_node.pop(node, None)

    def restore(self, dropped: Dropped) -> None:
        """Put back what `reconcile` dropped (undo); checked again at the next reconcile."""
        for node, tensors in dropped.items():
            self.by_node[node] = tensors
            old = self._old_signature.pop(node, None)
            if old is not None:  # equal signatures, equal shapes: no check needed
                self._signature[node] = old


def load_sidecar(graph: NetGraph, project: str | os.PathLike
                 ) -> tuple[AttachedWeights | None, str | None]:
    """The weights saved beside a project (None when there is no sidecar or it cannot be
    read), and the one message about what did not fit or could not be read."""
    path = sidecar_path(project)
    if not path.is_file():
        return None, None
    from .export.weights import WeightsError, read_weights
    try:
        tensors = read_weights(path)
    except WeightsError as exc:
        return None, f"{exc} — the project opened without weights"
    return AttachedWeights.from_state_dict(graph, tensors, path.name, source="saved")


# ---- shapes without building the network -------------------------------------------------

def signature(graph: NetGraph, node: str) -> tuple:
    """What a node's tensor shapes can depend on; equal signatures, equal shapes."""
    d = graph.node(node)
    t = d["type"]
    ins = tuple(tuple(graph.info[s].output_shape) if graph.info.get(s) is not None
                and graph.info[s].output_shape is not None else None
                for s, _ in graph.inputs_of(node))
    version = graph.definitions.version(t) if t in graph.definitions else None
    return t, repr(sorted(d["params"].items())), d.get("repeat", 1), ins, version


def expected_shapes(graph: NetGraph, node: str) -> dict[str, tuple[int, ...]] | None:
    """The shape of every tensor of the node's module (its state_dict), built on the meta
    device; None when the node cannot be built now (no input shape, a problem)."""
    info = graph.info.get(node)
    if info is None or info.problem or info.output_shape is None:
        return None
    import torch

    from .compile import build_node_module
    try:
        with torch.device("meta"):
            module = build_node_module(graph, node)
    except Exception:  # noqa: BLE001 - a block refusing these shapes: not measurable now
        return None
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _module_nodes(graph: NetGraph) -> list[str]:
    return [n for n in graph.topological_order() if graph.type_of(n) != "Input"]


def _meta_model(graph: NetGraph):
    """Every measurable node's module on the meta device, under its attribute name (what
    compile_graph would make, without the checks that a whole network compiles)."""
    import torch
    from torch import nn

    from .compile import attribute_names, build_node_module
    names = attribute_names(graph)
    root = nn.Module()
    with torch.device("meta"):
        for n in _module_nodes(graph):
            info = graph.info.get(n)
            if info is None or info.problem or info.output_shape is None:
                continue
            try:
                module = build_node_module(graph, n)
            except Exception:  # noqa: BLE001 - not buildable now: its tensors do not fit
                module = None
            if module is not None:
                root.add_module(names[n], module)
    root.node_names = dict(names)
    return root


def _written_by_us(path: Path) -> bool:
    try:
        from safetensors import safe_open
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("producer") == "NetCanvas"
    except Exception:  # noqa: BLE001 - not ours, or not readable: leave it alone
        return False
