"""The ImageDescription tag (270) of a TIFF's first image directory, bounds-checked.

faceswap's "patch" writer stores each swapped face's transform as JSON in this tag
(docs/tooling.md). Only the first directory is read: the writer makes single-page files.
"""

from __future__ import annotations

from typing import Literal

MAX_TAGS = 4096
MAX_DESCRIPTION = 1 << 20


def image_description(buf: memoryview) -> tuple[bytes | None, list[str]]:
    """The raw ImageDescription bytes (at most 1 MiB), or None, with problems met."""
    size = len(buf)
    head = bytes(buf[:8])
    order: Literal["little", "big"]
    if head[:4] == b"II*\x00":
        order = "little"
    elif head[:4] == b"MM\x00*":
        order = "big"
    else:
        return None, ["not a TIFF"]

    def number(pos: int, width: int) -> int:
        return int.from_bytes(buf[pos:pos + width], order)

    ifd = number(4, 4)
    if ifd + 2 > size:
        return None, [f"first directory offset {ifd} is past the end ({size} bytes)"]
    count = number(ifd, 2)
    if count > MAX_TAGS or ifd + 2 + 12 * count > size:
        return None, [f"first directory declares {count} tags; the file cannot hold them"]
    for index in range(count):
        entry = ifd + 2 + 12 * index
        if number(entry, 2) != 270:
            continue
        if number(entry + 2, 2) != 2:  # ASCII
            return None, ["ImageDescription is not ASCII"]
        length = number(entry + 4, 4)
        if length > MAX_DESCRIPTION:
            return None, [f"ImageDescription declares {length} bytes; read at most {MAX_DESCRIPTION}"]
        start = entry + 8 if length <= 4 else number(entry + 8, 4)
        if start + length > size:
            return None, ["ImageDescription runs past the end of the file (truncated)"]
        return bytes(buf[start:start + length]).rstrip(b"\0"), []
    return None, []
