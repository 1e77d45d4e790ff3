"""Exports of a drawn network: Python source, ONNX, trained weights and diagrams.

Every function raises ExportError (a ValueError) with a message for the user. Heavy
dependencies (onnx, onnxruntime, safetensors, Qt) are imported only by the export that
needs them.
"""
from __future__ import annotations

import sys
import types

from app.lazy import lazy_names

# name → submodule. Nothing is imported until a name is used (PEP 562), so that importing
# app.export.style (the editor's colours) does not load torch, onnx or the exporters.
_LAZY = {
    "diagram_source": "diagram", "export_diagram": "diagram", "find_renderer": "diagram",
    "layout_positions": "diagram", "ExportError": "errors", "OnnxReport": "onnx_export",
    "export_onnx": "onnx_export", "export_python": "python_source",
    "network_class_name": "python_source", "python_source": "python_source",
    "CATEGORY_COLORS": "style", "category_color": "style", "fill_color": "style",
    "WeightsError": "weights", "load_weights": "weights", "save_weights": "weights",
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        # importing a submodule binds it to its name here; `python_source` names both a
        # submodule and its function, and the function is what this package exports
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "CATEGORY_COLORS",
    "ExportError",
    "OnnxReport",
    "WeightsError",
    "category_color",
    "diagram_source",
    "export_diagram",
    "export_onnx",
    "export_python",
    "fill_color",
    "find_renderer",
    "layout_positions",
    "load_weights",
    "network_class_name",
    "python_source",
    "save_weights",
]
