"""The xmp signal: IPTC digital source type, creator tool, history and software fields."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from deepscreen.config import ScanConfig
from deepscreen.findings import Finding
from deepscreen.provenance import find_ai_tool, lookup_source_type
from deepscreen.provenance.xmp_packet import (
    MAX_PACKET_BYTES,
    XmpError,
    find_xmp_packets,
    parse_xmp_packet,
)
from deepscreen.scan import Scanner

from media_factory import image_bytes, video_bytes

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def xmp_packet(description_attrs: str = "", body: str = "") -> str:
    """A complete XMP packet in the shape Adobe and IPTC tools write."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" {description_attrs}>{body}
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def history(*agents: str) -> str:
    items = "".join(f'<rdf:li stEvt:action="saved" stEvt:softwareAgent="{a}"/>' for a in agents)
    return f"<xmpMM:History><rdf:Seq>{items}</rdf:Seq></xmpMM:History>"


def jpeg_with_xmp(packet: str, **save: object) -> bytes:
    """A JPEG carrying ``packet`` in an APP1 segment right after SOI, where XMP lives."""
    jpeg = image_bytes("JPEG", 96, 64, **save)
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode("utf-8")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + segment + jpeg[2:]


def xmp_finding(data: bytes) -> Finding:
    with Scanner(ScanConfig(signals=("xmp",))) as scanner:
        finding = scanner.scan(data, name="item").finding("xmp")
    assert finding is not None
    return finding


def test_trained_algorithmic_source_type_is_ai_declared() -> None:
    packet = xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"')
    finding = xmp_finding(jpeg_with_xmp(packet))
    assert set(finding.labels) == {"ai-declared", "source:trainedAlgorithmicMedia"}
    assert finding.score is None
    assert finding.evidence["fields"]["Iptc4xmpExt:DigitalSourceType"] == [
        IPTC + "trainedAlgorithmicMedia"]
    assert "trainedAlgorithmicMedia" in finding.summary


def test_source_type_as_element_in_compressed_png_itxt() -> None:
    # Compressed iTXt hides the XML from a byte search; the signal must use Pillow's copy.
    packet = xmp_packet(body="<Iptc4xmpExt:DigitalSourceType rdf:resource="
                             f'"{IPTC}compositeWithTrainedAlgorithmicMedia"/>')
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet, zip=True)
    buf = io.BytesIO()
    Image.open(io.BytesIO(image_bytes("PNG", 64, 48))).save(buf, "PNG", pnginfo=info)
    assert find_xmp_packets(buf.getvalue()) == []
    finding = xmp_finding(buf.getvalue())
    assert set(finding.labels) == {"ai-edited-declared",
                                   "source:compositeWithTrainedAlgorithmicMedia"}


def test_digital_capture_is_informative_only() -> None:
    packet = xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{IPTC}digitalCapture"')
    finding = xmp_finding(jpeg_with_xmp(packet))
    assert finding.labels == ("source:digitalCapture",)
    assert finding.abstained is None


def test_unknown_source_type_is_kept_as_evidence() -> None:
    packet = xmp_packet('Iptc4xmpExt:DigitalSourceType="http://example.com/madeUp"')
    finding = xmp_finding(jpeg_with_xmp(packet))
    assert finding.labels == ("provenance-metadata",)
    assert finding.evidence["source_types"][0]["term"] is None


def test_ai_tool_in_exif_software() -> None:
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly Image 3"
    finding = xmp_finding(image_bytes("JPEG", 64, 48, exif=exif))
    assert finding.labels == ("ai-declared",)
    assert finding.evidence["ai_tools"] == [{"field": "EXIF Software",
                                             "value": "Adobe Firefly Image 3",
                                             "tool": "Adobe Firefly"}]


def test_ai_tool_in_history_software_agent() -> None:
    packet = xmp_packet('xmp:CreatorTool="Adobe Photoshop 25.0"',
                        history("Adobe Photoshop 25.0", "Midjourney v6"))
    finding = xmp_finding(jpeg_with_xmp(packet))
    assert finding.labels == ("ai-declared",)
    assert finding.evidence["ai_tools"][0]["field"] == "xmpMM:History/stEvt:softwareAgent"
    assert finding.evidence["fields"]["xmp:CreatorTool"] == ["Adobe Photoshop 25.0"]


def test_ai_tool_behind_a_declared_composite_stays_an_edit() -> None:
    packet = xmp_packet(
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}compositeWithTrainedAlgorithmicMedia"',
        history("Adobe Photoshop 25.0", "Adobe Firefly"))
    labels = set(xmp_finding(jpeg_with_xmp(packet)).labels)
    assert "ai-edited-declared" in labels and "ai-declared" not in labels


def test_iptc_ai_system_used_is_ai_declared() -> None:
    packet = xmp_packet('Iptc4xmpExt:AISystemUsed="Some In-House Model"')
    assert xmp_finding(jpeg_with_xmp(packet)).labels == ("ai-declared",)


