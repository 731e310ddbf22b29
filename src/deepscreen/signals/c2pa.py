"""C2PA Content Credentials: is there a manifest, does it verify, who signed it, what it declares.

Provenance is declared, not measured, so this signal gives no score: it labels what the
credentials say (``ai-declared``, ``ai-edited-declared``) and how far they can be believed
(``c2pa-valid``, ``c2pa-trusted``, ``c2pa-invalid``). A valid signature proves who signed and
that nothing changed since; it does not prove the content is true.

The reader never touches the network: remote manifests and OCSP revocation lookups are off,
because a screening gateway must not make requests chosen by an uploader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import c2pa

from ..errors import DeepscreenError, MediaError
from ..findings import Finding
from ..media import Item
from ..provenance.c2pa_manifest import (
    AiClaim,
    active_manifest,
    ai_declarations,
    json_object,
    source_type_terms,
    summarize_manifest,
)
from ..provenance.c2pa_status import describe_statuses, is_integrity_failure
from ..provenance.source_types import lookup_source_type
from .base import Signal
from .registry import register

TRUST_ANCHORS_ENV = "DEEPSCREEN_C2PA_TRUST_ANCHORS"

# Byte markers of an embedded manifest store (a JUMBF superbox labelled "c2pa") and of a
# reference to a remote one; used only to tell "damaged credentials" from "no credentials"
# when the reader cannot parse a file at all.
_JUMBF_MARKER = b"jumb"
_C2PA_MARKER = b"c2pa"
_REMOTE_MARKER = b"dcterms:provenance"


def reader_settings(trust_anchors_pem: str | None = None) -> dict[str, Any]:
    """c2pa-rs settings for screening: verify everything, fetch nothing.

    ``remote_manifest_fetch`` would make the reader download a manifest from a URL written in
    the upload; ``ocsp_fetch`` would contact the certificate issuer's revocation service.
    Both are requests an attacker can aim, so both stay off.
    """
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return settings


def load_trust_anchors(source: str | os.PathLike[str]) -> str:
    """PEM text of the operator's trust anchors, from a file path or inline PEM text.

    Raises :class:`DeepscreenError` when the file is missing or holds no certificate: a typo
    in the configuration must not silently make every credential "untrusted".
    """
    text = str(source)
    if "-----BEGIN CERTIFICATE-----" not in text:
        path = Path(text).expanduser()
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DeepscreenError(f"c2pa trust anchors: cannot read {path}: {exc}") from exc
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise DeepscreenError(f"c2pa trust anchors: {path} holds no PEM certificate")
    return text


@register
class C2paSignal(Signal):
    name = "c2pa"
    version = "1"
    kinds = frozenset({"image", "video", "audio"})
    needs_pixels = False
    description = ("C2PA Content Credentials: manifest, signature and trust validation, "
                   "signer, actions and declared AI generation or editing")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        source = self.options.get("trust_anchors") or os.environ.get(TRUST_ANCHORS_ENV)
        self.trust_anchors = load_trust_anchors(source) if source else None
        self._context: c2pa.Context | None = None

    @property
    def context(self) -> c2pa.Context:
        """The reader context, built once: settings parsing is not free."""
        if self._context is None:
            try:
                self._context = c2pa.Context.from_dict(reader_settings(self.trust_anchors))
            except c2pa.C2paError as exc:
                raise DeepscreenError(f"c2pa reader settings rejected: {exc}") from exc
        return self._context

    def inspect(self, item: Item) -> Finding:
        if item.decode_error is not None and item.decode_error.code == "too-large":
            return self.abstain("item is over the size limit; credentials not read")
        mime = item.media_type.mime
        if mime not in c2pa.Reader.get_supported_mime_types():
            return self.abstain(f"the C2PA reader does not support {item.media_type.format}")
        try:
            with item.open_stream() as stream:
                reader = c2pa.Reader.try_create(mime, stream, None, self.context)
                if reader is None:
                    return self.abstain("no C2PA manifest")
                with reader:
                    store = json.loads(reader.json())
                    state = reader.get_validation_state()
                    embedded = reader.is_embedded()
        except c2pa.C2paError as exc:
            return self._unreadable(item, exc)
        except (ValueError, OSError, MediaError) as exc:  # malformed reader JSON, or I/O
            return self._unreadable(item, exc)
        return self._judge(store, state, embedded)

    def _judge(self, store: dict[str, Any], state: str | None, embedded: bool) -> Finding:
        manifests = json_object(store.get("manifests"))
        active = active_manifest(store)
        statuses = _active_statuses(store)
        integrity_failures = [s["code"] for s in statuses["failure"]
                              if is_integrity_failure(s["code"])]
        invalid = state == "Invalid" or bool(integrity_failures)
        trusted = state == "Trusted" and not invalid

        labels = ["c2pa-present"]
        if invalid:
            labels.append("c2pa-invalid")
        elif state in ("Valid", "Trusted"):  # any other state: validation did not conclude
            labels.append("c2pa-valid")
            if trusted:
                labels.append("c2pa-trusted")
        declarations = ai_declarations(store)
        claims = {d.claim for d in declarations}
        labels += [claim.value for claim in (AiClaim.GENERATED, AiClaim.EDITED) if claim in claims]
        labels += [f"source:{term}" for term in source_type_terms(store)
                   if lookup_source_type(term) is not None]

        manifest = summarize_manifest(active)
        evidence = {
            "validation_state": state,
            "trust_anchors_configured": self.trust_anchors is not None,
            "embedded": embedded,
            "integrity_failures": integrity_failures,
            "failures": statuses["failure"],
            "informational": statuses["informational"],
            "passed": list(dict.fromkeys(s["code"] for s in statuses["success"])),
            "active_manifest": manifest,
            "manifests": len(manifests),
            "ai_declarations": [d.to_dict() for d in declarations],
            "c2pa_sdk": c2pa.sdk_version(),
        }
        return self.finding(labels=tuple(dict.fromkeys(labels)),
                            summary=_summary(invalid, "c2pa-valid" in labels, trusted,
                                             integrity_failures, manifest, claims),
                            evidence=evidence)

    def _unreadable(self, item: Item, exc: Exception) -> Finding:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote"):
            # Only a link to credentials stored elsewhere; fetching it is deliberately off.
            return self.finding(
                labels=("c2pa-present", "c2pa-remote"),
                summary="C2PA manifest is stored remotely and was not fetched (network off)",
                evidence={"validation_state": None, "error": message,
                          "remote_url": _remote_url(message)})
        if isinstance(exc, c2pa.C2paError.NotSupported):
            return self.abstain(f"the C2PA reader does not support this file: {message}")
        markers = _credential_markers(item)
        if not markers:
            return self.abstain(f"no C2PA manifest (file could not be parsed: {message})")
        return self.finding(
            labels=("c2pa-present", "c2pa-invalid"),
            summary=f"C2PA manifest present but unreadable: {message}",
            evidence={"validation_state": None, "error": message, "markers": markers,
                      "c2pa_sdk": c2pa.sdk_version()})


def _active_statuses(store: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Status entries for the active manifest, from 2.x ``validation_results`` or 1.x lists."""
    results = store.get("validation_results")
    if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
        active = results["activeManifest"]
        return {
            # Passed checks can number in the hundreds for a long video; keep them bounded.
            "success": describe_statuses(active.get("success") or [], limit=200),
            "informational": describe_statuses(active.get("informational") or []),
            "failure": describe_statuses(active.get("failure") or []),
        }
    legacy = store.get("validation_status")
    return {"success": [], "informational": [],
            "failure": describe_statuses(legacy if isinstance(legacy, list) else [])}


_CLAIM_WORDS = {AiClaim.GENERATED: "AI generation", AiClaim.EDITED: "AI editing"}


def _summary(invalid: bool, valid: bool, trusted: bool, failures: list[str],
             manifest: dict[str, Any], claims: set[AiClaim]) -> str:
    signer = manifest["signer"]
    who = ", ".join(str(v) for v in (signer["common_name"], signer["organization"]) if v)
    if invalid:
        state = "do not validate (" + (", ".join(failures) or "invalid") + ")"
    elif trusted:
        state = "are valid and trusted"
    elif valid:
        state = "are valid but not trusted (signer matches no configured trust anchor)"
    else:
        state = "were read but their validation did not conclude"
    text = f"Content Credentials {state}; signed by {who or 'an unnamed signer'}"
    if claims:
        text += "; declare " + " and ".join(_CLAIM_WORDS[c] for c in AiClaim if c in claims)
    return text


def _credential_markers(item: Item) -> list[str]:
    try:
        data = item.read_bytes()
    except Exception:  # unreadable item: no markers to report
        return []
    found = []
    if _JUMBF_MARKER in data and _C2PA_MARKER in data:
        found.append("jumbf-c2pa")
    if _REMOTE_MARKER in data:
        found.append("xmp-provenance-link")
    return found


def _remote_url(message: str) -> str | None:
    for word in message.split():
        if word.startswith(("http://", "https://")):
            return word
    return None
