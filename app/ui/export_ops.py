"""The Export menu: Python source, ONNX (run off the UI thread, with its parity figure) and
diagrams. app.export is imported only when an entry is used."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

from app.project import project_from_dict


class _Relay(QObject):
    done = Signal(object, object)  # result, error message


class ExportMixin:
    def _exporter(self):
        try:
            import app.export as ex  # type: ignore
        except ImportError as exc:
            self.warn("Export is not available",
                      f"This build of NetCanvas has no exporter (app.export: {exc}).")
            return None
        return ex

    def _export_path(self, what: str, filt: str, suffix: str) -> str:
        stem = self.doc.path.stem if self.doc.path else "".join(
            c if c.isalnum() or c in "-_" else "_" for c in self.doc.graph.name) or "network"
        base = self.doc.path.parent if self.doc.path else Path.home()
        path = self.save_path(f"Export {what}", filt, str(base / f"{stem}{suffix}"))
        if path and not Path(path).suffix:
            path += suffix
        return path

    def _refuse_if_broken(self, what: str) -> bool:
        probs = self.doc.graph.problems()
        if probs:
            self.warn(f"Cannot export {what} yet",
                      "The network has problems; fix them first (see the Problems panel):\n\n"
                      + "\n".join(f"• {p.node}: {p.message}" for p in probs[:8]))
            return True
        return False

    def export_python(self) -> None:
        ex = self._exporter()
        if ex is None or self._refuse_if_broken("Python"):
            return
        path = self._export_path("Python", "Python source (*.py)", ".py")
        if not path:
            return
        try:
            ex.export_python(self.doc.graph, path)
        except ex.ExportError as exc:
            self.warn("Python export failed", str(exc))
            return
        self._exported("Python export", f"Python module written to {path}")

    def export_diagram(self, expanded: bool = False) -> None:
        ex = self._exporter()
        if ex is None:
            return
        path = self._export_path("diagram", "SVG (*.svg);;PNG image (*.png);;PDF (*.pdf)", ".svg")
        if not path:
            return
        fmt = Path(path).suffix.lstrip(".").lower() or None
        try:
            ex.export_diagram(self.doc.graph, path, fmt=fmt, expanded=expanded)
        except ex.ExportError as exc:
            self.warn("Diagram export failed", str(exc))
            return
        self._exported("Diagram export", f"Diagram written to {path}")

    def export_onnx(self, path: str | None = None, wait: bool = False) -> None:
        """Exports in a worker thread (a copy of the graph), with a busy cursor; the parity
        figure (ONNX Runtime vs PyTorch) goes to the status bar and a message."""
        ex = self._exporter()
        if ex is None or self._refuse_if_broken("ONNX"):
            return
        path = path or self._export_path("ONNX", "ONNX model (*.onnx)", ".onnx")
        if not path:
            return
        graph = project_from_dict(self.doc.graph.to_dict())
        state = self.doc.weights.state_dict(self.doc.graph) if self.doc.weights else None
        relay = _Relay(self)
        relay.done.connect(lambda result, err: self._onnx_done(path, result, err, relay))
        QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.show_status(f"Exporting ONNX to {path}…", 0)
        self.export_onnx_action.setEnabled(False)

        def work():
            t = time.perf_counter()
            try:
                from .weights_ops import model_with_weights  # the attached ones, if any
                model = model_with_weights(graph, state)
                report = ex.export_onnx(graph, path, **({"model": model} if model else {}))
            except ex.ExportError as exc:
                relay.done.emit(None, str(exc))
            except Exception as exc:  # noqa: BLE001 - reported to the user, not raised in a thread
                relay.done.emit(None, f"{type(exc).__name__}: {exc}")
            else:
                relay.done.emit((report, time.perf_counter() - t), None)

        from . import gc_guard
        thread = gc_guard.start_thread(work, name="onnx-export")
        self._onnx_thread = thread
        if wait:
            thread.join()
            QApplication.processEvents()

    def _onnx_done(self, path, result, err, relay) -> None:
        QApplication.restoreOverrideCursor()
        self.export_onnx_action.setEnabled(True)
        relay.deleteLater()
        if err:
            self.show_status("ONNX export failed")
            self.warn("ONNX export failed", err)
            return
        report, seconds = result
        diff = getattr(report, "max_abs_diff", None)
        secs = getattr(report, "seconds", seconds)
        parity = f"max |ONNX − PyTorch| = {diff:.2e}" if isinstance(diff, (int, float)) else "parity not checked"
        self._exported("ONNX export", f"ONNX written to {path}: {parity} ({secs:.1f} s)")

    def _exported(self, title: str, text: str) -> None:
        """Every export confirms the same way: the status bar and a message."""
        self.show_status(text)
        self.info(title, text)
