"""Bank entries as CSV in the form of Meta's ThreatExchange tooling.

``threatexchange dataset -P --csv`` writes the columns ``collab, signal_type, signal_str,
category, tags``; we write the same columns plus ``metadata`` (a JSON object), so a file
exported here loads in ThreatExchange tooling and a ThreatExchange export imports here.
Signal type names are ThreatExchange's (``pdq``, ``vpdq``, ``video_md5``) where one exists;
SHA-256 has none and is written ``sha256``.

Import also accepts rows without a header: ``signal_type,signal_str[,metadata]``, and the
plain ``signal_type signal_str`` lines of ThreatExchange's local-file exchange.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..errors import BankError
from .hashing import SIGNAL_TYPES, ItemHashes, normalize_value, serialize_vpdq
from .store import BankEntry, NewEntry

CSV_COLUMNS = ("collab", "signal_type", "signal_str", "category", "tags", "metadata")

# ThreatExchange signal type name -> (our signal type, content type it implies)
_IMPORT_TYPES: dict[str, tuple[str, str | None]] = {
    "pdq": ("pdq", "photo"),
    "vpdq": ("vpdq", "video"),
    "video_md5": ("md5", "video"),
    "photo_md5": ("md5", "photo"),
    "md5": ("md5", None),
    "sha256": ("sha256", None),
}
_POSITIVE = "POSITIVE_CLASS"


def export_name(signal_type: str, metadata: dict[str, Any]) -> str:
    """The ThreatExchange name for one of our signal types."""
    if signal_type == "md5" and metadata.get("content_type") == "video":
        return "video_md5"
    return signal_type


def write_entries(out: IO[str], entries: Iterable[BankEntry], collab: str) -> int:
    """Write entries with a header row; returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        tags = entry.metadata.get("tags", [])
        writer.writerow([collab, export_name(entry.signal_type, entry.metadata), entry.value,
                         _POSITIVE, " ".join(tags) if isinstance(tags, list) else str(tags),
                         json.dumps(entry.metadata, sort_keys=True, separators=(",", ":"))])
        count += 1
    return count


def hash_rows(hashes: ItemHashes) -> list[tuple[str, str, dict[str, Any]]]:
    """An item's hashes as (signal type, value, metadata) rows, file name left out on purpose:
    a victim submits hashes, not the names of their photos."""
    content = "video" if hashes.kind == "video" else "photo" if hashes.kind == "image" else None
    meta: dict[str, Any] = {"content_type": content} if content else {}
    rows: list[tuple[str, str, dict[str, Any]]] = []
    if hashes.pdq is not None:
        rows.append(("pdq", hashes.pdq.hex, {**meta, "quality": hashes.pdq.quality}))
    if hashes.frames:
        rows.append(("vpdq", serialize_vpdq(hashes.frames), dict(meta)))
    if hashes.md5:
        rows.append(("md5", hashes.md5, dict(meta)))
    if hashes.sha256:
        rows.append(("sha256", hashes.sha256, dict(meta)))
    return rows


def write_hash_rows(out: IO[str], rows: Iterable[tuple[str, str, dict[str, Any]]],
                    collab: str = "", header: bool = True) -> None:
    """Write computed hashes in the same CSV form as a bank export."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for signal_type, value, meta in rows:
        writer.writerow([collab, export_name(signal_type, meta), value, _POSITIVE, "",
                         json.dumps(meta, sort_keys=True, separators=(",", ":"))])


def read_entries(stream: IO[str], source: str = "<csv>") -> Iterator[NewEntry]:
    """Parse a ThreatExchange-style CSV into entries; a bad row raises :class:`BankError`
    naming the file and line."""
    reader = csv.reader(stream)
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row) or row[0].startswith("#"):
            continue
        if header is None and "signal_type" in [c.strip().lower() for c in row]:
            header = [c.strip().lower() for c in row]
            if "signal_str" not in header:
                raise BankError(f"{source}:{line}: header has signal_type but no signal_str")
            continue
        try:
            yield _entry(row, header)
        except BankError as exc:
            raise BankError(f"{source}:{line}: {exc}") from None


def _entry(row: list[str], header: list[str] | None) -> NewEntry:
    extra: dict[str, Any] = {}
    if header is not None:
        if len(row) > len(header):
            raise BankError(f"{len(row)} fields but the header has {len(header)}")
        fields = dict(zip(header, (c.strip() for c in row), strict=False))
        te_type, value = fields.get("signal_type", ""), fields.get("signal_str", "")
        raw_meta = fields.get("metadata", "")
        if fields.get("collab"):
            extra["collab"] = fields["collab"]
        if fields.get("tags"):
            extra["tags"] = fields["tags"].split()
        if fields.get("category") and fields["category"] != _POSITIVE:
            extra["category"] = fields["category"]
    elif len(row) == 1 and " " in row[0].strip():
        te_type, _, value = row[0].strip().partition(" ")  # "pdq <hash>" local-file lines
        raw_meta = ""
    elif 2 <= len(row) <= 3:
        te_type, value = row[0].strip(), row[1].strip()
        raw_meta = row[2].strip() if len(row) == 3 else ""
    else:
        raise BankError("expected signal_type,signal_str[,metadata] or a header row with "
                        "signal_type and signal_str")
    te_type = te_type.strip().lower()
    if te_type not in _IMPORT_TYPES:
        raise BankError(f"unknown signal type {te_type!r}; known: {', '.join(_IMPORT_TYPES)} "
                        f"(ours: {', '.join(SIGNAL_TYPES)})")
    signal_type, content = _IMPORT_TYPES[te_type]
    metadata = _metadata(raw_meta)
    if content and "content_type" not in metadata:
        metadata["content_type"] = content
    return NewEntry(signal_type, normalize_value(signal_type, value), {**extra, **metadata})


def _metadata(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise BankError(f"metadata is not JSON: {raw[:80]!r}") from None
    if not isinstance(value, dict):
        raise BankError("metadata must be a JSON object")
    return value
