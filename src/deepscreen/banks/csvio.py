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
from .entries import BankEntry, NewEntry
from .signal_types import EXCHANGE_NAMES, SIGNAL_TYPES, signal_type

CSV_COLUMNS = ("collab", "signal_type", "signal_str", "category", "tags", "metadata")

_POSITIVE = "POSITIVE_CLASS"


def export_name(name: str, metadata: dict[str, Any]) -> str:
    """The ThreatExchange name for an entry of our hash type ``name``."""
    return signal_type(name).export_name(metadata)


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


def write_new_entries(out: IO[str], entries: Iterable[NewEntry], collab: str = "",
                      header: bool = True) -> None:
    """Write computed hashes (``entries_for``) in the same CSV form as a bank export."""
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([collab, export_name(entry.signal_type, entry.metadata), entry.value,
                         _POSITIVE, "", json.dumps(entry.metadata, sort_keys=True,
                                                   separators=(",", ":"))])


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
    if te_type not in EXCHANGE_NAMES:
        raise BankError(f"unknown signal type {te_type!r}; known: {', '.join(EXCHANGE_NAMES)} "
                        f"(ours: {', '.join(SIGNAL_TYPES)})")
    kind, content = EXCHANGE_NAMES[te_type]
    metadata = _metadata(raw_meta)
    if content and "content_type" not in metadata:
        metadata["content_type"] = content
    return NewEntry(kind.name, kind.normalize(value), {**extra, **metadata})


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
