"""The less common places a declaration hides: UTF-16 XMP, JPEG extended XMP, IPTC-IIM."""

from __future__ import annotations

import hashlib
import io
import struct

import pytest
from PIL import Image, IptcImagePlugin

from deepscreen.provenance.jpeg_extended_xmp import (
    MAX_EXTENDED_BYTES,
    SIGNATURE,
    extended_xmp_packets,
)
from deepscreen.provenance.xmp_packet import find_xmp_packets, parse_xmp_packet
from test_xmp import IPTC, jpeg_with_xmp, xmp_finding, xmp_packet

from media_factory import image_bytes, video_bytes

GENERATED = f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"'


def wrapped(packet: str) -> str:
    """``xmp_packet`` output already carries the ``<?xpacket begin="\\ufeff"`` wrapper."""
    assert packet.startswith('<?xpacket begin="\ufeff"')
    return packet


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_packet_in_either_byte_order(encoding: str) -> None:
    # Non-Latin text decodes wrongly in the wrong byte order, so the value proves which was used.
    packet = wrapped(xmp_packet(f'{GENERATED} xmp:CreatorTool="画像ツール Midjourney"'))
    mp4 = video_bytes(seconds=1.0)
    payload = bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + packet.encode(encoding)
    data = mp4 + struct.pack(">I", len(payload) + 8) + b"uuid" + payload
    [found] = find_xmp_packets(data)
    assert parse_xmp_packet(found).get("xmp:CreatorTool") == ["画像ツール Midjourney"]
    finding = xmp_finding(data)
    assert "ai-declared" in finding.labels
    assert finding.evidence["fields"]["xmp:CreatorTool"] == ["画像ツール Midjourney"]


def test_utf16_lookalike_bytes_are_skipped() -> None:
    # "<x:xmpmeta" in UTF-16 followed by an unpaired surrogate is not text; nothing is returned.
    start = '<x:xmpmeta xmlns:x="adobe:ns:meta/">'.encode("utf-16-le")
    data = start + b"\x00\xd8" + "</x:xmpmeta>".encode("utf-16-le")
    assert find_xmp_packets(data) == []


def app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_extended_xmp(main: str, extended: str, chunk: int = 30_000,
                           drop: int | None = None, reverse: bool = False) -> bytes:
    """A JPEG whose ``extended`` packet is split over APP1 segments the way Photoshop writes it."""
    body = extended.encode("utf-8")
    guid = hashlib.md5(body).hexdigest().upper().encode()
    pieces = [(offset, body[offset:offset + chunk]) for offset in range(0, len(body), chunk)]
    if drop is not None:
        del pieces[drop]
    if reverse:
        pieces.reverse()  # readers must not depend on segment order
    segments = b"".join(app1(SIGNATURE + guid + struct.pack(">II", len(body), offset) + piece)
                        for offset, piece in pieces)
    jpeg = jpeg_with_xmp(main)
    return jpeg[:2] + segments + jpeg[2:]


def big_extended_packet() -> str:
    """Over 64 KB, as real extended XMP is: a long history plus the declaration."""
    events = "".join(f'<rdf:li stEvt:action="saved" stEvt:instanceID="xmp.iid:{i:032x}" '
                     f'stEvt:softwareAgent="Adobe Photoshop 25.0"/>' for i in range(900))
    return xmp_packet(GENERATED, f"<xmpMM:History><rdf:Seq>{events}</rdf:Seq></xmpMM:History>")


def main_packet(extended: str) -> str:
    guid = hashlib.md5(extended.encode()).hexdigest().upper()
    return xmp_packet(f'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmpNote:HasExtendedXMP="{guid}" '
                      'xmp:CreatorTool="Adobe Photoshop 25.0"')


@pytest.mark.parametrize("reverse", [False, True])
def test_extended_xmp_is_reassembled_and_read(reverse: bool) -> None:
    extended = big_extended_packet()
    assert len(extended) > 65_535  # it could not have fitted one segment
    data = jpeg_with_extended_xmp(main_packet(extended), extended, reverse=reverse)
    assert extended_xmp_packets(data) == [extended.encode()]
    finding = xmp_finding(data)
    assert "ai-declared" in finding.labels  # the declaration lives only in the extended part
    assert "errors" not in finding.evidence  # the spliced copy the byte search sees is not an error
    assert finding.evidence["xmp_packets"] == 2


