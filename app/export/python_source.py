"""Graph → one self-contained Python file that needs nothing but torch.

The file holds the source of the block classes the graph uses (and of the helpers they
need, copied with `inspect.getsource` in dependency order), then one class for the network
whose attributes are named exactly like the compiled model's submodules, so that
`exported.load_state_dict(compile_graph(graph).state_dict())` just works.

No user string (project name, labels, ids) is ever pasted into code: it appears only as a
repr()'d string literal or, repr()'d and with its '#' escaped, inside a comment, so a
label can neither end a comment nor start a directive (`# noqa`) in one.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import io
import keyword
import math
import os
import re
import sys
import textwrap
import tokenize
import types
import unicodedata
from pathlib import Path

from blocks import REGISTRY, SUPPORT, get_spec

from ..compile import attribute_names
from ..graph import NetGraph
from .errors import (ExportError, check_graph, compiled, input_shape,
                     output_path, output_shape)

# Names a forward variable never takes (besides keywords and builtins).
_RESERVED = {"self", "x", "torch", "nn", "F", "sys"}
_BUILTINS = set(dir(builtins))


# ---- names -------------------------------------------------------------------------------

def network_class_name(graph: NetGraph) -> str:
    """The project name as a CamelCase identifier: "ResNet-18" → ResNet18, "my net" → MyNet.

    Accents are dropped, other non-ASCII letters too; a name that would clash with Python
    (None, Exception) or with a block class (Inception) gets "Net" appended.
    """
    name = _camel(graph.name, "Network", "Net")
    taken = _module_level_names()
    taken |= {_camel(n, "Block") for n in (getattr(graph, "definitions", None) or {})}
    while (keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _BUILTINS
           or name in taken):
        name += "Net"
    return name


def _module_level_names() -> set[str]:
    """Every name the generated file may define at module level besides the network."""
    names = {"torch", "nn", "sys", "PROJECT_NAME", "INPUT_SHAPE", "Module"}
    for obj in SUPPORT:
        names.add(obj.__name__)
    for spec in REGISTRY.values():
        if spec.module is not None:
            names.add(spec.module.__name__)
            names.update(c.__name__ for c in spec.module.__mro__)
    return names


def variable_names(graph: NetGraph) -> dict[str, str]:
    """node id → the local variable holding its output in forward (from label, else id)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for n in graph.topological_order():
        base = _local_name(graph.node(n)["label"]) or _local_name(n) or "node"
        if (base in _BUILTINS or base in _RESERVED or keyword.iskeyword(base)
                or keyword.issoftkeyword(base)):
            base += "_"
        name, i = base, 2
        while name in used:
            name = f"{base}{'' if base.endswith('_') else '_'}{i}"
            i += 1
        used.add(name)
        names[n] = name
    return names


def _local_name(text: str) -> str:
    """A string as a lower-case ASCII identifier ("" when nothing of it is left)."""
    s = re.sub(r"\W+", "_", str(text).strip(), flags=re.ASCII).strip("_").lower()
    if s and s[0].isdigit():
        s = "v_" + s
    return s


def _said(text: str) -> str:
    """A user string for a comment: repr() (one printable line) with every '#' escaped."""
    return repr(str(text)).replace("#", "\\x23")


