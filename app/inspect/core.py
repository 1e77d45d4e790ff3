"""Feature maps and Grad-CAM on the compiled model, with trained weights.

Grad-CAM (Selvaraju et al., 2017): for class k and a node whose output A is [C, h, w],
weight each channel by the spatial mean of ∂score_k/∂A_c, sum, keep the positive part, and
upsample to the input's size. It shows where, in that node's view, the evidence for k lies.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app.compile import CompileError, compile_graph
from app.graph import NetGraph, fmt_shape


class InspectError(ValueError):
    """The inspection cannot be done; the message says what to change."""


@dataclass
class Inspector:
    """A compiled model with its weights, and what is needed to feed it one sample."""
    graph: NetGraph
    model: nn.Module
    classes: list[str]
    mean: list[float] | None = None
    std: list[float] | None = None
    notes: list[str] = field(default_factory=list)

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """[C, H, W] in 0..1 → a normalised batch of one, as in training."""
        x = image.float().unsqueeze(0)
        if self.mean is not None and self.std is not None:
            view = (1, -1) + (1,) * (x.ndim - 2)
            x = (x - torch.tensor(self.mean).view(view)) / torch.tensor(self.std).view(view)
        return x

    def node_id(self, name: str) -> str:
        return resolve_node(self.graph, name)


def resolve_node(graph: NetGraph, name: str) -> str:
    """A node by id or by label (ids win); an unknown name lists what there is."""
    if name in graph.nodes():
        return name
    hits = [n for n in graph.nodes() if graph.node(n)["label"] == name]
    if len(hits) == 1:
        return hits[0]
    names = ", ".join(n + (f" ({graph.node(n)['label']})" if graph.node(n)["label"] else "")
                      for n in graph.topological_order())
    if hits:
        raise InspectError(f"{len(hits)} nodes are labelled {name!r}; use the id: {names}")
    raise InspectError(f"no node {name!r} in the network; its nodes are: {names}")


def load_inspector(graph: NetGraph, weights: str | Path) -> Inspector:
    """The graph's model with trained weights from a checkpoint (.pt, read with
    weights_only), a run folder (its best.pt, else last.pt) or a safetensors file."""
    from app.export.weights import WeightsError, check_weights, read_weights
    from app.train.checkpoint import CheckpointError, load_checkpoint

    try:
        model = compile_graph(graph)
    except CompileError as exc:
        raise InspectError(str(exc)) from None
    p = Path(weights)
    if p.is_dir():
        found = next((p / f for f in ("best.pt", "last.pt") if (p / f).is_file()), None)
        if found is None:
            raise InspectError(f"{p}: a folder without best.pt or last.pt — give a "
                               f"checkpoint or a .safetensors file")
        p = found
    classes, mean, std, notes = [], None, None, []
    try:
        if p.suffix == ".safetensors":
            tensors = read_weights(p)
            meta = _safetensors_metadata(p)
            classes = _json_list(meta.get("classes"))
            norm = _json_dict(meta.get("normalization"))
            if norm:
                mean, std = norm.get("mean"), norm.get("std")
            else:
                notes.append("the weights file stores no input normalisation; the image is "
                             "fed as 0..1 (use a checkpoint for the exact preprocessing)")
        else:
            ckpt = load_checkpoint(p)
            tensors = ckpt["model"]
            classes = list(ckpt.get("classes") or [])
            if ckpt.get("normalization"):
                mean, std = ckpt["normalization"]["mean"], ckpt["normalization"]["std"]
        check_weights(model, tensors, str(p), graph, f"the graph {graph.name!r}")
        model.load_state_dict(tensors)
    except (WeightsError, CheckpointError) as exc:
        raise InspectError(str(exc)) from None
    model.eval()
    out = tuple(graph.info[graph.output_nodes()[0]].output_shape)
    if len(classes) != (out[0] if len(out) == 1 else -1):
        classes = [str(i) for i in range(out[0])] if len(out) == 1 else []
    return Inspector(graph, model, classes, mean, std, notes)


def _safetensors_metadata(p: Path) -> dict[str, str]:
    from safetensors import safe_open
    with safe_open(str(p), "pt") as f:
        return dict(f.metadata() or {})


def _json_list(text: str | None) -> list[str]:
    import json
    try:
        v = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(c) for c in v] if isinstance(v, list) else []


def _json_dict(text: str | None) -> dict:
    import json
    try:
        v = json.loads(text) if text else {}
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def load_image(source: str, input_shape: tuple[int, ...]) -> torch.Tensor:
    """An image file, or `digits:N` (sample N of the built-in digits), as [C, H, W] in 0..1
    at the Input's size (grey replicated to C channels, colour converted)."""
    if len(input_shape) != 3:
        raise InspectError(f"the network's Input is {fmt_shape(input_shape)}; inspecting needs "
                           f"an image Input [C, H, W]")
    c, h, w = input_shape
    if source.startswith("digits:"):
        from app.train.data import digits_arrays
        x, _, _ = digits_arrays(input_shape)
        try:
            i = int(source.split(":", 1)[1])
            return x[i]
        except (ValueError, IndexError):
            raise InspectError(f"{source!r}: the digits are digits:0 … digits:{len(x) - 1}"
                               ) from None
    from PIL import Image, UnidentifiedImageError
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise InspectError(f"image files have 1, 3 or 4 channels; the Input has {c}")
    try:
        with Image.open(source) as im:
            im = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
            a = torch.from_numpy(np.asarray(im, dtype=np.float32).reshape(h, w, c).copy())
    except FileNotFoundError:
        raise InspectError(f"{source}: no such image file") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InspectError(f"{source}: not a readable image ({exc})") from None
    return (a.permute(2, 0, 1) / 255.0).contiguous()


