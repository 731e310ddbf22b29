"""Reassemble JPEG "extended XMP": the part of a packet too large for one APP1 segment.

A JPEG segment holds at most 65,533 bytes, so a writer whose XMP is larger (Photoshop with a
long edit history, document ancestors or an embedded thumbnail) keeps a short main packet in
the usual APP1 segment and moves whole properties into an extended packet (XMP Specification
Part 3, section 1.1.3.1). The extended packet is split over APP1 segments, each holding:

    "http://ns.adobe.com/xmp/extension/\\0"   signature, 35 bytes
    GUID                                     32 ASCII hex digits (MD5 of the full packet)
    full length, offset                      big-endian uint32 each
    chunk                                    this segment's slice of the packet

A byte search finds the start of the extended packet but its XML is interrupted by the next
segments' headers, so it does not parse; this module walks the JPEG segments and joins the
chunks. Every chunk of the packet must be present and in bounds, or the packet is skipped:
a partial packet is not well-formed XML anyway.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field

SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
MAX_EXTENDED_BYTES = 16 << 20  # Photoshop's biggest are a few MB; beyond this is not metadata
_MAX_PACKETS = 4
_HEADER = len(SIGNATURE) + 32 + 8
_APP1 = 0xE1
_SOS, _EOI = 0xDA, 0xD9
_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # TEM, RSTn, SOI: markers without a length


@dataclass
class ExtendedXmp:
    """What a JPEG holds of extended XMP."""

    packets: list[bytes] = field(default_factory=list)  # complete ones, reassembled
    segments: list[tuple[int, int]] = field(default_factory=list)  # byte ranges of its chunks


def read_extended_xmp(data: bytes | memoryview | mmap.mmap) -> ExtendedXmp:
    """The complete extended-XMP packets of a JPEG (in the order their GUIDs first appear) and
    where its extension segments lie, so a byte search for packets can step over them.

    Finds nothing in data that is not a JPEG. Only the segments before the image data are
    read, which is where every writer puts metadata, so the cost does not grow with the image.
    """
    found = ExtendedXmp()
    chunks: dict[bytes, tuple[int, dict[int, bytes]]] = {}
    for start, end, payload in _app1_segments(data):
        if not payload.startswith(SIGNATURE):
            continue
        found.segments.append((start, end))
        if len(payload) < _HEADER:
            continue
        guid = payload[len(SIGNATURE):len(SIGNATURE) + 32]
        full_length, offset = struct.unpack(">II", payload[_HEADER - 8:_HEADER])
        chunk = payload[_HEADER:]
        if not 0 < full_length <= MAX_EXTENDED_BYTES or offset + len(chunk) > full_length:
            continue
        if guid not in chunks and len(chunks) >= _MAX_PACKETS:
            continue
        length, parts = chunks.setdefault(guid, (full_length, {}))
        if length == full_length:
            parts[offset] = chunk
    found.packets = [packet for length, parts in chunks.values()
                     if (packet := _join(length, parts)) is not None]
    return found


def extended_xmp_packets(data: bytes | memoryview | mmap.mmap) -> list[bytes]:
    """Just the complete extended-XMP packets of :func:`read_extended_xmp`."""
    return read_extended_xmp(data).packets


def _join(length: int, parts: dict[int, bytes]) -> bytes | None:
    """The chunks laid end to end, or None when they leave a gap or overlap."""
    position = 0
    for offset in sorted(parts):
        if offset != position:
            return None
        position += len(parts[offset])
    return b"".join(parts[offset] for offset in sorted(parts)) if position == length else None


def _app1_segments(data: bytes | memoryview | mmap.mmap) -> list[tuple[int, int, bytes]]:
    """(start, end, payload) of the APP1 segments between SOI and the first SOS (or the first
    malformed marker)."""
    if bytes(data[:2]) != b"\xff\xd8":
        return []
    segments = []
    position = 2
    size = len(data)
    while position + 4 <= size:
        if data[position] != 0xFF:
            break  # not a marker where one must be: stop rather than guess
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        if marker in (_SOS, _EOI):
            break
        (length,) = struct.unpack(">H", bytes(data[position + 2:position + 4]))
        if length < 2 or position + 2 + length > size:
            break
        if marker == _APP1:
            segments.append((position, position + 2 + length,
                             bytes(data[position + 4:position + 2 + length])))
        position += 2 + length
    return segments
