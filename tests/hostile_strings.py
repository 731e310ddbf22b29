"""Strings an attacker puts in file names and metadata, for tests of every output."""

from __future__ import annotations

HOSTILE = {
    "rich markup": "a[/][/][/]b [red]forged[/red] [link=http://x]y[/link]",
    "brackets in a name": "holiday [final] [b].jpg",
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "ansi escapes": "\x1b[2J\x1b[31mred\x1b[0m\x1b]8;;http://evil\x07link\x1b]8;;\x07",
    "control characters": "bell\x07 back\x08space nul\x00 del\x7f cr\rlf\nend",
    "right-to-left override": "invoice\u202egpj.exe",
    "zero width": "pay\u200bpal",
    "huge": "A" * (1 << 20),
}

# Characters that must never reach a terminal raw: ESC starts control sequences, BEL, BS
# and CR rewrite what was shown, and the override reorders it.
RAW_FORBIDDEN = ("\x1b", "\x07", "\x08", "\r", "\u202e", "\x00")
