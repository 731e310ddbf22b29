"""A1111 "stealth" metadata: generation parameters hidden in pixel least significant bits.

The stealth-pnginfo extension (and NovelAI) write a bit stream into the pixels in
column-major order (down the first column, then the next): a 15-byte signature, a 32-bit
big-endian payload length in bits, then the payload. ``stealth_png*`` uses the alpha channel's
lowest bit, ``stealth_rgb*`` the lowest bits of red, green and blue of each pixel in turn;
``*comp`` payloads are gzip-compressed, ``*info`` ones plain UTF-8.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

# signature -> (channels carrying the bits, gzip-compressed)
SIGNATURES = {
    b"stealth_pnginfo": ("alpha", False),
    b"stealth_pngcomp": ("alpha", True),
    b"stealth_rgbinfo": ("rgb", False),
    b"stealth_rgbcomp": ("rgb", True),
}
_SIGNATURE_BITS = 15 * 8
_LENGTH_BITS = 32
# A generation record is a few kilobytes; refuse to inflate anything absurd (a gzip bomb).
MAX_PAYLOAD_BYTES = 4_000_000


@dataclass(frozen=True)
class StealthPayload:
    """A stealth record: its signature and text, or why the text could not be read."""

    signature: str
    text: str | None
    problem: str | None = None


def read_stealth(image: Image.Image) -> StealthPayload | None:
    """The stealth record hidden in ``image``, or None when no signature is present."""
    modes: tuple[str, ...]
    if image.mode == "RGBA":
        modes = ("alpha", "rgb")
    elif image.mode == "RGB":
        modes = ("rgb",)
    else:
        return None
    for mode in modes:
        reader = _BitReader(image, mode)
        head = reader.read_bytes(0, _SIGNATURE_BITS)
        if head in SIGNATURES and SIGNATURES[head][0] == mode:
            return _read_payload(reader, head)
    return None


def _read_payload(reader: _BitReader, signature: bytes) -> StealthPayload:
    name = signature.decode()
    length_bits = int.from_bytes(reader.read_bytes(_SIGNATURE_BITS, _LENGTH_BITS), "big")
    available = reader.capacity - _SIGNATURE_BITS - _LENGTH_BITS
    if length_bits > available:
        return StealthPayload(name, None, f"declared payload of {length_bits} bits exceeds the "
                                          f"{available} bits the image can hold")
    if length_bits // 8 > MAX_PAYLOAD_BYTES:
        return StealthPayload(name, None, f"declared payload of {length_bits // 8} bytes is "
                                          "implausibly large")
    payload = reader.read_bytes(_SIGNATURE_BITS + _LENGTH_BITS, length_bits // 8 * 8)
    if not SIGNATURES[signature][1]:
        return StealthPayload(name, payload.decode("utf-8", "replace"))
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip container
    try:
        text = inflater.decompress(payload, MAX_PAYLOAD_BYTES)
    except zlib.error as exc:
        return StealthPayload(name, None, f"payload is not valid gzip: {exc}")
    if inflater.unconsumed_tail:
        return StealthPayload(name, None, f"payload inflates past {MAX_PAYLOAD_BYTES} bytes")
    return StealthPayload(name, text.decode("utf-8", "replace"))


class _BitReader:
    """Least significant bits of ``image`` in the extension's column-major order."""

    def __init__(self, image: Image.Image, mode: str) -> None:
        self.image = image
        self.mode = mode
        self.bits_per_pixel = 1 if mode == "alpha" else 3
        width, self.height = image.size
        self.capacity = width * self.height * self.bits_per_pixel

    def read_bytes(self, start_bit: int, count: int) -> bytes:
        """``count`` bits (a multiple of 8) from ``start_bit``, packed into bytes."""
        end = min(start_bit + count, self.capacity)
        if end <= start_bit:
            return b""
        # Decode only the leading columns that hold the wanted bits.
        columns = math.ceil(end / (self.height * self.bits_per_pixel))
        pixels = np.asarray(self.image.crop((0, 0, columns, self.height)))
        if self.mode == "alpha":
            stream = pixels[:, :, 3].T.ravel()
        else:
            stream = pixels[:, :, :3].transpose(1, 0, 2).ravel()
        bits = stream[start_bit:end] & 1
        return np.packbits(bits[: len(bits) // 8 * 8]).tobytes()
