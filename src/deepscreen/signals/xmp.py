"""Declared origin in XMP and EXIF metadata: IPTC digital source type, creator tool, software.

Reads metadata only, so it works on items whose pixels failed to decode and on files with
no C2PA manifest. Everything found here was written by whoever produced the file: a
declaration of AI involvement is strong evidence when present, and its absence proves nothing
(stripping metadata is one click).
"""

from __future__ import annotations

from typing import Any

from ..findings import Finding
from ..media import Item
from ..provenance.ai_tools import find_ai_tool
from ..provenance.image_metadata import (
    SOFTWARE_FIELDS,
    exif_software,
    iptc_iim,
    item_bytes,
    pillow_image,
    pillow_xmp,
    png_software,
)
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
from .base import Signal
from .registry import register

# Fields whose values are software names, searched for known generative-AI tools.
_TOOL_FIELDS = ("xmp:CreatorTool", "tiff:Software", "photoshop:History", "photoshop:Credit",
                "xmpMM:History/stEvt:softwareAgent", *SOFTWARE_FIELDS)
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
        with item_bytes(item) as data:
            # A byte search would find a JPEG extended packet cut by segment headers (not
            # XML); it is read reassembled instead, and the search steps over its segments.
            extended = read_extended_xmp(data)
            packets = find_xmp_packets(data, skip=extended.segments)
        image = pillow_image(item)
        packets += [p for p in pillow_xmp(image) if p not in packets]
        for packet in packets:
            errors += _merge_packet(fields, packet)
        for packet in extended.packets:
            errors += _merge_packet(fields, packet, MAX_EXTENDED_BYTES)
        packets += extended.packets
        for tag_name, value in exif_software(image) + png_software(image) + iptc_iim(image):
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
