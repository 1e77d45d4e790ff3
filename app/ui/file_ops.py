"""The window's file commands: New, Open, Save, Save As, recent files, drops, autosave and
crash recovery, and the prompt before closing. Dialogs go through the window's small
`ask`/`warn`/`open_path`/`save_path` methods, which tests replace."""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from PySide6.QtCore import QTimer

from app.graph import NetGraph
from app.project import ProjectError, load_project, project_from_dict, save_project
from resources import EXAMPLE, templates

from . import files

PROJECT_FILTER = "NetCanvas projects (*.json);;All files (*)"


class FileOpsMixin:
    # ---- documents ------------------------------------------------------------------
    def new_document(self, template: str | None = None) -> bool:
        """Empty, or a copy of a template (it gets no path: saving asks where)."""
        if template is not None:
            path = templates().get(template)
            if path is None:
                self.warn("New from template", f"There is no template {template!r}.")
                return False
            try:
                graph = load_project(path)
            except ProjectError as exc:
                self.warn("New from template", self._problem_text(exc))
                return False
        else:
            graph = NetGraph("Untitled")
        if not self.maybe_save():
            return False
        self.doc.replace(graph)
        self.fit_soon()
        return True

    def open_file(self, path: str | None = None) -> bool:
        """Open a project; a broken file opens nothing, says why, and the current
        document stays."""
        if not path:
            path = self.open_path("Open project", PROJECT_FILTER)
            if not path:
                return False
        try:
            graph = load_project(path)
        except ProjectError as exc:
            self.warn("Cannot open this file", self._problem_text(exc))
            return False
        if not self.maybe_save():
            return False
        self.doc.replace(graph, None if Path(path).resolve() == EXAMPLE.resolve() else path)
        files.add_recent(path)
        self.update_recent_menu()
        self.fit_soon()
        self.show_status(" — ".join([f"Opened {path}", *graph.load_notes]),
                         20000 if graph.load_notes else 6000)
        return True

    def open_example(self) -> None:
        graph = load_project(EXAMPLE)
        self.doc.replace(graph)

    @staticmethod
    def _problem_text(exc: ProjectError) -> str:
        head = f"{exc.path}\n\n" if exc.path else ""
        lines = [f"• {p}" for p in exc.problems[:20]]
        if len(exc.problems) > 20:
            lines.append(f"… and {len(exc.problems) - 20} more")
        return head + "This is not a NetCanvas project it can open:\n" + "\n".join(lines)

    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._write(self.doc.path)

    def save_as(self) -> bool:
        suggested = str(self.doc.path or Path.home() / f"{_safe(self.doc.graph.name)}.json")
        path = self.save_path("Save project as", PROJECT_FILTER, suggested)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".json"
        if self.doc.graph.name in ("", "Untitled"):  # a first save names the project too
            self.doc.rename_project(Path(path).stem)
        return self._write(Path(path))

    def ask_project_name(self) -> None:
        name = self.ask_text("Project name", "Name of this network (used in exports too):",
                             self.doc.graph.name)
        if name is not None:
            self.doc.rename_project(name)

    def _write(self, path: Path) -> bool:
        try:
            save_project(self.doc.graph, path)
        except OSError as exc:
            self.warn("Cannot save", f"{path}\n\n{exc.strerror or exc}")
            return False
        self.doc.mark_saved(path)
        files.add_recent(path)
        self.update_recent_menu()
        self.autosave.remove()
        self.show_status(f"Saved {path}")
        return True

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document."""
        if not self.doc.is_modified():
            return True
        name = self.doc.path.name if self.doc.path else self.doc.graph.name
        answer = self.ask("Unsaved changes", f"Save the changes to “{name}” first?",
                          ["Save", "Discard", "Cancel"])
        if answer == "Save":
            return self.save()
        return answer == "Discard"

    # ---- recent files --------------------------------------------------------------------
    def update_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = files.recent_files()
        for p in recent:
            act = menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.setStatusTip(p)
            act.triggered.connect(lambda _=False, p=p: self.open_file(p))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list", lambda: (files.clear_recent(), self.update_recent_menu()))
        menu.setEnabled(bool(recent))

    # ---- drops ---------------------------------------------------------------------------
    def open_dropped(self, paths: list[str]) -> None:
        paths = [p for p in paths if p.lower().endswith(".json")]
        if paths:
            self.open_file(paths[0])
        else:
            self.show_status("Drop a NetCanvas .json project to open it")

    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev):
        self.open_dropped([u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()])
        ev.acceptProposedAction()

    # ---- autosave and recovery -----------------------------------------------------------------
    def start_autosave(self) -> None:
        self.autosave = files.Autosave()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(files.AUTOSAVE_SECONDS * 1000)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()

    def autosave_now(self) -> bool:
        """Write the autosave if there is unsaved work newer than the last one."""
        if not self.doc.is_modified():
            self.autosave.remove()
            return False
        if self.autosave.serial_written == self.doc.edit_serial:
            return False
        try:
            self.autosave.write(self.doc.graph.to_dict(), str(self.doc.path) if self.doc.path else None)
        except OSError as exc:
            self.show_status(f"Autosave failed: {exc.strerror or exc}")
            return False
        self.autosave.serial_written = self.doc.edit_serial
        return True

    def offer_recovery(self) -> bool:
        """After a crash (an autosave left behind): offer to bring that work back."""
        left = files.leftover_autosaves(exclude=self.autosave.path)
        if not left:
            return False
        newest = left[0]
        try:
            project, source = files.read_autosave(newest)
            graph = project_from_dict(project)
        except (OSError, ValueError) as exc:
            self.show_status(f"An autosave could not be read ({exc}); it was set aside")
            newest.rename(newest.with_suffix(".broken"))
            return False
        when = _dt.datetime.fromtimestamp(newest.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        name = Path(source).name if source else graph.name
        answer = self.ask(
            "Recover unsaved work?",
            f"NetCanvas did not close normally last time. Unsaved work on “{name}” "
            f"({graph.g.number_of_nodes()} nodes, autosaved {when}) can be recovered.\n\n"
            f"Recover it?", ["Recover", "Discard"])
        if answer == "Recover":
            self.doc.replace(graph, source, modified=True)
            self.fit_soon()
            self.show_status(f"Recovered unsaved work on {name}; save it to keep it")
        newest.unlink(missing_ok=True)
        return answer == "Recover"

    def closeEvent(self, ev):
        if not self.maybe_save():
            ev.ignore()
            return
        self.autosave_timer.stop()
        self.autosave.remove()
        if getattr(self, "train_panel", None) is not None:
            self.train_panel.shutdown()  # a run stops within one batch; last.pt is kept
        ev.accept()


def _safe(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip()
    return keep or "untitled"