def _literal(value, where: str) -> str:
    """Python source for a constructor argument; only plain literals are allowed."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExportError(f"{where}: {value} cannot be written as a Python literal")
        return repr(value)
    if isinstance(value, (tuple, list)):
        items = [_literal(v, where) for v in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    raise ExportError(f"{where}: a {type(value).__name__} argument cannot be written as "
                      f"Python source")


# ---- copying the block classes -------------------------------------------------------------

class _Copier:
    """Collects the source of classes/functions and everything they refer to, in order."""

    def __init__(self, packages: set[str]):
        self.packages = packages
        self.order: list[object] = []  # definitions, dependencies first (as found)
        self.sources: dict[object, str] = {}
        self.deps: dict[object, list[object]] = {}
        self.imports: set[tuple[str, str | None, str]] = set()  # (module, name, alias)
        self.constants: dict[str, str] = {}
        self._visiting: set[object] = set()

    def _copyable(self, obj) -> bool:
        return ((inspect.isclass(obj) or inspect.isfunction(obj))
                and (getattr(obj, "__module__", "") or "").split(".")[0] in self.packages)

    def add(self, obj) -> None:
        if obj in self.sources or obj in self._visiting:
            return
        self._visiting.add(obj)
        try:
            source = textwrap.dedent(inspect.getsource(obj))
        except (OSError, TypeError) as exc:
            raise ExportError(f"cannot copy the source of {obj.__qualname__}: {exc}") from None
        module_globals = vars(sys.modules[obj.__module__])
        self.deps[obj] = []
        names = sorted({node.id for node in ast.walk(ast.parse(source))
                        if isinstance(node, ast.Name)}, key=_support_first)
        for name in names:
            if name == obj.__name__ or name not in module_globals:
                continue  # a local, a builtin or the object itself
            value = module_globals[name]
            self._refer(name, value, obj)
            if self._copyable(value):
                self.deps[obj].append(value)
        self._visiting.discard(obj)
        self.sources[obj] = _allow_ambiguous_names(source.rstrip() + "\n")
        self.order.append(obj)

    def ordered(self) -> list[object]:
        """The SUPPORT helpers first (in SUPPORT's order), then the rest; each after
        everything it uses."""
        support = [obj for obj in SUPPORT if obj in self.sources]
        rest = [obj for obj in self.order if obj not in support]
        done: list[object] = []
        seen: set[object] = set()

        def visit(obj):
            if obj in seen:
                return
            seen.add(obj)
            for dep in self.deps.get(obj, ()):
                visit(dep)
            done.append(obj)

        for obj in support + rest:
            visit(obj)
        return done

    def _refer(self, name: str, value, user) -> None:
        if self._copyable(value):
            if value.__name__ != name:
                raise ExportError(f"{user.__qualname__} uses {value.__qualname__} under "
                                  f"another name ({name}); it cannot be copied")
            self.add(value)
        elif isinstance(value, types.ModuleType):
            self.imports.add(_module_import(name, value))
        elif inspect.isclass(value) or inspect.isfunction(value) or inspect.isbuiltin(value):
            module = getattr(value, "__module__", None)
            if not module or module == "__main__":
                raise ExportError(f"{user.__qualname__} uses {name}, which cannot be imported")
            self.imports.add((module, value.__name__, name))
        else:
            text = repr(value)
            try:
                ok = ast.literal_eval(text) == value
            except (ValueError, SyntaxError, RecursionError):
                ok = False
            if not ok:
                raise ExportError(f"{user.__qualname__} uses {name} ({type(value).__name__}), "
                                  f"which cannot be copied into the file")
            self.constants[name] = text


_AMBIGUOUS = {"l", "O", "I"}


def _allow_ambiguous_names(source: str) -> str:
    """Mark the lines where copied code names something l, O or I (pycodestyle E741-E743,
    in ruff's classic default rules) with a noqa that newer ruffs, which neither enable E741
    nor accept an unused noqa (RUF100), accept too. The code itself stays verbatim."""
    tree = ast.parse(source)
    lines: dict[int, set[str]] = {}
    for node in ast.walk(tree):
        bound = (node.arg if isinstance(node, ast.arg) else
                 node.id if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) else
                 None)
        if bound in _AMBIGUOUS:
            lines.setdefault(node.lineno, set()).add("E741")
        elif isinstance(node, ast.ClassDef) and node.name in _AMBIGUOUS:
            lines.setdefault(node.lineno, set()).add("E742")
        elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              and node.name in _AMBIGUOUS):
            lines.setdefault(node.lineno, set()).add("E743")
    if not lines:
        return source
    commented = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                 if tok.type == tokenize.COMMENT}
    out = source.splitlines()
    for lineno, codes in lines.items():
        if lineno not in commented:
            out[lineno - 1] += f"  # noqa: {', '.join(sorted(codes))}, RUF100"
    return "\n".join(out) + "\n"


def _support_first(name: str) -> tuple[int, str]:
    order = {obj.__name__: i for i, obj in enumerate(SUPPORT)}
    return (order.get(name, len(order)), name)


def _module_import(name: str, module: types.ModuleType) -> tuple[str, str | None, str]:
    full = module.__name__
    if full == name:
        return (full, None, name)
    parent, _, last = full.rpartition(".")
    if parent and last == name:
        return (parent, last, name)
    return (full, None, name)  # import full as name


def _import_lines(imports: set[tuple[str, str | None, str]]) -> list[str]:
    """The imports, grouped stdlib / third party and sorted the way isort (ruff I001) does."""
    sections: list[list[str]] = []
    for stdlib in (True, False):
        group = {imp for imp in imports if (imp[0].split(".")[0] in sys.stdlib_module_names)
                 == stdlib}
        straight = sorted((m, alias) for m, n, alias in group if n is None)
        lines = [f"import {m}" if m == alias else f"import {m} as {alias}"
                 for m, alias in sorted(straight, key=lambda t: (t[0].lower(), t[0]))]
        froms: dict[str, list[tuple[str, str]]] = {}
        for m, n, alias in group:
            if n is not None:
                froms.setdefault(m, []).append((n, alias))
        for m in sorted(froms, key=lambda s: (s.lower(), s)):
            names = sorted(set(froms[m]), key=lambda t: (_name_type(t[0]), t[0].lower(), t[0]))
            parts = [n if n == a else f"{n} as {a}" for n, a in names]
            lines.append(f"from {m} import {', '.join(parts)}")
        if lines:
            sections.append(lines)
    out: list[str] = []
    for s in sections:
        if out:
            out.append("")
        out += s
    return out


def _name_type(name: str) -> int:
    """isort's order-by-type: CONSTANTS, then Classes, then functions and variables."""
    if len(name) > 1 and name.isupper():
        return 0
    return 1 if name[:1].isupper() else 2


# ---- the file ------------------------------------------------------------------------------

class _Body:
    """One nn.Module class to write: the network, or one composite instantiation."""

    def __init__(self, class_name: str, doc: str):
        self.class_name = class_name
        self.doc = doc
        self.init: list[str] = []
        self.args: list[str] = []
        self.forward: list[str] = []
        self.result = ""

    def lines(self) -> list[str]:
        out = [f"class {self.class_name}(nn.Module):", f'    """{self.doc}"""', "",
               "    def __init__(self):", "        super().__init__()"]
        out += self.init
        out += ["", f"    def forward(self, {', '.join(self.args)}):"]
        out += self.forward
        out.append(f"        return {self.result}")
        return out


class _Writer:
    """Turns a graph (and the composite blocks it uses) into module classes."""

    def __init__(self, graph: NetGraph):
        self.defs = getattr(graph, "definitions", {}) or {}
        self.classes: list[type] = []  # catalogue classes used, in order of first use
        self.bodies: list[_Body] = []  # composite classes, each after those it uses
        self._composites: dict[tuple, str] = {}
        self.taken = set(_module_level_names())

    # -- one node's constructor expression ------------------------------------------------
    def constructor(self, type_id: str, params: dict, in_shapes: list, repeat: int,
                    where: str) -> tuple[str, list[str]]:
        """(callee + "(", args) building the node's module (a Sequential when it repeats)."""
        copies, shapes = [], list(in_shapes)
        for i in range(repeat):
            copies.append(self._one(type_id, params, shapes, f"{where}, copy {i + 1}"
                                    if repeat > 1 else where))
            if repeat > 1:
                shapes = [self._measure(type_id, params, shapes, where)]
        if repeat == 1:
            return copies[0]
        first = copies[0][0] + ", ".join(copies[0][1]) + ")"
        if all(c == copies[0] for c in copies):
            return "nn.Sequential(", [f"*({first} for _ in range({repeat}))"]
        return "nn.Sequential(", [c[0] + ", ".join(c[1]) + ")" for c in copies]

    def _one(self, type_id, params, shapes, where) -> tuple[str, list[str]]:
        if type_id in REGISTRY:
            spec = get_spec(type_id)
            if spec.module is None or spec.module_args is None:
                raise ExportError(f"{where}: {spec.type_id} does not say which module it "
                                  f"builds, so it cannot be exported to Python")
            kwargs = spec.module_args([tuple(s) for s in shapes], dict(params))
            for k in kwargs:
                if not k.isidentifier() or keyword.iskeyword(k):
                    raise ExportError(f"{where}: argument name {k!r} of {spec.type_id} is not "
                                      f"a Python identifier")
            if spec.module not in self.classes:
                self.classes.append(spec.module)
            kept = _without_defaults(spec.module, kwargs, keep=spec.key_params)
            args = [f"{k}={_literal(v, f'{where}: {k}')}" for k, v in kept.items()]
            return f"{spec.module.__name__}(", args
        d = self.defs.get(type_id) if hasattr(self.defs, "get") else None
        if d is None:
            raise ExportError(f"{where}: block type {_said(type_id)} cannot be exported to "
                              f"Python")
        return f"{self._composite(d, params, shapes, where)}(", []

    def _measure(self, type_id, params, shapes, where):
        from ..graph.composite import measure
        st = measure(self.defs, type_id, params, [tuple(s) for s in shapes])
        if st.error or st.output_shape is None:
            raise ExportError(f"{where}: {st.error or 'cannot be measured'}")
        return st.output_shape

    # -- composite blocks ------------------------------------------------------------------
    def _composite(self, d, params, in_shapes, where) -> str:
        from ..graph.analysis import freeze
        key = (d.name, freeze(dict(params)), tuple(tuple(s) for s in in_shapes))
        if key in self._composites:
            return self._composites[key]
        base = _camel(d.name, "Block")
        name, i = base, 2
        while name in self.taken or keyword.iskeyword(name) or name in _BUILTINS:
            name, i = f"{base}{i}", i + 1
        self.taken.add(name)
        body_graph = d.body
        if len(in_shapes) != len(d.inputs) or d.output() is None:
            raise ExportError(f"{where}: composite block {_said(d.name)} is not complete")
        shapes = dict(zip(d.inputs, [tuple(s) for s in in_shapes]))
        attrs = attribute_names(body_graph)
        names = variable_names(body_graph)
        nodes = []
        for n in body_graph.topological_order():
            if n in shapes:
                continue
            b = body_graph.node(n)
            ins = [shapes[s] for s, _ in body_graph.inputs_of(n)]
            p = d.body_params(n, params)
            repeat = b.get("repeat", 1)
            shapes[n] = self._measure(b["type"], p, ins, f"{_said(d.name)}: {n}") \
                if repeat == 1 else self._repeat_shape(b["type"], p, ins, repeat, n)
            nodes.append((n, b["type"], p, ins, repeat))
        body = _Body(name, f"A composite block: "
                           f"{' + '.join(_shape(shapes[i]) for i in d.inputs)} → "
                           f"{_shape(shapes[d.output()])}.")
        body.args = [names[i] for i in d.inputs]
        self._fill(body, body_graph, nodes, attrs, names, shapes, f"{_said(d.name)}")
        body.result = names[d.output()]
        self.bodies.append(body)
        self._composites[key] = name
        return name

    def _repeat_shape(self, type_id, params, ins, repeat, where):
        shapes = ins
        for _ in range(repeat):
            shapes = [self._measure(type_id, params, shapes, where)]
        return shapes[0]

    # -- a class body ----------------------------------------------------------------------
    def _fill(self, body: _Body, graph, nodes, attrs, names, shapes, where_prefix="") -> None:
        for n, type_id, params, ins, repeat in nodes:
            where = f"{where_prefix}: {n}" if where_prefix else n
            head, args = self.constructor(type_id, params, ins, repeat, where)
            note = _node_note(graph, n, attrs[n])
            body.init += _wrapped_call(f"        self.{attrs[n]} = {head}", args,
                                       f"  # {note}" if note else "")
            call_args = ", ".join(names[s] for s, _ in graph.inputs_of(n))
            what = type_id if type_id.isidentifier() else _said(type_id)
            times = f" ×{repeat}" if repeat > 1 else ""
            body.forward.append(f"        {names[n]} = self.{attrs[n]}({call_args})  "
                                f"# {what}{times} → {_shape(shapes[n])}")

    def network(self, graph: NetGraph, class_name: str) -> _Body:
        import torch
        with torch.device("meta"):  # no memory, no init: only to get (and check) the names
            attrs = compiled(graph).node_names
        names = variable_names(graph)
        in_node = graph.input_nodes()[0]
        shapes = {n: graph.info[n].output_shape for n in graph.topological_order()}
        nodes = [(n, graph.type_of(n), graph.node(n)["params"],
                  [shapes[s] for s, _ in graph.inputs_of(n)], graph.node(n).get("repeat", 1))
                 for n in graph.topological_order() if n != in_node]
        self.taken.add(class_name)
        body = _Body(class_name, f"{_shape(shapes[in_node])} → "
                                 f"{_shape(shapes[graph.output_nodes()[0]])}; "
                                 f"{len(nodes)} blocks, one attribute each.")
        body.args = [names[in_node]]
        self._fill(body, graph, nodes, attrs, names, shapes)
        body.result = names[graph.output_nodes()[0]]
        return body


def _camel(text: str, fallback: str, prefix: str | None = None) -> str:
    """Any string as a CamelCase ASCII identifier (accents dropped); `fallback` when it has
    no letters or digits, `prefix` (default: fallback) before a leading digit."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[0].upper() + w[1:] for w in words)
    if not name:
        return fallback
    return (prefix or fallback) + name if name[0].isdigit() else name


def python_source(graph: NetGraph, with_main: bool = True) -> str:
    """The whole .py file for the network drawn in `graph` (raises ExportError)."""
    check_graph(graph)
    class_name = network_class_name(graph)
    writer = _Writer(graph)
    network = writer.network(graph, class_name)

    packages = {obj.__module__.split(".")[0] for obj in SUPPORT}
    packages |= {c.__module__.split(".")[0] for c in writer.classes}
    copier = _Copier(packages)
    copier.imports.add(("torch", None, "torch"))
    copier.imports.add(("torch", "nn", "nn"))
    if with_main:
        copier.imports.add(("sys", None, "sys"))
    for cls in writer.classes:
        copier.add(cls)

    in_shape, out_shape = input_shape(graph), output_shape(graph)
    out: list[str] = []
    out.append(f'"""{class_name}: a PyTorch network drawn in NetCanvas.\n'
               f"\n"
               f"Self-contained: it needs only torch. Input {_shape(in_shape)} per sample, "
               f"output {_shape(out_shape)}.\n"
               f"The attribute names match the NetCanvas model's, so a state_dict saved "
               f"from it loads here.\n"
               + ("Run `python this_file.py [WEIGHTS]` to print the output shape for a "
                  "random input.\n" if with_main else "")
               + '"""')
    out += _import_lines(copier.imports)
    out.append("")
    out.append(f"PROJECT_NAME = {str(graph.name)!r}")
    out.append(f"INPUT_SHAPE = {_literal(tuple(in_shape), 'input shape')}")
    for const, text in sorted(copier.constants.items()):
        out.append(f"{const} = {text}")
    for obj in copier.ordered():
        out += ["", ""]
        out.append(copier.sources[obj].rstrip("\n"))
    for body in [*writer.bodies, network]:
        out += ["", ""]
        out += body.lines()
    if with_main:
        out += ["", ""]
        out += [
            'if __name__ == "__main__":',
            "    # python this_file.py [WEIGHTS]: WEIGHTS is a state_dict saved with torch.save,",
            "    # or a .safetensors file (needs the safetensors package).",
            f"    net = {class_name}().eval()",
            "    if len(sys.argv) > 1:",
            '        if sys.argv[1].endswith(".safetensors"):',
            "            from safetensors.torch import load_file",
            "",
            "            net.load_state_dict(load_file(sys.argv[1]))",
            "        else:",
            "            net.load_state_dict(torch.load(sys.argv[1], weights_only=True))",
            "    batch = torch.randn(1, *INPUT_SHAPE)",
            "    with torch.no_grad():",
            "        out = net(batch)",
            '    print(f"{PROJECT_NAME}: input {tuple(batch.shape)} -> output {tuple(out.shape)}")',
        ]
    source = "\n".join(out) + "\n"
    try:
        compile(source, "<netcanvas export>", "exec")
    except SyntaxError as exc:  # a bug here, never the user's doing
        raise ExportError(f"internal error: the generated Python does not parse "
                          f"(line {exc.lineno}: {exc.msg})") from None
    return source


def _without_defaults(cls: type, kwargs: dict, keep: tuple[str, ...] = ()) -> dict:
    """The constructor arguments that differ from the class's own defaults (and those in
    `keep`, the block's key parameters, always)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return dict(kwargs)
    out = {}
    for k, v in kwargs.items():
        p = params.get(k)
        if (k not in keep and p is not None and p.default is not inspect.Parameter.empty
                and type(p.default) is type(v) and p.default == v):
            continue
        out[k] = v
    return out


def _wrapped_call(head: str, args: list[str], comment: str, width: int = 99) -> list[str]:
    """`head` + args + ")" on as few lines as fit in `width`: continuation lines aligned with
    the opening parenthesis, or (when even one argument does not fit after it) indented one
    level below the statement. The comment ends the last line, or goes above when long."""
    base = " " * (len(head) - len(head.lstrip()))
    pieces = [a + ("," if i < len(args) - 1 else ")") for i, a in enumerate(args)] or [")"]
    hanging = len(head) + len(pieces[0]) > width
    indent = base + "    " if hanging else " " * len(head)
    lines, cur = ([head.rstrip()], indent) if hanging else ([], head)
    for piece in pieces:
        fresh = cur.endswith("(") or not cur.strip()
        if not fresh and len(cur) + 1 + len(piece) > width:
            lines.append(cur)
            cur, fresh = indent, True
        cur += ("" if fresh else " ") + piece
    if comment and len(cur) + len(comment) > width:
        return [base + "#" + comment.split("#", 1)[1]] + lines + [cur]
    return lines + [cur + comment]


def _shape(shape) -> str:
    return "?" if shape is None else "×".join(str(int(d)) for d in shape)


def _node_note(graph: NetGraph, node_id: str, attr: str) -> str:
    parts = []
    if attr != node_id:
        parts.append(f"node {_said(node_id)}")
    label = graph.node(node_id)["label"]
    if label:
        parts.append(f"label {_said(label)}")
    return ", ".join(parts)


def export_python(graph: NetGraph, path: str | os.PathLike) -> Path:
    """Write python_source(graph) to `path` (atomically); returns the path."""
    from ..project import atomic_write_text
    p = output_path(path)
    source = python_source(graph)
    try:
        atomic_write_text(p, source)
    except OSError as exc:
        raise ExportError(f"cannot write {p}: {exc.strerror or exc}") from None
    return p
