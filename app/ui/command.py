"""`netcanvas gui [FILE] [--screenshot PNG] [--enter NODE]`: open the editor. Qt is imported
only in run()."""
from __future__ import annotations

import os
import sys


def add_arguments(parser) -> None:
    parser.add_argument("file", nargs="?", help="project to open (default: the built-in example)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="render the window to this PNG and exit (works without a display)")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default="system",
                        help="colour theme (default: follow the system)")
    parser.add_argument("--enter", metavar="NODE",
                        help="open this composite block instance to edit inside; NODE/INNER/… "
                             "goes further in (e.g. for screenshots)")
    parser.add_argument("--select", metavar="NODE", help="select this node id (e.g. for screenshots; "
                                                         "inside the block opened with --enter)")
    parser.add_argument("--size", default="1400x850", metavar="WxH",
                        help="window size, also of the screenshot (default 1400x850)")


def run(args) -> int:
    if args.screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.project import ProjectError, load_project

    from .main_window import MainWindow
    from .theme import apply_theme

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"netcanvas: --size must look like 1400x850, not {args.size!r}", file=sys.stderr)
        return 2
    graph = None
    if args.file:
        try:
            graph = load_project(args.file)
        except ProjectError as exc:
            print(f"netcanvas: {exc}", file=sys.stderr)
            return 2
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setOrganizationName("NetCanvas")
    app.setApplicationName("NetCanvas")
    app.setApplicationDisplayName("NetCanvas")
    apply_theme(app, None if args.theme == "system" else args.theme)
    win = MainWindow(graph, args.file, recover=not args.screenshot)
    win.resize(w, h)
    if args.enter:
        ids = [p for p in args.enter.replace(",", "/").split("/") if p]
        if not win.open_trail(ids):
            print(f"netcanvas: --enter {args.enter}: {win.doc.last_error}", file=sys.stderr)
            win.doc.stack.setClean()
            win.autosave.remove()
            win.close()
            return 2
    if args.select:
        win.scene.select_nodes([args.select])
    if args.screenshot:
        return screenshot(app, win, args.screenshot)
    from .warmup import after_first_paint
    after_first_paint(win.view.viewport())  # torch for training/export, once the canvas shows
    win.show()
    return app.exec()


def screenshot(app, win, path: str) -> int:
    win.show()
    for _ in range(3):
        app.processEvents()
    win.view.fit_all(min_zoom=0.8)
    app.processEvents()
    pixmap = win.grab()
    if not pixmap.save(path):
        print(f"netcanvas: cannot write {path}", file=sys.stderr)
        return 2
    print(f"{path}: {pixmap.width()}x{pixmap.height()}")
    win.doc.stack.setClean()
    win.autosave.remove()
    win.close()
    return 0
