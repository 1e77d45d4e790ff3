"""Data files shipped with NetCanvas: templates (example projects), icons, styles."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TEMPLATES_DIR = ROOT / "templates"
EXAMPLE = TEMPLATES_DIR / "hybrid.json"  # the built-in example


def templates() -> dict[str, Path]:
    """Template name (file stem) → path, in a stable order."""
    return {p.stem: p for p in sorted(TEMPLATES_DIR.glob("*.json"))}
