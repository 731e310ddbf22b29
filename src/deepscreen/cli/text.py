"""Untrusted text made safe to print: file names, metadata and evidence come from uploads.

A file name or a metadata field can hold rich markup (``[/]`` crashes rich, ``[red]`` forges
output), ANSI escape sequences (which move the cursor or rewrite earlier lines), other
control characters, right-to-left overrides (which make ``gpj.exe`` read ``exe.jpg``),
megabytes of text, and bytes that are not UTF-8 (``os.fsdecode`` keeps them as lone
surrogates). :func:`safe_text` turns all of that into plain visible text; :func:`markup_safe`
escapes it for rich on top.
"""

from __future__ import annotations

import unicodedata

from rich.markup import escape

MAX_CHARS = 500  # one value in a table cell or an output line; reports keep the whole text

# Invisible characters that reorder or hide text: bidi embeddings, overrides and isolates,
# zero-width joiners and marks, the BOM.
_REORDERING = {*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C, 0x200D,
               0x200E, 0x200F, 0x061C, 0xFEFF}


def _visible(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # any other lone surrogate cannot be printed at all
        return f"\\u{code:04x}"
    if code in _REORDERING or (unicodedata.category(char) in ("Cc", "Cf") and char != "\t"):
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def safe_text(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as one printable line: control, format and reordering characters shown as
    escapes (a line break is ``\\x0a``), cut to ``limit`` characters with a note of how
    many more."""
    text = str(value)
    cut = len(text) > limit
    shown = text[:limit] if cut else text
    clean = "".join(_visible(c) if not c.isprintable() or ord(c) in _REORDERING
                    or 0xD800 <= ord(c) <= 0xDFFF else c for c in shown)
    if cut:
        clean += f"... ({len(text) - limit:,} more characters)"
    return clean


def markup_safe(value: object, limit: int = MAX_CHARS) -> str:
    """:func:`safe_text`, escaped for rich markup (a ``[`` stays a bracket)."""
    return escape(safe_text(value, limit))