def _run(ins: Inspector, node: str, image: torch.Tensor, grad: bool):
    """Logits and the node's output for one image (the output keeps its graph if grad)."""
    if ins.graph.type_of(node) == "Input":
        raise InspectError(f"{node} is the Input; choose a layer after it")
    module = getattr(ins.model, ins.model.node_names[node])
    seen: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda m, i, o: seen.append(o))
    x = ins.prepare(image)
    try:
        with torch.set_grad_enabled(grad):
            if grad:  # so that a node with no weights before it still has a gradient
                x.requires_grad_(True)
            logits = ins.model(x)
    finally:
        hook.remove()
    return logits, seen[-1]


def feature_maps(ins: Inspector, node: str, image: torch.Tensor):
    """The node's output for `image` ([C, h, w], or [F] for a flat node) and the class
    probabilities."""
    node = ins.node_id(node)
    logits, out = _run(ins, node, image, grad=False)
    return out[0].detach(), torch.softmax(logits[0].float(), 0)


def grad_cam(ins: Inspector, node: str, image: torch.Tensor, cls: int | None = None):
    """(heat map [H, W] in 0..1 at the input's size, probabilities, class used): class
    `cls`, or the predicted one."""
    node = ins.node_id(node)
    shape = tuple(ins.graph.info[node].output_shape)
    if len(shape) != 3:
        raise InspectError(f"Grad-CAM needs a node with a [C, H, W] output (a convolution or "
                           f"block); {node} outputs {fmt_shape(shape)}")
    logits, act = _run(ins, node, image, grad=True)
    probs = torch.softmax(logits[0].detach().float(), 0)
    k = int(probs.argmax()) if cls is None else cls
    if not 0 <= k < logits.shape[1]:
        raise InspectError(f"class {k} does not exist: the network has classes 0…"
                           f"{logits.shape[1] - 1}")
    (g,) = torch.autograd.grad(logits[0, k], act)
    weights = g[0].mean(dim=(1, 2), keepdim=True)              # one weight per channel
    cam = F.relu((weights * act[0]).sum(0)).detach()[None, None]
    cam = F.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    top = float(cam.max())
    return (cam / top if top > 0 else cam), probs, k
