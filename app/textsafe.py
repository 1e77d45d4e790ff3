"""User text on its way out: to a terminal, to a UTF-8 file.

Ids, labels and names come from project files, which are untrusted: an id may hold
ESC/OSC sequences that retitle or repaint a terminal, or a lone surrogate that UTF-8
cannot encode. Such text is shown escaped (`\\x1b`), never written raw.
"""
from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the invisible format characters that reorder or hide text
# (bidi overrides, zero-width marks): what can change a terminal or fake what it shows.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
                     r"\ud800-\udfff]")


def encodable(text: str) -> bool:
    """Whether UTF-8 can encode `text` (it cannot encode lone surrogates such as \\ud800)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text_problem(what: str, text: str) -> str | None:
    """Why `text` cannot be kept (said for `what`), or None."""
    if not encodable(text):
        return f"{what} holds characters that are not valid Unicode (a lone surrogate)"
    return None


def term_safe(text: str, keep_newlines: bool = False) -> str:
    """`text` with control and invisible characters escaped, safe to print on a terminal.
    With keep_newlines, "\\n" stays (for messages NetCanvas itself splits into lines)."""
    def esc(m: re.Match) -> str:
        c = m.group()
        if keep_newlines and c == "\n":
            return c
        n = ord(c)
        return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"
    return _UNSAFE.sub(esc, str(text))
