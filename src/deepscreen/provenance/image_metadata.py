"""Metadata fields an image carries beside XMP: EXIF and PNG software tags, IPTC-IIM, and
the XMP that Pillow extracts itself. Readers only (no judgement): the ``xmp`` signal
(:mod:`deepscreen.signals.xmp`) decides what they declare."""

from __future__ import annotations

import io
import mmap
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile, IptcImagePlugin

from ..media import Item
from .xmp_packet import find_xmp_packets

# EXIF tags that name the software that wrote the file.
_EXIF_SOFTWARE_TAGS = {0x0131: "EXIF Software", 0x000B: "EXIF ProcessingSoftware"}
# Standard PNG text keywords that name the software or device that made the image.
_PNG_SOFTWARE_KEYS = {"Software": "PNG Software", "Source": "PNG Source"}
# Pillow's keys for XMP it extracted itself (it inflates compressed PNG iTXt, which a byte
# search cannot see).
_PILLOW_XMP_KEYS = ("xmp", "XML:com.adobe.xmp")
# IPTC-IIM datasets (record 2, in JPEG APP13 / TIFF) that name software or where a picture
# came from. IIM has no digital source type; these mirror XMP fields that older tools skip.
_IIM_DATASETS = {(2, 65): "IPTC-IIM OriginatingProgram", (2, 110): "IPTC-IIM Credit",
                 (2, 115): "IPTC-IIM Source"}
# Every field name the readers below produce: values that name software.
SOFTWARE_FIELDS = (*_EXIF_SOFTWARE_TAGS.values(), *_PNG_SOFTWARE_KEYS.values(),
                   *_IIM_DATASETS.values())


@contextmanager
def item_bytes(item: Item) -> Iterator[bytes | mmap.mmap]:
    """The item's bytes; a file is memory-mapped so a large video is not copied into memory."""
    if item.data is not None or item.path is None:
        yield item.read_bytes()
        return
    with item.path.open("rb") as handle:
        if item.size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def pillow_image(item: Item) -> Image.Image | None:
    """The decoded image, or its header parsed again when pixels failed to decode."""
    if item.kind != "image":
        return None
    if item.image is not None:
        return item.image
    try:
        # Image.open reads headers and metadata only; no pixels are decoded here.
        return Image.open(io.BytesIO(item.read_bytes()))
    except Exception:  # an undecodable header simply has no metadata for us
        return None


def pillow_xmp(image: Image.Image | None) -> list[bytes]:
    if image is None:
        return []
    packets = []
    for key in _PILLOW_XMP_KEYS:
        value = image.info.get(key)
        if isinstance(value, str):
            value = value.encode("utf-8")
        if isinstance(value, bytes):
            packets += find_xmp_packets(value)
    return packets


def exif_software(image: Image.Image | None) -> list[tuple[str, str]]:
    if image is None:
        return []
    try:
        exif = image.getexif()
    except Exception:  # corrupt EXIF is common in the wild; it just yields nothing
        return []
    found = []
    for tag, name in _EXIF_SOFTWARE_TAGS.items():
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip("\x00 "):
            found.append((name, value.strip("\x00 ")))
    return found


def png_software(image: Image.Image | None) -> list[tuple[str, str]]:
    if image is None or image.format != "PNG":
        return []
    return [(name, value) for key, name in _PNG_SOFTWARE_KEYS.items()
            if isinstance(value := image.info.get(key), str) and value.strip()]


def iptc_iim(image: Image.Image | None) -> list[tuple[str, str]]:
    if not isinstance(image, ImageFile.ImageFile) or image.format not in ("JPEG", "TIFF"):
        return []
    try:
        datasets = IptcImagePlugin.getiptcinfo(image) or {}
    except Exception:  # a corrupt IIM block is common in the wild; it just yields nothing
        return []
    charset = _iim_charset(datasets.get((1, 90)))
    found = []
    for key, name in _IIM_DATASETS.items():
        values = datasets.get(key)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, bytes) and value.strip(b"\x00 "):
                found.append((name, _iim_text(value.strip(b"\x00 "), charset)))
    return found


# ISO 2022 escape sequences of IIM dataset 1:90 (CodedCharacterSet) that writers use.
_IIM_CHARSETS = {b"\x1b%G": "utf-8", b"\x1b-A": "latin-1", b"\x1b.A": "latin-1"}


def _iim_charset(declared: object) -> str | None:
    if isinstance(declared, list):
        declared = declared[0] if declared else None
    return _IIM_CHARSETS.get(declared.strip()) if isinstance(declared, bytes) else None


def _iim_text(value: bytes, charset: str | None = None) -> str:
    """Decode an IIM text dataset in its declared character set (1:90).

    Text that is undeclared, or not valid in its declared set (writers copy fields between
    files without re-encoding), is tried as UTF-8, then Latin-1: modern writers use UTF-8 and
    older ones Latin-1, and a Latin-1 string is almost never valid UTF-8.
    """
    for encoding in (charset, "utf-8"):
        if encoding is not None:
            try:
                return value.decode(encoding)
            except UnicodeDecodeError:
                pass
    return value.decode("latin-1")