def test_extended_xmp_with_a_missing_chunk_is_skipped() -> None:
    extended = big_extended_packet()
    data = jpeg_with_extended_xmp(main_packet(extended), extended, drop=1)
    assert extended_xmp_packets(data) == []
    finding = xmp_finding(data)
    assert "ai-declared" not in finding.labels
    assert finding.evidence["fields"]["xmp:CreatorTool"] == ["Adobe Photoshop 25.0"]


def test_extended_xmp_rejects_bad_lengths_and_non_jpeg() -> None:
    guid = b"0" * 32
    over = app1(SIGNATURE + guid + struct.pack(">II", MAX_EXTENDED_BYTES + 1, 0) + b"<x")
    past_end = app1(SIGNATURE + guid + struct.pack(">II", 4, 2) + b"<x:x")
    short = app1(SIGNATURE + b"0" * 10)
    jpeg = image_bytes("JPEG", 32, 32)
    for segment in (over, past_end, short):
        assert extended_xmp_packets(jpeg[:2] + segment + jpeg[2:]) == []
    assert extended_xmp_packets(b"\x89PNG\r\n\x1a\n" + past_end) == []
    truncated = jpeg[:2] + app1(SIGNATURE + guid + struct.pack(">II", 2, 0) + b"ab")[:-1]
    assert extended_xmp_packets(truncated) == []


def jpeg_with_iim(*datasets: tuple[int, int, bytes]) -> bytes:
    """A JPEG with a Photoshop APP13 segment whose IPTC-NAA resource holds ``datasets``."""
    iim = b"".join(b"\x1c" + bytes([record, number]) + struct.pack(">H", len(value)) + value
                   for record, number, value in datasets)
    iim += b"\x00" * (len(iim) % 2)
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\x00" + resource
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    jpeg = image_bytes("JPEG", 64, 48)
    return jpeg[:2] + segment + jpeg[2:]


def test_iptc_iim_originating_program_names_an_ai_tool() -> None:
    finding = xmp_finding(jpeg_with_iim((1, 90, b"\x1b%G"), (2, 0, b"\x00\x04"),
                                        (2, 65, b"Midjourney"), (2, 110, b"Caf\xe9 Press")))
    assert "ai-declared" in finding.labels
    assert finding.evidence["ai_tools"] == [
        {"field": "IPTC-IIM OriginatingProgram", "value": "Midjourney", "tool": "Midjourney"}]
    # Declared UTF-8 but written in Latin-1 (copied between files): the Latin-1 fallback.
    assert finding.evidence["fields"]["IPTC-IIM Credit"] == ["Café Press"]


def test_iptc_iim_text_is_read_in_its_declared_character_set() -> None:
    # b"\xc3\xa9" is "é" in UTF-8 but "Ã©" in Latin-1, the set this file declares (ESC - A).
    declared_latin1 = xmp_finding(jpeg_with_iim((1, 90, b"\x1b-A"), (2, 0, b"\x00\x04"),
                                                (2, 110, b"Caf\xc3\xa9")))
    assert declared_latin1.evidence["fields"]["IPTC-IIM Credit"] == ["CafÃ©"]
    undeclared = xmp_finding(jpeg_with_iim((2, 0, b"\x00\x04"), (2, 110, b"Caf\xc3\xa9")))
    assert undeclared.evidence["fields"]["IPTC-IIM Credit"] == ["Café"]


def test_iptc_iim_without_ai_is_plain_metadata() -> None:
    finding = xmp_finding(jpeg_with_iim((2, 0, b"\x00\x04"), (2, 65, b"Capture One 23")))
    assert finding.labels == ("provenance-metadata",)


def test_corrupt_iim_block_yields_nothing_not_a_crash() -> None:
    data = jpeg_with_iim((2, 65, b"Midjourney"))
    at = data.index(b"\x1c\x02\x41") + 3
    data = data[:at] + b"\xff\xff" + data[at + 2:]  # the dataset's length now runs past the end
    with pytest.raises(OSError):  # what Pillow does with it ...
        IptcImagePlugin.getiptcinfo(Image.open(io.BytesIO(data)))
    assert xmp_finding(data).abstained == "no provenance metadata"  # ... and what the signal does
