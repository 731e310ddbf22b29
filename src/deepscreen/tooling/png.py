"""PNG chunks by offset: type, position and length, without inflating any image data.

faceswap writes its face record as an ``iTXt`` chunk with the keyword ``faceswap`` before the
first IDAT; old DeepFaceLab builds wrote a private ``fcWp`` chunk holding a pickle just before
IEND (docs/tooling.md). Both need a walk over every chunk header, which costs one small read
per chunk: IDAT payloads are skipped, never read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .buffer import u32be

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 200_000  # 8 KiB IDAT chunks of a 1 GiB file are ~130k; beyond that is hostile
PNG_MAX_CHUNK = 0x7FFFFFFF  # the PNG specification caps a chunk at 2^31 - 1 bytes


@dataclass(frozen=True)
class Chunk:
    type: bytes
    offset: int  # first data byte
    length: int


def png_chunks(buf: memoryview) -> tuple[list[Chunk], list[str]]:
    """Every chunk but IDAT (counted instead), and problems met. Stops at IEND."""
    chunks: list[Chunk] = []
    problems: list[str] = []
    size = len(buf)
    if bytes(buf[:8]) != SIGNATURE:
        return chunks, ["not a PNG (bad signature)"]
    pos, seen = 8, 0
    while pos + 8 <= size:
        seen += 1
        if seen > MAX_CHUNKS:
            problems.append(f"more than {MAX_CHUNKS} chunks; stopped reading")
            break
        length = u32be(buf, pos)
        kind = bytes(buf[pos + 4:pos + 8])
        if length > PNG_MAX_CHUNK:
            problems.append(f"chunk {kind!r} at byte {pos} declares {length} bytes (over the 2^31 limit)")
            break
        end = pos + 12 + length
        if end > size:
            problems.append(f"chunk {kind!r} at byte {pos} declares {length} bytes; "
                            f"only {max(0, size - pos - 12)} remain (truncated)")
            break
        if kind != b"IDAT":
            chunks.append(Chunk(kind, pos + 8, length))
        if kind == b"IEND":
            break
        pos = end
    return chunks, problems


def itxt_parts(payload: memoryview) -> tuple[bytes, memoryview] | None:
    """(keyword, text) of an uncompressed iTXt chunk, or None when it is compressed or malformed.

    iTXt is: keyword NUL, compression flag, method, language tag NUL, translated keyword NUL,
    text. Compressed text (flag 1) is not inflated here: faceswap never compresses its record.
    """
    raw = bytes(payload[:80])
    nul = raw.find(b"\0")
    if nul <= 0 or nul + 3 > len(payload):
        return None
    keyword = raw[:nul]
    if payload[nul + 1] != 0:
        return None
    rest = payload[nul + 3:]
    first = bytes(rest[:200]).find(b"\0")  # language tag
    if first < 0:
        return None
    second = bytes(rest[first + 1:first + 401]).find(b"\0")  # translated keyword
    if second < 0:
        return None
    return keyword, rest[first + 1 + second + 1:]
