"""Diagrams of a graph (SVG, PNG, PDF) and the editor's auto-layout, both with Graphviz.

Left to right, one box per node (type, label and id, key parameters) coloured by block
category, each edge labelled with the shape of the tensor it carries (like Keras'
`plot_model(show_shapes=True)`); `expanded=True` draws every block as a cluster of its
child modules. The renderer is the system's `dot` when there is one, else `graphviz-pure`
(pip-installable, no PDF: PDFs are then painted from the SVG with Qt).

DOT node names are generated (`node0`, `node1`, …); user strings appear only inside
HTML-like labels, escaped, so no label or id can change the DOT source.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from blocks import REGISTRY

from ..graph import NetGraph
from ..project import atomic_write
from .errors import ExportError, output_path
from .style import ERROR_COLOR, category_color, fill_color, tint

FORMATS = ("svg", "png", "pdf")
RANK_PX = 230  # scene pixels from one rank to the next in layout_positions
FONT = "Helvetica"
INSTALL_HINT = ("install one: `pip install graphviz-pure` (no system packages needed) or "
                "`apt-get install graphviz` / `brew install graphviz`")
MAX_CHILD_LINES = 14


# ---- the renderer --------------------------------------------------------------------------

@dataclass(frozen=True)
class Renderer:
    path: str
    name: str  # "dot" or "graphviz-pure" (or what NETCANVAS_DOT names)

    @property
    def may_do_pdf(self) -> bool:
        return self.name != "graphviz-pure"


def find_renderer() -> Renderer | None:
    """$NETCANVAS_DOT, else `dot` on PATH, else `graphviz-pure` (on PATH or next to this
    Python, where pip puts console scripts even when PATH does not list that folder)."""
    env = os.environ.get("NETCANVAS_DOT")
    if env:
        found = shutil.which(env)
        if found:
            return Renderer(found, Path(found).stem)
    for name in ("dot", "graphviz-pure"):
        found = shutil.which(name)
        if found:
            return Renderer(found, name)
    here = Path(sys.executable).parent
    for folder in (here, here / "Scripts", here / "bin"):
        for exe in ("graphviz-pure", "graphviz-pure.exe"):
            p = folder / exe
            if p.is_file() and os.access(p, os.X_OK):
                return Renderer(str(p), "graphviz-pure")
    return None


def _need_renderer() -> Renderer:
    r = find_renderer()
    if r is None:
        raise ExportError(f"drawing diagrams needs Graphviz and none was found — {INSTALL_HINT}")
    return r


def render(dot_source: str, fmt: str, renderer: Renderer | None = None,
           extra_args: tuple[str, ...] = ()) -> bytes:
    """Run the renderer on DOT source; returns its output (svg, png, json, pdf…)."""
    r = renderer or _need_renderer()
    try:
        proc = subprocess.run([r.path, f"-T{fmt}", *extra_args], input=dot_source.encode("utf-8"),
                              capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ExportError(f"cannot run {r.path}: {exc} — {INSTALL_HINT}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        why = err[-1] if err else f"exit status {proc.returncode}"
        raise ExportError(f"{r.name} could not draw the diagram as {fmt}: {why}")
    return proc.stdout


# ---- text ------------------------------------------------------------------------------------

def _text(s: str) -> str:
    """A user string as HTML-label text: escaped (<>&"' as entities, backslashes doubled),
    control characters shown as escapes, line breaks as <BR/>."""
    lines = str(s).splitlines() or [""]
    out = []
    for line in lines:
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        # Graphviz expands \N, \G, … even in HTML labels (after entities): double every
        # backslash so that it is shown as itself.
        out.append(html.escape(shown.replace("\\", "\\\\"), quote=True))
    return "<BR/>".join(out)


def _shape(shape) -> str:
    return "?" if shape is None else "×".join(str(int(d)) for d in shape)


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return "×".join(str(x) for x in v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _kind(graph: NetGraph, type_id: str):
    spec = REGISTRY.get(type_id)
    if spec is None:
        spec = getattr(graph, "definitions", {}).get(type_id)
    return spec


def _key_params(graph: NetGraph, n: str) -> str:
    d = graph.node(n)
    spec = _kind(graph, d["type"])
    keys = getattr(spec, "key_params", ()) if spec is not None else ()
    parts = [f"{k}={_value(d['params'][k])}" for k in keys
             if k in d["params"] and d["params"][k] is not None]
    return " · ".join(parts)


def _colors(graph: NetGraph, type_id: str) -> tuple[str, str]:
    """(strong, fill) colour of a node type: its category's, or a composite's own."""
    spec = _kind(graph, type_id)
    own = getattr(spec, "color", None)
    if isinstance(own, str) and len(own) == 7 and own.startswith("#"):
        try:
            return own, tint(own)
        except ValueError:
            pass
    cat = getattr(spec, "category", None)
    return category_color(cat), fill_color(cat)


def _type_title(graph: NetGraph, n: str) -> str:
    d = graph.node(n)
    repeat = d.get("repeat", 1)
    return _text(d["type"]) + (f" ×{int(repeat)}" if repeat and repeat > 1 else "")


def _node_table(graph: NetGraph, n: str, is_output: bool) -> str:
    d = graph.node(n)
    info = graph.info.get(n)
    problem = info.problem if info else None
    strong, fill = _colors(graph, d["type"])
    if problem:
        strong, fill = ERROR_COLOR, tint(ERROR_COLOR, 0.88)
    name = f"{_text(d['label'])} ({_text(n)})" if d["label"] else _text(n)
    rows = [f'<TR><TD><FONT COLOR="{strong}"><B>{_type_title(graph, n)}</B></FONT></TD></TR>',
            f"<TR><TD>{name}</TD></TR>"]
    params = _key_params(graph, n)
    if params:
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="#4A4F57">{_text(params)}</FONT>'
                    f"</TD></TR>")
    if is_output and info and info.output_shape:
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="#4A4F57">output '
                    f"{_shape(info.output_shape)}</FONT></TD></TR>")
    if problem:
        msg = problem.message if len(problem.message) <= 90 else problem.message[:87] + "…"
        rows.append(f'<TR><TD><FONT POINT-SIZE="9" COLOR="{ERROR_COLOR}">{_text(msg)}</FONT>'
                    f"</TD></TR>")
    return (f'<<TABLE BORDER="1" STYLE="rounded" CELLBORDER="0" CELLSPACING="0" '
            f'CELLPADDING="3" BGCOLOR="{fill}" COLOR="{strong}">{"".join(rows)}</TABLE>>')


# ---- DOT -------------------------------------------------------------------------------------

def diagram_source(graph: NetGraph, expanded: bool = False) -> str:
    """The DOT source of the diagram."""
    order = graph.topological_order()
    ids = {n: f"node{i}" for i, n in enumerate(order)}
    outputs = set(graph.output_nodes())
    out = [
        "digraph netcanvas {",
        (f'  graph [rankdir=LR, compound=true, fontname="{FONT}", bgcolor="white", '
         f"nodesep=0.35, ranksep=0.55, labelloc=t, fontsize=16, "
         f"label=<<B>{_text(graph.name)}</B>>];"),
        f'  node [shape=plain, fontname="{FONT}", fontsize=11];',
        (f'  edge [fontname="{FONT}", fontsize=9, color="#6B7380", fontcolor="#3A3F47", '
         f"arrowsize=0.7];"),
    ]
    anchors: dict[str, tuple[str, str | None]] = {}  # node → (dot node to attach to, cluster)
    for i, n in enumerate(order):
        children = _children(graph, n) if expanded else None
        if children:
            out += _cluster(graph, n, i, ids[n], children, n in outputs)
            anchors[n] = (f"{ids[n]}_0", f"cluster_{i}")
        else:
            out.append(f"  {ids[n]} [label={_node_table(graph, n, n in outputs)}];")
            anchors[n] = (ids[n], None)
    for n in order:
        many = getattr(_kind(graph, graph.type_of(n)), "inputs", "one") == "many" or len(
            graph.inputs_of(n)) > 1
        for src, port in graph.inputs_of(n):
            info = graph.info.get(src)
            label = _shape(info.output_shape if info else None)
            if many:
                label += f" → in {port + 1}"
            (a, ca), (b, cb) = anchors[src], anchors[n]
            attrs = [f'label=<{_text(label)}>']
            if ca:
                attrs.append(f"ltail={ca}")
            if cb:
                attrs.append(f"lhead={cb}")
            out.append(f"  {a} -> {b} [{', '.join(attrs)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _children(graph: NetGraph, n: str) -> list[tuple[str, list[str]]] | None:
    """(child name, lines describing its leaf modules) for each child of the node's block;
    None when the block has no children (or cannot be built)."""
    if graph.type_of(n) == "Input":
        return None
    info = graph.info.get(n)
    if info is None or info.output_shape is None:
        return None
    try:
        import torch

        from ..compile import build_node_module
        with torch.device("meta"):
            module = build_node_module(graph, n)
    except Exception:  # noqa: BLE001 - a block we cannot build is drawn collapsed
        return None
    if graph.node(n).get("repeat", 1) > 1 and len(module):  # N copies: draw the first
        module = module[0]
    kids = list(module.named_children())
    if not kids:
        return None
    out = []
    for name, child in kids:
        leaves = [(q, m) for q, m in child.named_modules()
                  if not list(m.children()) and type(m).__name__ != "Identity"]  # no-ops
        lines = [f"{q + ' ' if q else ''}{_describe(m)}" for q, m in leaves]
        if len(lines) > MAX_CHILD_LINES:
            lines = lines[:MAX_CHILD_LINES - 1] + [f"… {len(lines) - MAX_CHILD_LINES + 1} more"]
        out.append((name, lines))
    return out


def _describe(m) -> str:
    """A short description of a leaf module: Conv2d 64→128 3×3 /2."""
    t = type(m).__name__

    def pair(v):
        return "×".join(str(x) for x in v) if isinstance(v, tuple) else str(v)
    if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
        s = f"{t} {m.in_channels}→{m.out_channels} {pair(m.kernel_size)}"
        if any(x != 1 for x in getattr(m, "stride", (1,))):
            s += f" /{pair(m.stride)}"
        if getattr(m, "groups", 1) != 1:
            s += f" g{m.groups}"
        return s
    if hasattr(m, "in_features") and hasattr(m, "out_features"):
        return f"{t} {m.in_features}→{m.out_features}"
    if hasattr(m, "num_features"):
        return f"{t} {m.num_features}"
    if hasattr(m, "kernel_size"):
        return f"{t} {pair(m.kernel_size)} /{pair(m.stride)}"
    if hasattr(m, "p") and isinstance(m.p, float):
        return f"{t} p={m.p}"
    extra = m.extra_repr()
    s = f"{t}({extra})" if extra else t
    return s if len(s) <= 48 else s[:45] + "…)"


def _cluster(graph, n, i, dot_id, children, is_output) -> list[str]:
    d = graph.node(n)
    strong, fill = _colors(graph, d["type"])
    name = f"{_text(d['label'])} ({_text(n)})" if d["label"] else _text(n)
    params = _key_params(graph, n)
    title = f'<FONT COLOR="{strong}"><B>{_type_title(graph, n)}</B></FONT><BR/>{name}'
    if params:
        title += f'<BR/><FONT POINT-SIZE="9" COLOR="#4A4F57">{_text(params)}</FONT>'
    if is_output:
        title += (f'<BR/><FONT POINT-SIZE="9" COLOR="#4A4F57">output '
                  f"{_shape(graph.info[n].output_shape)}</FONT>")
    out = [f"  subgraph cluster_{i} {{",
           (f'    graph [label=<{title}>, style="rounded,filled", fillcolor="{fill}", '
            f'color="{strong}", fontsize=11];')]
    # rankdir=LR stacks a rank's nodes bottom-up: emit them reversed to read top-down
    for j, (child, lines) in reversed(list(enumerate(children))):
        rows = f'<TR><TD ALIGN="LEFT"><B>{_text(child)}</B></TD></TR>' + "".join(
            f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9">{_text(line)}</FONT></TD></TR>'
            for line in lines if line != child)
        out.append(f'    {dot_id}_{j} [label=<<TABLE BORDER="1" STYLE="rounded" '
                   f'CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" BGCOLOR="white" '
                   f'COLOR="{strong}">{rows}</TABLE>>];')
    out.append("  }")
    return out


# ---- files -----------------------------------------------------------------------------------

def export_diagram(graph: NetGraph, path: str | os.PathLike, fmt: str | None = None,
                   expanded: bool = False) -> Path:
    """Draw the graph to `path` as svg, png or pdf (fmt None: from the file's suffix)."""
    p = output_path(path)
    if fmt is None:
        fmt = p.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ExportError(f"cannot tell the diagram format from {p.name!r} — name the "
                              f"file .svg, .png or .pdf")
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ExportError(f"diagram format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    source = diagram_source(graph, expanded)
    renderer = _need_renderer()
    if fmt == "pdf":
        data = None
        if renderer.may_do_pdf:
            try:
                data = render(source, "pdf", renderer)
            except ExportError:
                data = None  # a dot built without cairo: paint the SVG instead
        if data is None:
            data = svg_to_pdf(render(source, "svg", renderer), title=str(graph.name))
    elif fmt == "png":
        dpi = 144 if graph.g.number_of_nodes() <= 80 else 72  # keep big graphs' PNGs sane
        data = render(source, "png", renderer, (f"-Gdpi={dpi}",))
    else:
        data = render(source, "svg", renderer)
    _write_bytes(p, data)
    return p


def _write_bytes(p: Path, data: bytes) -> None:
    try:
        atomic_write(p, lambda f: f.write(data))
    except OSError as exc:
        raise ExportError(f"cannot write {p}: {exc.strerror or exc}") from None


_QT_APP = None  # the QGuiApplication svg_to_pdf made, kept alive


def svg_to_pdf(svg: bytes, title: str = "") -> bytes:
    """Paint an SVG onto a one-page PDF of the same size with Qt (QtSvg + QPdfWriter)."""
    global _QT_APP
    try:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF
        from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPainter, QPdfWriter
        from PySide6.QtSvg import QSvgRenderer
    except ImportError:
        raise ExportError("PDF diagrams need Qt (pip install PySide6-Essentials) or Graphviz's "
                          "own dot with PDF support (apt-get install graphviz)") from None
    if QGuiApplication.instance() is None:
        if (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _QT_APP = QGuiApplication([sys.argv[0] if sys.argv else "netcanvas"])
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise ExportError("the diagram's SVG could not be read to make the PDF")
    box = renderer.viewBoxF()
    w, h = max(box.width(), 1.0), max(box.height(), 1.0)  # graphviz SVG units are points
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buf)
    writer.setTitle(title)
    writer.setCreator("NetCanvas")
    writer.setResolution(72)
    writer.setPageLayout(QPageLayout(QPageSize(QSizeF(w, h), QPageSize.Unit.Point, "diagram"),
                                     QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0)))
    painter = QPainter(writer)
    renderer.render(painter, QRectF(0, 0, writer.width(), writer.height()))
    painter.end()
    buf.close()
    return bytes(buf.data())


# ---- layout for the editor -----------------------------------------------------------------

def layout_positions(graph: NetGraph) -> dict[str, tuple[float, float]]:
    """A layered left-to-right layout in scene pixels, ~230 px per rank, the first node at
    (0, 0). Uses the Graphviz renderer; without one, a simple layering of its own."""
    order = graph.topological_order()
    if not order:
        return {}
    renderer = find_renderer()
    if renderer is None:
        return _simple_layout(graph)
    ids = {n: f"node{i}" for i, n in enumerate(order)}
    width_in = 1.6
    lines = ["digraph layout {",
             f"  graph [rankdir=LR, nodesep=0.7, ranksep={RANK_PX / 72 - width_in:.3f}];",
             f'  node [shape=box, fixedsize=true, width={width_in}, height=1.1, label=""];']
    lines += [f"  {ids[n]};" for n in order]
    for n in order:
        for src, _ in graph.inputs_of(n):
            lines.append(f"  {ids[src]} -> {ids[n]};")
    lines.append("}")
    try:
        data = json.loads(render("\n".join(lines) + "\n", "json", renderer))
    except (ExportError, ValueError):
        return _simple_layout(graph)
    back = {v: k for k, v in ids.items()}
    height = float(data.get("bb", "0,0,0,0").split(",")[3])
    pos = {}
    for obj in data.get("objects", []):
        n = back.get(obj.get("name"))
        if n is not None and "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(",")[:2])
            pos[n] = (x, height - y)
    if len(pos) != len(order):
        return _simple_layout(graph)
    return _normalised(pos, order[0])


def _simple_layout(graph: NetGraph) -> dict[str, tuple[float, float]]:
    """Longest-path layers, ordered by the mean position of each node's inputs."""
    order = graph.topological_order()
    rank: dict[str, int] = {}
    for n in order:
        rank[n] = max((rank[s] + 1 for s, _ in graph.inputs_of(n)), default=0)
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(rank[n], []).append(n)
    y: dict[str, float] = {}
    pos = {}
    for r in sorted(layers):
        nodes = layers[r]
        nodes.sort(key=lambda n: sum(y[s] for s, _ in graph.inputs_of(n)) / max(
            len(graph.inputs_of(n)), 1))
        for i, n in enumerate(nodes):
            y[n] = (i - (len(nodes) - 1) / 2) * 130.0
            pos[n] = (r * float(RANK_PX), y[n])
    return _normalised(pos, order[0])


def _normalised(pos, first) -> dict[str, tuple[float, float]]:
    x0, y0 = pos[first]
    return {n: (round(x - x0, 1), round(y - y0, 1)) for n, (x, y) in pos.items()}
