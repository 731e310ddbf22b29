"""The service's use of the hash banks (deepscreen.banks): one store, the scanners' store.

Banks live in the service database unless the scan config names another URL for the
``hashes`` signal, so the HTTP bank endpoints, reviewer confirmations and the scanners that
match uploads all read and write the same tables.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..banks import PDQ_MIN_QUALITY, BankStore, FrameHash, NewEntry
from ..banks.hashing import serialize_vpdq
from ..config import ScanConfig
from ..errors import BankError
from ..store import Database
from ..store.models import Scan


def scan_config_with_banks(config: ScanConfig, db: Database) -> ScanConfig:
    """``config`` with the hashes signal pointed at the service database, unless it has a URL."""
    hashes = config.options_for("hashes")
    if hashes.get("url"):
        return config
    url = db.engine.url.render_as_string(hide_password=False)
    options = {**config.signal_options, "hashes": {**hashes, "url": url}}
    return replace(config, signal_options=options)


def bank_store_for(config: ScanConfig) -> BankStore:
    return BankStore(str(config.options_for("hashes")["url"]))


def item_hash_entries(scan: Scan, metadata: dict[str, Any]) -> list[NewEntry]:
    """Bank entries for a scanned item: SHA-256, MD5, and PDQ or vPDQ from its report.

    The perceptual hashes come from the ``hashes`` finding's evidence, so confirming an
    item needs no rescan (and works after its media was deleted). A low-quality PDQ
    (a flat image) is left out: it would match unrelated flat images.
    """
    hashes = _hashes_evidence(scan.report or {})
    content = {"image": "photo", "video": "video"}.get(scan.kind)
    meta = {**metadata, **({"content_type": content} if content else {})}
    entries = [NewEntry("sha256", hashes.get("sha256") or scan.sha256, meta)]
    md5 = hashes.get("md5") or scan.md5
    if md5:
        entries.append(NewEntry("md5", md5, meta))
    pdq = hashes.get("pdq")
    if isinstance(pdq, dict) and int(pdq.get("quality", 0)) >= PDQ_MIN_QUALITY:
        entries.append(NewEntry("pdq", pdq["hash"], {**meta, "quality": pdq["quality"]}))
    frames = hashes.get("vpdq")
    if isinstance(frames, list) and frames:
        entries.append(NewEntry("vpdq", serialize_vpdq(
            [FrameHash(f["hash"], int(f["quality"]), float(f["time_s"])) for f in frames]), meta))
    return entries


def _hashes_evidence(report: dict[str, Any]) -> dict[str, Any]:
    for finding in report.get("findings", []):
        if finding.get("signal") == "hashes":
            hashes = (finding.get("evidence") or {}).get("hashes")
            if isinstance(hashes, dict):
                return hashes
    return {}


def add_item_hashes_to_bank(banks: BankStore, bank: str, scan: Scan, reviewer: str,
                            reason: str) -> int:
    """Put a confirmed item's hashes into ``bank``; returns how many entries were added."""
    banks.get_bank(bank)  # a clear "unknown bank" error before anything is written
    entries = item_hash_entries(scan, {"source": "review", "scan_id": scan.id,
                                       "added_by": reviewer, "reason": reason[:500]})
    if not entries:
        raise BankError(f"scan {scan.id} has no hashes to add")
    return banks.add_entries(bank, entries)
