"""Identify a file's real type from its first bytes, never from its name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MediaKind = Literal["image", "video", "audio", "unknown"]

SNIFF_BYTES = 4096

_ISO_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                     b"avif", b"avis"}
_ISO_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True)
class MediaType:
    kind: MediaKind
    format: str  # short name: jpeg, png, mp4, ...
    mime: str


UNKNOWN = MediaType("unknown", "unknown", "application/octet-stream")


def sniff(head: bytes) -> MediaType:
    """Return the media type of a file from its first bytes (``SNIFF_BYTES`` is enough)."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType("image", "jpeg", "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaType("image", "png", "image/png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaType("image", "gif", "image/gif")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return MediaType("image", "tiff", "image/tiff")
    if head.startswith(b"BM") and len(head) >= 14:
        return MediaType("image", "bmp", "image/bmp")
    if head[:4] == b"RIFF" and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return MediaType("image", "webp", "image/webp")
        if form == b"WAVE":
            return MediaType("audio", "wav", "audio/wav")
        if form == b"AVI ":
            return MediaType("video", "avi", "video/x-msvideo")
        return UNKNOWN
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_iso_bmff(head)
    if len(head) >= 8 and head[4:8] in _QUICKTIME_ATOMS:
        return MediaType("video", "mov", "video/quicktime")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        if b"webm" in head[:64]:
            return MediaType("video", "webm", "video/webm")
        return MediaType("video", "mkv", "video/x-matroska")
    if head.startswith(b"fLaC"):
        return MediaType("audio", "flac", "audio/flac")
    if head.startswith(b"OggS"):
        if b"\x80theora" in head or b"OVP80" in head:
            return MediaType("video", "ogv", "video/ogg")
        return MediaType("audio", "ogg", "audio/ogg")
    if head.startswith(b"ID3"):
        return MediaType("audio", "mp3", "audio/mpeg")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        # MPEG audio frame sync; 0xFFF1/0xFFF9 is AAC in ADTS, which MP3 players also accept.
        if head[1] & 0xF6 == 0xF0:
            return MediaType("audio", "aac", "audio/aac")
        return MediaType("audio", "mp3", "audio/mpeg")
    return UNKNOWN


def _sniff_iso_bmff(head: bytes) -> MediaType:
    major = head[8:12]
    box_size = int.from_bytes(head[0:4], "big")
    compatible = {head[i:i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    brands = {major} | compatible
    if major in _ISO_IMAGE_BRANDS or (brands & _ISO_IMAGE_BRANDS and major not in
                                      (b"isom", b"mp41", b"mp42", b"qt  ")):
        if major in (b"avif", b"avis") or b"avif" in brands:
            return MediaType("image", "avif", "image/avif")
        return MediaType("image", "heic", "image/heic")
    if major in _ISO_AUDIO_BRANDS:
        return MediaType("audio", "m4a", "audio/mp4")
    if major == b"qt  ":
        return MediaType("video", "mov", "video/quicktime")
    return MediaType("video", "mp4", "video/mp4")
