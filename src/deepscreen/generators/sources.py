"""Collect the text metadata a generator may have written: PNG text, EXIF and XMP fields."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# EXIF tags of the main IFD that generators fill (name -> tag id).
_EXIF_TEXT_TAGS = {
    "ImageDescription": 0x010E,
    "Make": 0x010F,
    "Model": 0x0110,
    "Software": 0x0131,
    "Artist": 0x013B,
    "XPComment": 0x9C9C,  # UTF-16LE bytes, written by Windows and some web tools
}
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
# ComfyUI's animated WebP/AVIF savers store their JSON in EXIF strings with these prefixes.
_EXIF_JSON_PREFIXES = ("prompt:", "workflow:")
# Longer fields are cut: a workflow is tens of kilobytes, nothing legitimate is megabytes.
MAX_FIELD_CHARS = 4_000_000

_XMP_FIELD = re.compile(
    r"(?:xmp|tiff):(CreatorTool|Software)\s*=\s*\"([^\"]*)\""
    r"|<(?:xmp|tiff):(CreatorTool|Software)>\s*([^<]*?)\s*</", re.IGNORECASE)


def collect_fields(image: Image.Image) -> tuple[dict[str, str], list[str]]:
    """Every text field of ``image`` by a name saying where it came from, and read problems.

    PNG/WebP text chunks keep their own key (``parameters``, ``prompt``); EXIF fields are
    ``exif:<Tag>``; XMP fields ``xmp:<Property>``. A ComfyUI EXIF string ``prompt:{...}`` is
    also filed under ``exif:<Tag>/prompt`` so its parser finds the JSON without the prefix.
    """
    fields: dict[str, str] = {}
    problems: list[str] = []
    for key, value in image.info.items():
        # Text chunks have str keys; only IPTC's (record, dataset) tuple keys (bytes values) do not.
        if isinstance(key, str) and isinstance(value, str) and key != "XML:com.adobe.xmp":
            fields[key] = value[:MAX_FIELD_CHARS]
    comment = image.info.get("comment")
    if isinstance(comment, bytes) and comment:
        fields["comment"] = comment.decode("utf-8", "replace")[:MAX_FIELD_CHARS]
    _collect_exif(image, fields, problems)
    _collect_xmp(image, fields)
    return fields, problems


def _collect_exif(image: Image.Image, fields: dict[str, str], problems: list[str]) -> None:
    try:
        # Pillow reports most EXIF damage as warnings; keep them as evidence, not log noise.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exif = image.getexif()
            values = {name: exif.get(tag) for name, tag in _EXIF_TEXT_TAGS.items()}
            values["UserComment"] = exif.get_ifd(_EXIF_IFD).get(_USER_COMMENT)
    except Exception as exc:  # Pillow raises many types on corrupt EXIF; the rest still counts
        problems.append(f"EXIF could not be read: {type(exc).__name__}: {exc}")
        return
    problems.extend(dict.fromkeys(f"EXIF: {warning.message}" for warning in caught))
    for name, value in values.items():
        if value is None:
            continue
        if name == "UserComment":
            text = decode_user_comment(value)
        elif name == "XPComment" and isinstance(value, bytes):
            text = value.decode("utf-16-le", "replace")
        else:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        text = text.rstrip("\x00").strip()
        if not text:
            continue
        fields[f"exif:{name}"] = text[:MAX_FIELD_CHARS]
        for prefix in _EXIF_JSON_PREFIXES:
            if text.startswith(prefix):
                fields[f"exif:{name}/{prefix[:-1]}"] = text[len(prefix):][:MAX_FIELD_CHARS]


def decode_user_comment(raw: bytes | str) -> str:
    """Text of an EXIF UserComment: an 8-byte character-code prefix, then the text.

    AUTOMATIC1111 (through piexif) writes ``UNICODE\\0`` and big-endian UTF-16 whatever the
    file's byte order; other writers use little-endian, so the order is taken from where the
    zero bytes of the (mostly ASCII) text fall.
    """
    if isinstance(raw, str):
        return raw
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16", "replace")
        sample = body[:512]
        big_endian = sample[0::2].count(0) >= sample[1::2].count(0)
        return body.decode("utf-16-be" if big_endian else "utf-16-le", "replace")
    if prefix.startswith((b"ASCII", b"\x00" * 8)):
        return body.decode("utf-8", "replace")
    if prefix.startswith(b"JIS"):
        return body.decode("shift_jis", "replace")
    return raw.decode("utf-8", "replace")


def _collect_xmp(image: Image.Image, fields: dict[str, str]) -> None:
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(packet, bytes):
        packet = packet.decode("utf-8", "replace")
    if not isinstance(packet, str):
        return
    for match in _XMP_FIELD.finditer(packet[:MAX_FIELD_CHARS]):
        name = match.group(1) or match.group(3)
        value = match.group(2) if match.group(1) else match.group(4)
        if value and value.strip():
            fields.setdefault(f"xmp:{name}", value.strip())
