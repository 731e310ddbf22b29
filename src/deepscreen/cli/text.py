"""Untrusted text for the terminal: :func:`deepscreen.text.visible` on one line, cut short,
and escaped for rich markup (``[/]`` would crash rich, ``[red]`` forge output)."""

from __future__ import annotations

from rich.markup import escape

from ..text import visible

MAX_CHARS = 500  # one value in a table cell or an output line; reports keep the whole text


def safe_text(value: object, limit: int = MAX_CHARS) -> str:
    """``value`` as one printable line (see :func:`deepscreen.text.visible`)."""
    return visible(value, limit=limit, one_line=True)


def markup_safe(value: object, limit: int = MAX_CHARS) -> str:
    """:func:`safe_text`, escaped for rich markup (a ``[`` stays a bracket)."""
    return escape(safe_text(value, limit))
