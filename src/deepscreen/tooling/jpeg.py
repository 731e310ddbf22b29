"""JPEG marker segments before the image data, read by offset (no decoding).

A JPEG is a sequence of ``FF xx`` markers; most carry a two-byte big-endian length that
counts itself. DeepFaceLab stores its face record in an APP15 (``FF EF``) segment, written
next to the other APPn segments before the quantisation tables (docs/tooling.md). Reading
stops at start-of-scan: everything after it is entropy-coded pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from .buffer import u16be

# Markers without a length field: TEM, RSTn, SOI, EOI.
_STANDALONE = {0x01, *range(0xD0, 0xDA)}
SOS, EOI = 0xDA, 0xD9
MAX_SEGMENTS = 512  # a real JPEG header has a few dozen; a hostile one cannot make us loop


@dataclass(frozen=True)
class Segment:
    marker: int  # the byte after FF: 0xE0-0xEF are APP0-APP15
    offset: int  # first payload byte (after the length field)
    length: int  # payload bytes (the declared length minus its own two bytes)

    @property
    def name(self) -> str:
        if 0xE0 <= self.marker <= 0xEF:
            return f"APP{self.marker - 0xE0}"
        return f"0x{self.marker:02X}"


def jpeg_segments(buf: memoryview) -> tuple[list[Segment], list[str]]:
    """Segments from SOI up to start-of-scan, and problems met (truncation, bad markers).

    A declared length that runs past the end of the file is reported, and the segment is not
    returned: a reader must never trust a length it has not checked against the buffer.
    """
    segments: list[Segment] = []
    problems: list[str] = []
    size = len(buf)
    if size < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return segments, ["not a JPEG (no SOI marker)"]
    pos = 2
    while pos < size and len(segments) < MAX_SEGMENTS:
        if buf[pos] != 0xFF:
            problems.append(f"expected a marker at byte {pos}, found 0x{buf[pos]:02X}")
            break
        while pos < size and buf[pos] == 0xFF:  # fill bytes before a marker are legal
            pos += 1
        if pos >= size:
            break
        marker = buf[pos]
        pos += 1
        if marker in _STANDALONE:
            if marker == EOI:
                break
            continue
        if pos + 2 > size:
            problems.append(f"segment 0x{marker:02X} at byte {pos - 2} is cut off before its length")
            break
        declared = u16be(buf, pos)
        if declared < 2:
            problems.append(f"segment 0x{marker:02X} at byte {pos - 2} declares length {declared}")
            break
        if pos + declared > size:
            problems.append(f"segment 0x{marker:02X} at byte {pos - 2} declares {declared} bytes; "
                            f"only {size - pos} remain (truncated)")
            break
        segments.append(Segment(marker, pos + 2, declared - 2))
        pos += declared
        if marker == SOS:
            break
    else:
        if len(segments) >= MAX_SEGMENTS:
            problems.append(f"more than {MAX_SEGMENTS} header segments; stopped reading")
    return segments, problems
