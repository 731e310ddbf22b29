"""Zero-copy views of a file's bytes, so readers can skip weights without reading them.

A face-swap model is hundreds of megabytes of weights around a few kilobytes of structure.
The readers in this package walk that structure by offsets and jump over the weights; over a
memory-mapped file the skipped pages are never read from disk.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class FormatError(ValueError):
    """The bytes do not follow the format a reader expected (truncated, inconsistent)."""


@contextmanager
def file_view(data: bytes | bytearray | memoryview | None = None,
              path: Path | None = None) -> Iterator[memoryview]:
    """A read-only ``memoryview`` of in-memory bytes or of a memory-mapped file.

    An empty file gives an empty view (``mmap`` refuses length 0). The view is released when
    the block ends; readers must not keep slices of it beyond that.
    """
    if data is not None:
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) else data
        try:
            yield view
        finally:
            if not isinstance(data, memoryview):
                view.release()
        return
    if path is None:
        raise FormatError("neither bytes nor a path to read")
    with open(path, "rb") as handle:
        size = Path(path).stat().st_size
        if size == 0:
            yield memoryview(b"")
            return
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        try:
            yield view
        finally:
            view.release()
            mapped.close()


def u16be(buf: memoryview, pos: int) -> int:
    return (buf[pos] << 8) | buf[pos + 1]


def u32be(buf: memoryview, pos: int) -> int:
    return int.from_bytes(buf[pos:pos + 4], "big")


def text(raw: bytes | memoryview, limit: int = 200) -> str:
    """Bytes from a file as a short printable string for evidence (never trusted, never run)."""
    value = bytes(raw[:limit * 4]).decode("utf-8", errors="replace")
    value = "".join(ch if ch.isprintable() else "\ufffd" for ch in value)
    return value if len(value) <= limit else value[:limit] + "…"
