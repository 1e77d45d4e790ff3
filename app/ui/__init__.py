"""The NetCanvas editor (PySide6). Importing this package does not import Qt: the CLI lists
`netcanvas gui` without loading it; `app.ui.main_window.MainWindow` is the window."""
