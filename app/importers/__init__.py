"""Importers: a model that exists elsewhere becomes a NetCanvas project plus its weights.

SOURCE kinds (issue 11):
- ``package.module:callable`` or ``path/to/file.py:Name``: the user's own code, run by their
  explicit request, traced to primitives (``torch_import``);
- an ``.onnx`` file: pure data, never executed (``onnx_import``);
- a Python file NetCanvas exported: the round trip of our own format (``torch_import``).

Every importer returns an ``ImportResult`` or raises ``ImportRefused`` whose message names the
module path or ONNX node, the op, and what is supported. Nothing half-imported is returned
without saying so in ``notes``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ImportRefused(Exception):
    """The source cannot become a project; str(exc) is the one message the user sees."""


@dataclass
class ImportResult:
    project: dict[str, Any]
    """A project file's dict, exactly what ``app.project`` saves and loads."""
    weights: dict[str, Any] = field(default_factory=dict)
    """torch tensors keyed by the compiled project's ``state_dict`` names (empty: none)."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about the import (one line each)."""


def import_source(source: str, input_shape: list[int] | None = None,
                  kwargs: dict[str, Any] | None = None) -> ImportResult:
    """Dispatch on the kind of SOURCE (see the module doc)."""
    path_part = source.rsplit(":", 1)[0] if ":" in source and not Path(source).exists() else source
    if path_part.lower().endswith(".onnx") and ":" not in source.replace(path_part, "", 1):
        from .onnx_import import import_onnx
        return import_onnx(source, input_shape=input_shape)
    from .torch_import import import_python
    return import_python(source, input_shape=input_shape, kwargs=kwargs)
