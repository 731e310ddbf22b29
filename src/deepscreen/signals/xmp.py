"""Declared origin in XMP and EXIF metadata: IPTC digital source type, creator tool, software.

Reads metadata only, so it works on items whose pixels failed to decode and on files with
no C2PA manifest. Everything found here was written by whoever produced the file: a
declaration of AI involvement is strong evidence when present, and its absence proves nothing
(stripping metadata is one click).
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image, IptcImagePlugin

from ..findings import Finding
from ..media import Item
from ..provenance.ai_tools import find_ai_tool
from ..provenance.jpeg_extended_xmp import MAX_EXTENDED_BYTES, read_extended_xmp
from ..provenance.source_types import AiInvolvement, lookup_source_type
from ..provenance.xmp_packet import (
    DIGITAL_SOURCE_TYPE,
    MAX_PACKET_BYTES,
    XmpError,
    XmpFields,
    find_xmp_packets,
    parse_xmp_packet,
)
from . import register
from .base import Signal

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
# Fields whose values are software names, searched for known generative-AI tools.
_TOOL_FIELDS = ("xmp:CreatorTool", "tiff:Software", "photoshop:History", "photoshop:Credit",
                "xmpMM:History/stEvt:softwareAgent", *_EXIF_SOFTWARE_TAGS.values(),
                *_PNG_SOFTWARE_KEYS.values(), *_IIM_DATASETS.values())
_AI_SYSTEM_FIELD = "Iptc4xmpExt:AISystemUsed"


@register
class XmpSignal(Signal):
    name = "xmp"
    version = "2"  # 2: UTF-16 packets, JPEG extended XMP, IPTC-IIM
    kinds = frozenset({"image", "video"})
    needs_pixels = False
    description = ("IPTC digital source type, creator tool and software named in XMP and EXIF "
                   "metadata; labels declared AI generation or AI editing")

    def inspect(self, item: Item) -> Finding:
        if item.decode_error is not None and item.decode_error.code == "too-large":
            return self.abstain("item is over the size limit; metadata not read")
        fields = XmpFields()
        errors: list[str] = []
        with _item_bytes(item) as data:
            # A byte search would find a JPEG extended packet cut by segment headers (not
            # XML); it is read reassembled instead, and the search steps over its segments.
            extended = read_extended_xmp(data)
            packets = find_xmp_packets(data, skip=extended.segments)
        image = _pillow_image(item)
        packets += [p for p in _pillow_xmp(image) if p not in packets]
        for packet in packets:
            errors += _merge_packet(fields, packet)
        for packet in extended.packets:
            errors += _merge_packet(fields, packet, MAX_EXTENDED_BYTES)
        packets += extended.packets
        for tag_name, value in _exif_software(image) + _png_software(image) + _iptc_iim(image):
            fields.add(tag_name, value)
        if not fields:
            reason = "XMP metadata could not be read" if errors else "no provenance metadata"
            return self.abstain(reason, xmp_packets=len(packets), errors=errors)
        return self._judge(fields, len(packets), errors)

    def _judge(self, fields: XmpFields, packet_count: int, errors: list[str]) -> Finding:
        labels: list[str] = []
        reasons: list[str] = []
        source_types = []
        composite_declared = False
        for value in fields.get(DIGITAL_SOURCE_TYPE):
            entry = lookup_source_type(value)
            source_types.append({"value": value, "term": entry.term if entry else None,
                                 "meaning": entry.meaning if entry else "not an IPTC term"})
            if entry is None:
                continue
            labels.append(f"source:{entry.term}")
            if entry.involvement is AiInvolvement.GENERATED:
                labels.append("ai-declared")
                reasons.append(f"digital source type {entry.term}")
            elif entry.involvement is AiInvolvement.COMPOSITE:
                labels.append("ai-edited-declared")
                composite_declared = True
                reasons.append(f"digital source type {entry.term}")
        for system in fields.get(_AI_SYSTEM_FIELD):
            labels.append("ai-declared")
            reasons.append(f"AI system used: {system}")
        tool_hits = _ai_tool_mentions(fields)
        # When the file itself declares a composite, an AI tool in its history is the tool
        # that made the composite (e.g. generative fill), not evidence of a generated whole.
        if tool_hits and not composite_declared:
            labels.append("ai-declared")
        reasons += [f"{hit['field']} names {hit['tool']}" for hit in tool_hits]
        labels = list(dict.fromkeys(labels)) or ["provenance-metadata"]
        summary = ("declares AI involvement: " + "; ".join(reasons) if reasons
                   else "provenance metadata present, no AI declared")
        evidence: dict[str, Any] = {"fields": fields.values, "xmp_packets": packet_count,
                                    "source_types": source_types, "ai_tools": tool_hits}
        if errors:
            evidence["errors"] = errors
        return self.finding(labels=tuple(labels), summary=summary, evidence=evidence)


def _merge_packet(fields: XmpFields, packet: bytes, max_bytes: int = MAX_PACKET_BYTES) -> list[str]:
    """Add one packet's fields; the reason it could not be read, if it could not."""
    try:
        fields.merge(parse_xmp_packet(packet, max_bytes))
    except XmpError as exc:
        return [str(exc)]
    return []


def _ai_tool_mentions(fields: XmpFields) -> list[dict[str, str]]:
    hits = []
    for field_name in _TOOL_FIELDS:
        for value in fields.get(field_name):
            tool = find_ai_tool(value)
            if tool:
                hits.append({"field": field_name, "value": value, "tool": tool})
    return hits


@contextmanager
def _item_bytes(item: Item) -> Iterator[bytes | mmap.mmap]:
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


def _pillow_image(item: Item) -> Image.Image | None:
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


def _pillow_xmp(image: Image.Image | None) -> list[bytes]:
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


def _exif_software(image: Image.Image | None) -> list[tuple[str, str]]:
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


def _png_software(image: Image.Image | None) -> list[tuple[str, str]]:
    if image is None or image.format != "PNG":
        return []
    return [(name, value) for key, name in _PNG_SOFTWARE_KEYS.items()
            if isinstance(value := image.info.get(key), str) and value.strip()]


def _iptc_iim(image: Image.Image | None) -> list[tuple[str, str]]:
    if image is None or image.format not in ("JPEG", "TIFF"):
        return []
    try:
        datasets = IptcImagePlugin.getiptcinfo(image) or {}  # type: ignore[arg-type]
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
