"""C2PA validation status codes: which ones mean tampering, which ones only mean "not trusted".

The reader reports every check it made as a status code (C2PA 2.x, section "Validation").
A screening decision needs one distinction above all: a signature or hash that does not
verify (the credential or the content was altered, or signed badly) is *invalid*; a signature
that verifies but chains to no configured trust anchor is merely *untrusted*. Treating the
second as the first would flag every credential from an unknown but honest signer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Codes that speak about trust or revocation lookups, never about integrity.
_TRUST_CODES = frozenset({
    "signingCredential.untrusted",
    "signingCredential.ocsp.skipped",
    "signingCredential.ocsp.inaccessible",
    "signingCredential.ocsp.unknown",
    "signingCredential.ocsp.notRevoked",
    "signingCredential.trusted",
    "ingredient.unknownProvenance",
})

# Time-stamp problems weaken the proof of *when* a claim was signed, not what it covers.
_TIMESTAMP_PREFIX = "timeStamp."

_MEANINGS = {
    "claimSignature.validated": "the claim signature verifies",
    "claimSignature.insideValidity": "the claim was signed while the certificate was valid",
    "claimSignature.mismatch": "the claim signature does not verify: the manifest was altered "
                               "or badly signed",
    "claimSignature.missing": "the claim has no signature",
    "claimSignature.outsideValidity": "the claim was signed outside the certificate's validity",
    "signingCredential.trusted": "the signing certificate chains to a configured trust anchor",
    "signingCredential.untrusted": "the signing certificate chains to no configured trust "
                                   "anchor (the signature itself may still verify)",
    "signingCredential.invalid": "the signing certificate is malformed or not allowed for C2PA",
    "signingCredential.revoked": "the signing certificate was revoked",
    "signingCredential.expired": "the signing certificate had expired",
    "signingCredential.ocsp.skipped": "certificate revocation was not checked (OCSP fetching "
                                      "is off: no network requests are made)",
    "signingCredential.ocsp.inaccessible": "the revocation service could not be reached",
    "signingCredential.ocsp.notRevoked": "the revocation service says the certificate is good",
    "assertion.dataHash.match": "the content hash matches: the bytes are those that were signed",
    "assertion.dataHash.mismatch": "the content hash does not match: the file changed after "
                                   "signing",
    "assertion.bmffHash.match": "the video content hash matches",
    "assertion.bmffHash.mismatch": "the video content hash does not match: the file changed "
                                   "after signing",
    "assertion.boxesHash.match": "the content hash (box hash) matches",
    "assertion.boxesHash.mismatch": "the content hash (box hash) does not match: the file "
                                    "changed after signing",
    "assertion.collectionHash.mismatch": "a hash over the collection of files does not match",
    "assertion.hashedURI.match": "an assertion matches the hash the claim recorded for it",
    "assertion.hashedURI.mismatch": "an assertion differs from the hash the claim recorded: "
                                    "the manifest was altered",
    "assertion.missing": "an assertion the claim lists is missing",
    "assertion.undeclared": "the manifest holds an assertion the claim does not list",
    "assertion.inaccessible": "an assertion could not be read",
    "assertion.action.ingredientMismatch": "an action refers to an ingredient that does not match",
    "assertion.action.malformed": "an actions assertion is malformed",
    "claim.missing": "the manifest has no claim",
    "claim.malformed": "the claim is malformed",
    "claim.hardBindings.missing": "the claim binds to no content hash",
    "manifest.inaccessible": "the manifest could not be read",
    "manifest.missing": "a manifest referred to is missing",
    "ingredient.manifest.validated": "an ingredient's own manifest verifies",
    "ingredient.manifest.missing": "an ingredient's manifest is missing from the store",
    "ingredient.manifest.mismatch": "an ingredient's manifest does not match the recorded hash",
    "ingredient.hashedURI.mismatch": "an ingredient differs from the hash the claim recorded",
    "ingredient.unknownProvenance": "an ingredient carries no Content Credentials of its own",
    "timeStamp.validated": "the time-stamp token verifies",
    "timeStamp.trusted": "the time-stamp authority is trusted",
    "timeStamp.mismatch": "the time-stamp token does not match the signature",
    "timeStamp.untrusted": "the time-stamp authority is not trusted",
    "timeStamp.outsideValidity": "the time-stamp is outside its certificate's validity",
    "algorithm.unsupported": "the manifest uses an algorithm that is not supported",
    "algorithm.deprecated": "the manifest uses a deprecated algorithm",
    "general.error": "validation stopped on an unexpected error",
}


def is_integrity_failure(code: str) -> bool:
    """True when a *failure* code means the credential or the content does not verify."""
    return code not in _TRUST_CODES and not code.startswith(_TIMESTAMP_PREFIX)


def explain(code: str) -> str:
    """A plain-language meaning of a status code ("" when the code is not in the table)."""
    return _MEANINGS.get(code, "")


def describe_statuses(entries: Iterable[Any], limit: int = 50) -> list[dict[str, str]]:
    """Status entries as report evidence: code, the reader's explanation, our meaning, where."""
    described = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            continue
        item = {"code": entry["code"], "explanation": str(entry.get("explanation") or "")}
        meaning = explain(entry["code"])
        if meaning:
            item["meaning"] = meaning
        if entry.get("url"):
            item["url"] = str(entry["url"])
        described.append(item)
        if len(described) >= limit:
            break
    return described
