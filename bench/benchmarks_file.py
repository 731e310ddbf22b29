"""Writing one benchmark's own section of BENCHMARKS.md, leaving every other section alone."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(title: str, text: str, path: Path = BENCHMARKS) -> None:
    """Replace the section headed ``title`` (up to the next ``## `` heading) with ``text``,
    or append it; the file is re-read right before writing, as other benchmarks share it.

    Notes written by hand belong in a section of their own: this one is rewritten whole.
    """
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = current.find(title + "\n")
    if start < 0:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = current.find("\n## ", start + len(title))
        rest = "" if end < 0 else "\n" + current[end + 1:]  # keep a blank line before it
        updated = current[:start] + text.rstrip("\n") + "\n" + rest
    path.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")
