"""Identify a file's real type from its first bytes, never from its name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# "archive" covers containers whose members are screened one by one as items of their own:
# ZIP, TAR (plain or compressed), single-file GZ/BZ2/XZ, and PDF (its embedded images).
MediaKind = Literal["image", "video", "audio", "archive", "unknown"]

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
    container = _sniff_container(head)
    if container is not None:
        return container
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
    if _is_adts(head):
        return MediaType("audio", "aac", "audio/aac")
    if _is_mpeg_audio_frame(head):
        return MediaType("audio", "mp3", "audio/mpeg")
    if sniff_pdf_late(head):
        return PDF
    return UNKNOWN


def _sniff_container(head: bytes) -> MediaType | None:
    """Archives and PDF. A ZIP may start with an empty archive's end record (``PK\\5\\6``);
    a TAR has no magic at its start, only ``ustar`` in the first header at offset 257; PDF
    readers accept ``%PDF-`` anywhere in the first 1024 bytes, so an attacker can put junk
    (or another format's magic) first: it is looked for there too."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return MediaType("archive", "zip", "application/zip")
    if head[:2] == b"\x1f\x8b":
        return MediaType("archive", "gzip", "application/gzip")
    if head[:3] == b"BZh" and head[3:4].isdigit():
        return MediaType("archive", "bzip2", "application/x-bzip2")
    if head[:6] == b"\xfd7zXZ\x00":
        return MediaType("archive", "xz", "application/x-xz")
    if head[257:262] == b"ustar":
        return MediaType("archive", "tar", "application/x-tar")
    if head.startswith(b"%PDF-"):
        return PDF
    return None


PDF = MediaType("archive", "pdf", "application/pdf")


def sniff_pdf_late(head: bytes) -> bool:
    """``%PDF-`` after leading junk, within the first 1024 bytes (checked only when nothing
    else matched: a JPEG with the string in its metadata stays a JPEG)."""
    return b"%PDF-" in head[:1024]


_MPEG_BITRATES_KBPS = {  # (version is MPEG-1, layer) -> bitrate table by index
    (True, 3): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 3): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_SAMPLE_RATES = {0b11: (44100, 48000, 32000), 0b10: (22050, 24000, 16000),
                      0b00: (11025, 12000, 8000)}


def _mpeg_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG audio frame starting with ``header``, or None if invalid."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 0b11, (header[1] >> 1) & 0b11
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 0b11
    if version == 0b01 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits  # 0b11 is layer I
    mpeg1 = version == 0b11
    bitrate = _MPEG_BITRATES_KBPS[(mpeg1, layer_bits)][bitrate_index] * 1000
    rate = _MPEG_SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    per_frame = 144 if (mpeg1 or layer == 2) else 72
    return per_frame * bitrate // rate + padding


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """Two consecutive valid MPEG audio frame headers: 11 sync bits alone match random data."""
    length = _mpeg_frame_length(head)
    if length is None or length < 24:
        return False
    following = head[length:length + 4]
    if len(following) < 4:
        return len(head) < length + 4 and len(head) < SNIFF_BYTES  # a file of one short frame
    return _mpeg_frame_length(following) is not None and following[1] == head[1]


def _is_adts(head: bytes) -> bool:
    """AAC in ADTS framing: sync 0xFFF, layer 00, a valid sampling-frequency index."""
    return (len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0
            and (head[2] >> 2) & 0x0F < 13)


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
