"""`netcanvas inspect PROJECT --weights W --image IMG --node N (--feature-maps | --grad-cam
[--class K]) -o out.png`: what a trained network sees, as a picture.

Prints the top predictions on stdout. Exit codes: 0 written; 1 the inspection cannot be
done (unknown node, a node without a [C, H, W] output for Grad-CAM, weights that do not
fit, an unreadable image or an unwritable output); 2 the project cannot be read. No Qt.
"""
from __future__ import annotations

import sys


def add_arguments(p) -> None:
    p.add_argument("file", help="the project (.json)")
    p.add_argument("--weights", required=True, metavar="W",
                   help="trained weights: a checkpoint (best.pt / last.pt), a run folder, or "
                        "a .safetensors file")
    p.add_argument("--image", required=True, metavar="IMG",
                   help="an image file, or digits:N for sample N of the built-in digits")
    p.add_argument("--node", required=True, metavar="N", help="node id or label")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--feature-maps", action="store_true",
                      help="a grid of the node's output channels")
    what.add_argument("--grad-cam", action="store_true",
                      help="the Grad-CAM heat map of the node over the input")
    p.add_argument("--class", dest="cls", metavar="K",
                   help="Grad-CAM: the class to explain, by index or name (default: the "
                        "predicted one)")
    p.add_argument("--max-maps", type=int, default=64, metavar="N",
                   help="feature maps: show at most N channels (default 64)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.png", help="the picture to write")


def run(args) -> int:
    from app.cli import tell_load_notes
    from app.project import ProjectError, load_project

    from .core import InspectError, feature_maps, grad_cam, load_image, load_inspector
    from .render import feature_grid, grad_cam_image

    def fail(msg: str, code: int = 1) -> int:
        print(f"netcanvas inspect: {msg}", file=sys.stderr)
        return code

    try:
        graph = load_project(args.file)
    except ProjectError as exc:
        return fail(str(exc), 2)
    tell_load_notes(graph, args.file)
    try:
        ins = load_inspector(graph, args.weights)
        for note in ins.notes:
            print(f"note: {note}", file=sys.stderr)
        node = ins.node_id(args.node)
        image = load_image(args.image, tuple(graph.info[graph.input_nodes()[0]].output_shape))
        title = describe_node(graph, node) + f" · {args.image}"
        if args.grad_cam:
            cam, probs, k = grad_cam(ins, node, image, class_index(args.cls, ins.classes))
            picture = grad_cam_image(image, cam, probs, ins.classes, k, title)
        else:
            if args.max_maps < 1:
                raise InspectError("--max-maps must be at least 1")
            maps, probs = feature_maps(ins, node, image)
            picture = feature_grid(maps, title, max_maps=args.max_maps)
    except InspectError as exc:
        return fail(str(exc))
    try:
        picture.save(args.out)
    except (OSError, ValueError) as exc:
        return fail(f"cannot write {args.out}: {exc}")
    top = probs.argsort(descending=True)[:3].tolist()
    print("predicted: " + ", ".join(f"{ins.classes[k] if k < len(ins.classes) else k} "
                                    f"{float(probs[k]):.1%}" for k in top))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def describe_node(graph, node: str) -> str:
    label = graph.node(node)["label"]
    shape = list(graph.info[node].output_shape)
    return f"{node}{f' ({label})' if label else ''} · {graph.type_of(node)} · {shape}"


def class_index(text: str | None, classes: list[str]) -> int | None:
    """A class by name (as the data named it) or index; None: the predicted class."""
    from .core import InspectError
    if text is None:
        return None
    if text in classes:
        return classes.index(text)
    try:
        return int(text)
    except ValueError:
        raise InspectError(f"no class {text!r}; the classes are {', '.join(classes)}") from None
