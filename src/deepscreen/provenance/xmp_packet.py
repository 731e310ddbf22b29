"""Find XMP packets in a file's bytes and read the provenance fields they declare.

XMP is XML embedded verbatim in JPEG, PNG, WebP, TIFF, MP4 and most other containers, so a
byte search for ``<x:xmpmeta`` finds it without a format-specific parser; the XMP
specification also allows UTF-16, which a second search for the UTF-16 spelling finds. The
XML comes from
the upload, so parsing is defensive: bounded size and count, and any DTD is refused outright
(XMP never needs one, and entity declarations are how XML parsers get exhausted).
"""

from __future__ import annotations

import mmap
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_PACKET_BYTES = 1 << 20  # real packets are a few KB; Photoshop's largest are ~100 KB
MAX_PACKETS = 8
MAX_VALUES_PER_FIELD = 32
MAX_VALUE_CHARS = 512

_START = re.compile(rb"<x:x[am]pmeta[\s>]")  # x:xapmeta is the pre-2002 spelling
_END = re.compile(rb"</x:x[am]pmeta\s*>")
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _utf16le(*atoms: bytes) -> bytes:
    """A regex for ``atoms`` (one character or character class each) spelled in UTF-16LE."""
    return b"".join(atom + rb"\x00" for atom in atoms)


# UTF-16 text read from its "<" is the same bytes in both byte orders (big-endian has one more
# zero byte in front), so one little-endian search finds either; the end pattern stops at the
# closing ">" and leaves out the zero byte that follows it in little-endian only.
_XMPMETA = (b"x", b":", b"x", b"[am]", b"p", b"m", b"e", b"t", b"a")
_START_UTF16 = re.compile(_utf16le(b"<", *_XMPMETA))
_END_UTF16 = re.compile(_utf16le(b"<", b"/", *_XMPMETA) + b">")

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP = "http://ns.adobe.com/xap/1.0/"
TIFF = "http://ns.adobe.com/tiff/1.0/"
PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
RESOURCE_EVENT = "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"

# (namespace, local name) -> the field name a reviewer knows it by.
FIELDS: dict[tuple[str, str], str] = {
    (IPTC_EXT, "DigitalSourceType"): "Iptc4xmpExt:DigitalSourceType",
    (IPTC_EXT, "AISystemUsed"): "Iptc4xmpExt:AISystemUsed",
    (IPTC_EXT, "AISystemVersionUsed"): "Iptc4xmpExt:AISystemVersionUsed",
    (XMP, "CreatorTool"): "xmp:CreatorTool",
    (TIFF, "Software"): "tiff:Software",
    (PHOTOSHOP, "History"): "photoshop:History",
    (PHOTOSHOP, "Credit"): "photoshop:Credit",
    (RESOURCE_EVENT, "softwareAgent"): "xmpMM:History/stEvt:softwareAgent",
}
DIGITAL_SOURCE_TYPE = FIELDS[(IPTC_EXT, "DigitalSourceType")]


class XmpError(ValueError):
    """An XMP packet that cannot be read safely; the message says why."""


@dataclass
class XmpFields:
    """Provenance fields of one or more packets: field name -> distinct values, in order."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        value = " ".join(value.split())[:MAX_VALUE_CHARS]
        bucket = self.values.setdefault(name, [])
        if value and value not in bucket and len(bucket) < MAX_VALUES_PER_FIELD:
            bucket.append(value)

    def merge(self, other: XmpFields) -> None:
        for name, values in other.values.items():
            for value in values:
                self.add(name, value)

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def __bool__(self) -> bool:
        return any(self.values.values())


def find_xmp_packets(data: bytes | memoryview | mmap.mmap,
                     skip: Sequence[tuple[int, int]] = ()) -> list[bytes]:
    """The ``x:xmpmeta`` elements in ``data`` as UTF-8, at most :data:`MAX_PACKETS`, each bounded.

    A start without an end within :data:`MAX_PACKET_BYTES` is skipped: it is either a stray
    string inside compressed data or a packet too large to trust. So is a start inside one of
    the ``skip`` byte ranges (JPEG extended-XMP segments, read reassembled instead).
    """
    packets = [bytes(data[start:end])
               for start, end in _spans(data, _START, _END, MAX_PACKETS, skip)]
    for start, end in _spans(data, _START_UTF16, _END_UTF16, MAX_PACKETS - len(packets), skip):
        try:
            packets.append(_utf16_packet(data, start, end))
        except UnicodeDecodeError:
            continue  # zero-interleaved bytes that are not UTF-16 text after all
    return packets


def _spans(data: bytes | memoryview | mmap.mmap, start_pattern: re.Pattern[bytes],
           end_pattern: re.Pattern[bytes], limit: int,
           skip: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    while len(spans) < limit:
        start = start_pattern.search(data, position)
        if start is None:
            break
        if any(low <= start.start() < high for low, high in skip):
            position = start.end()
            continue
        end = end_pattern.search(data, start.end(), start.start() + MAX_PACKET_BYTES)
        if end is None:
            position = start.end()
            continue
        spans.append((start.start(), end.end()))
        position = end.end()
    return spans


def _utf16_packet(data: bytes | memoryview | mmap.mmap, start: int, end: int) -> bytes:
    """Re-encode as UTF-8 the UTF-16 packet found at ``data[start:end]`` (from its "<").

    The byte order is that of the byte-order mark the XMP wrapper puts just before the packet
    (``<?xpacket begin="\ufeff"``); without one, little-endian (what Windows tools write).
    Text outside Latin-1 would decode wrongly in the other byte order, so this matters.
    """
    lead = bytes(data[max(0, start - 256):start])
    if start > 0 and lead.rfind(b"\xfe\xff") > lead.rfind(b"\xff\xfe"):
        return bytes(data[start - 1:end]).decode("utf-16-be").encode("utf-8")
    return (bytes(data[start:end]) + b"\x00").decode("utf-16-le").encode("utf-8")


def parse_xmp_packet(packet: bytes | str, max_bytes: int = MAX_PACKET_BYTES) -> XmpFields:
    """Read the provenance fields of one packet. Raises :class:`XmpError` for unsafe or bad XML.

    ``max_bytes`` is raised only for JPEG extended XMP, whose whole point is to be large.
    """
    raw = packet.encode("utf-8") if isinstance(packet, str) else packet
    if len(raw) > max_bytes:
        raise XmpError(f"XMP packet of {len(raw):,} bytes is over the {max_bytes:,} limit")
    if _DTD.search(raw):
        raise XmpError("XMP packet declares a DTD or entities; refused")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise XmpError(f"XMP packet is not well-formed XML: {exc}") from exc
    fields = XmpFields()
    for element in root.iter():
        # A field may be written as an attribute of rdf:Description ...
        for key, value in element.attrib.items():
            name = FIELDS.get(_split(key))
            if name:
                fields.add(name, value)
        # ... or as an element holding text, a resource URI, or an rdf:Seq/Bag/Alt of items.
        name = FIELDS.get(_split(element.tag))
        if name:
            for value in _element_values(element):
                fields.add(name, value)
    return fields


def _element_values(element: ET.Element) -> list[str]:
    resource = element.get(f"{{{RDF}}}resource")
    if resource:
        return [resource]
    if element.text and element.text.strip():
        return [element.text]
    return [li.text for li in element.iter(f"{{{RDF}}}li") if li.text and li.text.strip()]


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag
