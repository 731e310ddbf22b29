"""The service's use of the hash banks (deepscreen.banks): one store, the scanners' store.

Banks live in the service database unless the scan config names another URL for the
``hashes`` signal, so the HTTP bank endpoints, reviewer confirmations and the scanners that
match uploads all read and write the same tables.
"""

from __future__ import annotations

from typing import Any

from ..banks import BankStore, ItemHashes, NewEntry, entries_for
from ..errors import BankError
from ..report import Report
from ..store.models import Scan


def item_hash_entries(report: Report, scan: Scan, metadata: dict[str, Any]) -> list[NewEntry]:
    """Bank entries for a scanned item, from its report's ``hashes`` evidence (so confirming
    an item needs no rescan, and works after its media was deleted)."""
    finding = report.finding("hashes")
    evidence = finding.evidence.get("hashes") if finding is not None else None
    hashes = (ItemHashes.from_dict(evidence) if isinstance(evidence, dict)
              else ItemHashes(kind=scan.kind, sha256=scan.sha256, md5=scan.md5 or ""))
    return entries_for(hashes, metadata)


def add_item_hashes_to_bank(banks: BankStore, bank: str, scan: Scan, reviewer: str,
                            reason: str) -> int:
    """Put a confirmed item's hashes into ``bank``; returns how many entries were added."""
    banks.get_bank(bank)  # a clear "unknown bank" error before anything is written
    report = Report.from_dict(scan.report) if scan.report else None
    meta = {"source": "review", "scan_id": scan.id, "added_by": reviewer, "reason": reason[:500]}
    entries = (item_hash_entries(report, scan, meta) if report is not None else
               entries_for(ItemHashes(kind=scan.kind, sha256=scan.sha256, md5=scan.md5 or ""),
                           meta))
    if not entries:
        raise BankError(f"scan {scan.id} has no hashes to add")
    return banks.add_entries(bank, entries)