def test_ordinary_software_is_metadata_without_ai() -> None:
    packet = xmp_packet('xmp:CreatorTool="GIMP 2.10"', history("Imagenomic Portraiture 3"))
    finding = xmp_finding(jpeg_with_xmp(packet))
    assert finding.labels == ("provenance-metadata",)
    assert "no AI declared" in finding.summary


def test_no_metadata_abstains() -> None:
    finding = xmp_finding(image_bytes("JPEG", 64, 48))
    assert finding.abstained == "no provenance metadata" and finding.labels == ()


def test_xmp_in_an_mp4_box() -> None:
    packet = xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"')
    payload = bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + packet.encode()
    mp4 = video_bytes(seconds=1.0) + struct.pack(">I", len(payload) + 8) + b"uuid" + payload
    assert "ai-declared" in xmp_finding(mp4).labels


def test_metadata_is_read_even_when_pixels_do_not_decode() -> None:
    packet = xmp_packet(f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"')
    truncated = jpeg_with_xmp(packet)[:len(packet) + 200]
    with Scanner(ScanConfig(signals=("xmp",))) as scanner:
        report = scanner.scan(truncated)
    assert report.error is not None  # the media layer could not decode it ...
    assert "ai-declared" in report.finding("xmp").labels  # ... the declaration still counts


def test_entity_declarations_are_refused_not_expanded() -> None:
    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {c} "&{p};&{p};&{p};&{p};&{p};&{p};&{p};&{p};">'
                        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
              + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>')
    with pytest.raises(XmpError, match="DTD"):
        parse_xmp_packet(laughs)
    # In a file only the xmpmeta element is cut out, so the entity is undefined there: an error.
    finding = xmp_finding(jpeg_with_xmp(laughs))
    assert finding.abstained == "XMP metadata could not be read"
    assert any("not well-formed" in e or "DTD" in e for e in finding.evidence["errors"])


def test_malformed_xml_is_reported_not_raised() -> None:
    bad = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF></x:xmpmeta>'
    with pytest.raises(XmpError, match="not well-formed"):
        parse_xmp_packet(bad)
    assert xmp_finding(jpeg_with_xmp(bad)).abstained == "XMP metadata could not be read"


def test_unterminated_or_oversized_packets_are_skipped() -> None:
    filler = b"x" * (MAX_PACKET_BYTES + 10)
    data = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + filler + b"</x:xmpmeta>"
    assert find_xmp_packets(data) == []
    assert find_xmp_packets(b"<x:xmpmeta " * 1000) == []
    good = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>'
    assert find_xmp_packets(b"junk" + good + b"junk" + good) == [good, good]


@pytest.mark.parametrize(("text", "tool"), [
    ("Adobe Firefly", "Adobe Firefly"),
    ("DALL·E 3", "DALL-E"),
    ("Midjourney", "Midjourney"),
    ("Stable Diffusion XL", "Stable Diffusion"),
    ("Google Imagen 3", "Imagen"),
    ("Made with Google AI", "Google AI"),
    ("NovelAI", "NovelAI"),
    ("Adobe Photoshop 25.0 (Macintosh)", None),
    ("Imagenomic Portraiture", None),
    ("GIMP 2.10", None),
    ("Fluxus Camera", None),
    ("Canon EOS R5 Firmware 1.8", None),
])
def test_ai_tool_names(text: str, tool: str | None) -> None:
    assert find_ai_tool(text) == tool


@pytest.mark.parametrize("value", [IPTC + "trainedAlgorithmicMedia",
                                   "https://cv.iptc.org/newscodes/digitalsourcetype/"
                                   "trainedAlgorithmicMedia/",
                                   "trainedalgorithmicmedia"])
def test_source_type_spellings(value: str) -> None:
    entry = lookup_source_type(value)
    assert entry is not None and entry.term == "trainedAlgorithmicMedia"


def test_unknown_source_type_term() -> None:
    assert lookup_source_type("http://example.com/somethingElse") is None


@pytest.mark.shared_data
def test_real_photoshop_file_is_metadata_without_ai(shared_data: Path) -> None:
    finding = xmp_finding((shared_data / "provenance/c2pa/no_manifest.jpg").read_bytes())
    assert finding.labels == ("provenance-metadata",)
    assert finding.evidence["fields"]["EXIF Software"][0].startswith("Adobe Photoshop 24.1")


@pytest.mark.shared_data
def test_real_novelai_png_is_ai_declared(shared_data: Path) -> None:
    path = shared_data / "provenance/generator-metadata/NovelAI_novelai1_cropped.png"
    finding = xmp_finding(path.read_bytes())
    assert finding.labels == ("ai-declared",)
    assert {hit["tool"] for hit in finding.evidence["ai_tools"]} == {"NovelAI",
                                                                     "Stable Diffusion"}


@pytest.mark.shared_data
def test_real_bad_images_do_not_crash(shared_data: Path) -> None:
    for path in sorted((shared_data / "provenance/bad-images").iterdir()):
        finding = xmp_finding(path.read_bytes())
        assert "signal-error" not in finding.labels, path.name
