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


def debian_package(soname: str) -> str:
    """libxcb-icccm.so.4 → libxcb-icccm4, libxkbcommon-x11.so.0 → libxkbcommon-x11-0."""
    base, _, version = soname.partition(".so")
    version = version.lstrip(".").split(".")[0]
    return base + ("-" if base[-1:].isdigit() else "") + version


def missing_libraries() -> list[str]:
    """The system libraries Qt's X11 platform needs and cannot find (sonames): the
    libxcb-cursor that Qt 6.5+ opens at run time, and what `ldd` says its xcb plugin lacks."""
    import ctypes.util
    import shutil
    import subprocess
    from pathlib import Path

    missing = [] if ctypes.util.find_library("xcb-cursor") else ["libxcb-cursor.so.0"]
    try:
        import PySide6
    except ImportError:
        return missing
    qt = Path(PySide6.__file__).parent / "Qt"
    ldd = shutil.which("ldd")
    for lib in (qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"):
        if ldd is None or not lib.exists():
            continue
        try:
            out = subprocess.run([ldd, str(lib)], capture_output=True, text=True, timeout=10,
                                 check=False).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            name, _, where = line.strip().partition(" => ")
            if where.strip() == "not found" and name not in missing:
                missing.append(name)
    return missing


def missing_system_library() -> str | None:
    """Why Qt's X11 platform would abort at start, in one line, or None (Qt itself prints a
    long message about libxcb-cursor0 and aborts the process, whichever library is missing)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None  # Qt picks Wayland
    missing = missing_libraries()
    if not missing:
        return None
    packages = " ".join(debian_package(m) for m in missing)
    return (f"netcanvas: the editor needs the system librar{'ies' if len(missing) > 1 else 'y'} "
            f"{', '.join(missing)} to open a window on X11 — install them (Debian/Ubuntu: "
            f"sudo apt install {packages}), or use --screenshot without a display")


def run(args) -> int:
    if args.screenshot and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    missing = missing_system_library()
    if missing:
        print(missing, file=sys.stderr)
        return 1
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
            from app.cli import project_error_text
            print(f"netcanvas: {project_error_text(exc)}", file=sys.stderr)
            return 2
    own_app = QApplication.instance() is None
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
    rc = app.exec()
    if not own_app:
        return rc
    # The window closed, and closing asked about unsaved work, stopped training and removed
    # the autosave. Python's own shutdown (torch, thousands of Qt wrappers) took 2-4 s more
    # with the window still drawn: take the window down now and end the process.
    win.hide()
    app.processEvents()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def screenshot(app, win, path: str) -> int:
    win.show()
    for _ in range(3):
        app.processEvents()
    win.view.fit_all()  # what opening shows: the whole network
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
