"""The review workflows, free of HTTP: routes and the review UI call these, and the app maps
the domain errors below to answers in one place (its exception handlers).

Hash submissions: a submitter proposes hashes for a bank that accepts submissions; nothing
reaches the bank until a reviewer approves, so one submitter key cannot get chosen content
blocked for everyone. The submission and the decision are both audited with their keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..banks import BankStore, NewEntry, normalize_value
from ..errors import DeepscreenError
from ..store import Database
from ..store import submissions as subs
from ..store.keys import Principal
from ..store.models import HashSubmission


class NotFound(DeepscreenError):
    """The thing asked for does not exist, or the caller may not know that it does."""


class NotAllowed(DeepscreenError):
    """The caller's role or the service's settings do not allow this."""


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
