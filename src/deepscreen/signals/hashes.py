"""The ``hashes`` signal: does this item match known content in a hash bank?

Exact SHA-256/MD5 matching needs only the bytes, so the signal also runs on items that
failed to decode (``needs_pixels = False``); PDQ (images, with all 8 rotations/flips) and
vPDQ (video frames and the sampled frames of animated images, matched against banked videos
and banked still images, with the time of each matching frame) are computed only when the
item decoded. Archives and files of unknown type are matched by their exact digests (a
known-bad ZIP is known by its bytes; its members are screened as items of their own).
Every finding carries the item's own hashes, so a report can later be turned into bank
entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..banks import BankMatch, BankMatcher, BankStore, bank_url, hash_item
from ..config import ScanConfig
from ..errors import BankError
from ..findings import Finding
from ..media import Item, MediaKind
from .base import Signal
from .registry import register


@register
class HashesSignal(Signal):
    """Known-content matching against the configured hash banks."""

    name: ClassVar[str] = "hashes"
    version: ClassVar[str] = "3"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({"image", "video", "audio", "archive",
                                                       "unknown"})
    needs_pixels: ClassVar[bool] = False
    runs_on_refused: ClassVar[bool] = True  # digests of a known bomb still match its bank entry
    description: ClassVar[str] = ("matches SHA-256/MD5, PDQ (with rotations and flips) and "
                                  "vPDQ against hash banks")

    def __init__(self, config: ScanConfig) -> None:
        super().__init__(config)
        self.url = str(self.options.get("url") or bank_url(config))
        self._matcher: BankMatcher | None = None

    def _open(self) -> BankMatcher | None:
        """The matcher, or None while no bank database exists (opening would create one)."""
        if self._matcher is None:
            url = make_url(self.url)
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
                    and not Path(url.database).is_file():
                return None
            self._matcher = BankMatcher(BankStore(self.url), Path(self.config.home))
        return self._matcher

    def inspect(self, item: Item) -> Finding:
        # PDQ is computed even when no bank exists: the report's hashes are what a reviewer
        # later confirms into a bank without rescanning (see deepscreen.service.banking).
        hashes = hash_item(item)
        evidence: dict[str, object] = {"hashes": hashes.to_dict()}
        try:
            matcher = self._open()
            banks = matcher.banks() if matcher is not None else []
            if matcher is None or not banks:
                return self.finding(score=0.0, summary="no hash banks configured",
                                    evidence=evidence)
            evidence["banks_checked"] = [b.name for b in banks]
            matches = matcher.match(hashes)
        except (BankError, SQLAlchemyError) as exc:
            return self.abstain(f"hash banks unavailable: {exc}", **evidence)
        if not matches:
            note = f"; {hashes.pdq_note}" if hashes.pdq_note else ""
            return self.finding(score=0.0, evidence=evidence,
                                summary=f"no match in {len(banks)} bank(s){note}")
        evidence["matches"] = [m.to_dict() for m in matches]
        return self.finding(score=1.0, labels=_labels(matches), summary=_summary(matches, item),
                            evidence=evidence)

    def close(self) -> None:
        if self._matcher is not None:
            self._matcher.store.close()
            self._matcher = None


def _labels(matches: list[BankMatch]) -> tuple[str, ...]:
    labels = ["bank-match"]
    for match in matches:
        if match.label not in labels:
            labels.append(match.label)
    if any(m.exact for m in matches):
        labels.append("exact-match")
    if any(not m.exact for m in matches):
        labels.append("pdq-match")
    return tuple(labels)


def _summary(matches: list[BankMatch], item: Item) -> str:
    first = matches[0]
    shown_in = "animation" if item.kind == "image" else "video"
    if first.exact:
        how = f"exact {first.signal_type}"
    elif first.signal_type == "pdq-frame" and first.video is not None:
        at = ", ".join(f"{t:g} s" for t in first.video["matched_times_s"][:3])
        how = f"banked image seen in the {shown_in} at {at}, PDQ distance {first.distance}"
    elif first.video is not None:
        how = f"vPDQ, {first.video['query_match_percent']:.0f}% of frames"
    else:
        how = f"PDQ distance {first.distance}, {first.variant}"
    more = f" (+{len(matches) - 1} more)" if len(matches) > 1 else ""
    return f"matches bank {first.bank!r} entry {first.entry_id} ({how}){more}"
