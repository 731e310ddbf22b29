"""The review workflows, free of HTTP: the API routes and the review UI both call these,
and :mod:`.errors` maps their domain errors to HTTP statuses in one place.

- Quarantine review (:class:`QuarantineReview`): decide on a held item (release: allowed,
  its media deleted; confirm: its hashes go into a bank; escalate), and hand a reviewer the
  held media, every view audited.
- Hash submissions (:class:`HashSubmissions`): a submitter proposes hashes for a bank that
  accepts submissions; nothing reaches the bank until a reviewer approves, so one submitter
  key cannot get chosen content blocked for everyone. Both steps are audited with their keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..banks import BankStore, NewEntry, normalize_value
from ..errors import DeepscreenError
from ..store import BlobStore, Database, audit
from ..store import records as rec
from ..store import submissions as subs
from ..store.keys import Principal
from ..store.models import HashSubmission, QuarantineEntry, ReviewDecision, Scan
from .banking import add_item_hashes_to_bank


class NotFound(DeepscreenError):
    """The thing asked for does not exist, or the caller may not know that it does."""


class NotAllowed(DeepscreenError):
    """The caller's role or the service's settings do not allow this."""


class Conflict(DeepscreenError):
    """The decision cannot be applied to the item as it stands (already released, confirm
    without a bank, an unknown bank)."""


@dataclass(frozen=True)
class HeldMedia:
    """A held item's bytes on disk, for a reviewer to look at."""

    path: Path
    mime: str


@dataclass(frozen=True)
class Decided:
    """A review decision as applied: the entry after it, its scan, and what it did."""

    entry: QuarantineEntry
    scan: Scan
    decision: ReviewDecision
    hashes_added: int


class QuarantineReview:
    """Decisions on held items, and access to their media."""

    def __init__(self, db: Database, blobs: BlobStore, banks: BankStore,
                 release_blob: Callable[[str], bool]) -> None:
        self._db, self._blobs, self._banks = db, blobs, banks
        self._release_blob = release_blob  # deletes a blob unless something still needs it

    def decide(self, principal: Principal, entry_id: str, decision: str, reason: str,
               bank: str | None = None) -> Decided:
        """Release, confirm (the item's hashes go into ``bank``) or escalate; audited."""
        with self._db.session() as session:
            entry = rec.find_entry(session, entry_id)
            if entry is None:
                raise NotFound(f"no quarantine entry {entry_id}")
            scan = session.get(Scan, entry.scan_id)
            assert scan is not None  # an entry always has its scan (foreign key)
            added = 0
            try:
                rec.check_decision(entry, decision=decision, reviewer=principal.name,
                                   reason=reason, bank=bank)
                if decision == "confirm" and bank is not None:
                    added = add_item_hashes_to_bank(self._banks, bank, scan, principal.name,
                                                    reason)
                row = rec.decide(session, entry, decision=decision, reviewer=principal.name,
                                 reviewer_key_id=principal.key_id, reason=reason, bank=bank,
                                 details={"hashes_added": added})
            except DeepscreenError as exc:
                raise Conflict(str(exc)) from exc
            released = entry.blob_key if entry.state == "released" else None
            result = Decided(entry=entry, scan=scan, decision=row, hashes_added=added)
        if released is not None:
            self._release_blob(released)
        return result

    def held_media(self, principal: Principal, entry_id: str, via: str,
                   types: frozenset[str] | None = None) -> HeldMedia:
        """The held item's file and media type; :class:`NotFound` once it was released, or
        when ``types`` is given and the media is none of them (a page that can only show
        images and play audio). Every view is of hostile media by a person: audited."""
        with self._db.session() as session:
            entry = rec.find_entry(session, entry_id)
            if entry is None or entry.state == "released" or not self._blobs.exists(entry.blob_key):
                raise NotFound(f"no held media for {entry_id}")
            scan = session.get(Scan, entry.scan_id)
            mime = str(((scan.report if scan else None) or {}).get("item", {}).get("mime")
                       or "application/octet-stream")
            if types is not None and mime not in types:
                raise NotFound(f"no preview for this media type ({mime})")
            audit.record(session, principal.name, "review.view-media", f"quarantine:{entry.id}",
                         {"key_id": principal.key_id, "via": via})
            return HeldMedia(path=self._blobs.path(entry.blob_key), mime=mime)


