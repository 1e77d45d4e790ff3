"""Exports of a drawn network: Python source, ONNX, trained weights and diagrams.

Every function raises ExportError (a ValueError) with a message for the user. Heavy
dependencies (onnx, onnxruntime, safetensors, Qt) are imported only by the export that
needs them.
"""
from __future__ import annotations

from .diagram import diagram_source, export_diagram, find_renderer, layout_positions
from .errors import ExportError
from .onnx_export import OnnxReport, export_onnx
from .python_source import export_python, network_class_name, python_source
from .style import CATEGORY_COLORS, category_color, fill_color
from .weights import WeightsError, load_weights, save_weights

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
