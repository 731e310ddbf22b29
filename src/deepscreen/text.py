"""Untrusted text made safe to show: file names, metadata and evidence come from uploads.

A name or a metadata field can hold ANSI escape sequences (which move a terminal's cursor or
rewrite what it showed), other control characters, right-to-left overrides (which make
``gpj.exe`` read as ``exe.jpg``), zero-width characters, megabytes of text, and bytes that are
not UTF-8 (``os.fsdecode`` keeps them as lone surrogates). :func:`visible` turns all of that
into plain visible text; each output escapes it for its own syntax on top (rich markup in
the CLI, HTML in the report and the review UI).
"""

from __future__ import annotations

import unicodedata

# Invisible characters that reorder or hide text: bidi embeddings, overrides and isolates,
# zero-width spaces, joiners and marks, the BOM.
_REORDERING = frozenset({*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200C,
                         0x200D, 0x200E, 0x200F, 0x061C, 0xFEFF})


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _hidden(char: str, one_line: bool) -> bool:
    code = ord(char)
    if char in "\n\t":
        return one_line and char == "\n"
    return (code in _REORDERING or 0xD800 <= code <= 0xDFFF
            or unicodedata.category(char) in ("Cc", "Cf"))


def visible(value: object, limit: int | None = None, one_line: bool = True) -> str:
    """``value`` as text that shows what it holds: control, format and reordering
    characters as escapes (``\\x1b``, ``\\u202e``), line breaks too when ``one_line``, cut
    to ``limit`` characters with a note of how many more."""
    text = str(value)
    cut = limit is not None and len(text) > limit
    shown = text[:limit] if cut else text
    clean = "".join(_escape(c) if _hidden(c, one_line) else c for c in shown)
    if cut:
        clean += f"... ({len(text) - (limit or 0):,} more characters)"
    return clean