@dataclass(frozen=True)
class ProposedHash:
    signal_type: str
    value: str
    metadata: dict[str, Any]


class HashSubmissions:
    """Propose hashes for a bank, and decide on proposals."""

    def __init__(self, db: Database, banks: BankStore, open_banks: tuple[str, ...]) -> None:
        self._db = db
        self._banks = banks
        self.open_banks = open_banks  # banks that accept proposals; () = none

    def propose(self, principal: Principal, bank: str, hashes: Sequence[ProposedHash],
                reference: str | None = None) -> HashSubmission:
        """Validate and store a pending submission; the bank is not touched."""
        if not self.open_banks:
            raise NotAllowed("hash submissions are not enabled on this service (an operator "
                             "names the banks that take them in DEEPSCREEN_SUBMISSION_BANKS)")
        if bank not in self.open_banks:
            raise NotAllowed(f"hash submissions may go to: {', '.join(self.open_banks)}")
        self._banks.get_bank(bank)  # BankError when it does not exist
        entries = [{"signal_type": h.signal_type,
                    "value": normalize_value(h.signal_type, h.value),  # BankError if malformed
                    "metadata": dict(h.metadata)} for h in hashes]
        with self._db.session() as session:
            return subs.add(session, bank=bank, entries=entries, reference=reference,
                            submitted_by=principal.name, submitted_key_id=principal.key_id)

    def get(self, principal: Principal, submission_id: str) -> HashSubmission:
        """A submission; a submitter sees only its own key's."""
        with self._db.session() as session:
            row = session.get(HashSubmission, submission_id)
            if row is None or not _may_see(principal, row):
                raise NotFound(f"no hash submission {submission_id}")
            return row

    def page(self, principal: Principal, *, state: str | None = "pending",
             bank: str | None = None, limit: int = 50, offset: int = 0) -> subs.SubmissionPage:
        mine = None if principal.can("reviewer") else principal.key_id
        with self._db.session() as session:
            return subs.page(session, state=state, bank=bank, submitted_key_id=mine,
                             limit=limit, offset=offset)

    def decide(self, principal: Principal, submission_id: str, decision: str,
               reason: str) -> HashSubmission:
        """Approve (the entries go into the bank, tagged with who proposed and who approved)
        or reject a pending submission. Reviewers only; decided once."""
        if not principal.can("reviewer"):
            raise NotAllowed(f"deciding on hash submissions needs the reviewer role; the key "
                             f"has {principal.role}")
        with self._db.session() as session:
            row = session.get(HashSubmission, submission_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no hash submission {submission_id}")
            subs.check(row, decision=decision, reason=reason)
            added = None
            if decision == "approve":
                provenance = {"source": "hash-submission", "submission": row.id,
                              "submitted_by": row.submitted_by, "approved_by": principal.name}
                if row.reference:
                    provenance["reference"] = row.reference
                # Inside the submission's transaction: should the bank refuse, the
                # submission stays pending; should this commit fail after the bank took
                # the entries, a retry finds it still pending (at worst entries twice).
                added = self._banks.add_entries(row.bank, [
                    NewEntry(e["signal_type"], e["value"], {**e["metadata"], **provenance})
                    for e in row.entries])
            subs.decide(session, row, decision=decision, reviewer=principal.name,
                        reviewer_key_id=principal.key_id, reason=reason, added=added)
            return row


def _may_see(principal: Principal, row: HashSubmission) -> bool:
    return principal.can("reviewer") or row.submitted_key_id == principal.key_id
