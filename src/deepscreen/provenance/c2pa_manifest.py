"""Read what a C2PA manifest store declares: signer, actions, ingredients, AI involvement.

Pure functions over the JSON the C2PA reader returns (``Reader.json()``), so every rule here
is tested with plain dictionaries. Reading bytes and checking signatures is the signal's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .c2pa_status import is_integrity_failure
from .source_types import AiInvolvement, lookup_source_type, source_type_term

_ACTIONS_LABEL = re.compile(r"^c2pa\.actions(\.v\d+)?(__\d+)?$")
# IPTC photo metadata carried inside a manifest can also state the digital source type.
_METADATA_LABEL = re.compile(r"^(stds\.iptc(\.photo-metadata)?|c2pa\.metadata)(__\d+)?$")
# Source types stated in metadata rather than in an action; they describe the asset's origin.
_METADATA_ORIGIN = "iptc-metadata"
# Actions that say where the asset came from; any other action changes an existing asset.
_ORIGIN_ACTIONS = frozenset({"c2pa.created", "c2pa.opened", _METADATA_ORIGIN})
# Ingredients whose content ends up in the asset; ``inputTo`` ingredients (e.g. a prompt image
# fed to a model) do not, so their declarations say nothing about this asset.
_CONTENT_RELATIONSHIPS = frozenset({"parentOf", "componentOf"})

MAX_LISTED = 50  # actions or ingredients listed per manifest in a report
MAX_INGREDIENT_DEPTH = 8  # a manifest store is a DAG but a hostile one may loop; stop early


class AiClaim(Enum):
    GENERATED = "ai-declared"  # the asset as a whole is declared generated
    EDITED = "ai-edited-declared"  # AI-generated content was added to or edited into the asset


@dataclass(frozen=True)
class AiDeclaration:
    """One statement in the store that the asset involves AI, and where it was found."""

    claim: AiClaim
    manifest: str
    action: str
    digital_source_type: str
    software_agent: str | None
    via: tuple[str, ...] = ()  # ingredient path from the active manifest, e.g. "componentOf x.jpg"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.claim.value, "manifest": self.manifest, "action": self.action,
                "digital_source_type": self.digital_source_type,
                "software_agent": self.software_agent, "via": list(self.via)}


def software_agent_name(agent: Any) -> str | None:
    """``softwareAgent`` is a string in C2PA 1.x and a generator-info object in 2.x."""
    if isinstance(agent, str):
        return agent or None
    if isinstance(agent, dict) and isinstance(agent.get("name"), str):
        version = agent.get("version")
        return f"{agent['name']} {version}" if isinstance(version, str) else agent["name"]
    return None


def iter_actions(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every action of every actions assertion in one manifest."""
    for assertion in _list(manifest.get("assertions")):
        if not isinstance(assertion, dict) or not _ACTIONS_LABEL.match(str(assertion.get("label"))):
            continue
        data = assertion.get("data")
        for action in _list(data.get("actions") if isinstance(data, dict) else None):
            if isinstance(action, dict):
                yield action


def _metadata_source_types(manifest: dict[str, Any]) -> Iterator[str]:
    for assertion in _list(manifest.get("assertions")):
        if not isinstance(assertion, dict) or not _METADATA_LABEL.match(str(assertion.get("label"))):
            continue
        data = assertion.get("data")
        if isinstance(data, dict):
            for key, value in data.items():
                if key.endswith("DigitalSourceType") and isinstance(value, str):
                    yield value


def summarize_action(action: dict[str, Any]) -> dict[str, Any]:
    """The parts of an action a reviewer needs: what, with which tool, from what source."""
    summary: dict[str, Any] = {"action": str(action.get("action", ""))}
    source_type = action.get("digitalSourceType")
    if isinstance(source_type, str):
        summary["digital_source_type"] = source_type
    agent = software_agent_name(action.get("softwareAgent"))
    if agent:
        summary["software_agent"] = agent
    if isinstance(action.get("when"), str):
        summary["when"] = action["when"]
    parameters = action.get("parameters")
    if isinstance(parameters, dict) and isinstance(parameters.get("description"), str):
        summary["description"] = parameters["description"]
    return summary


def summarize_ingredient(ingredient: dict[str, Any]) -> dict[str, Any]:
    """Title, relationship and whether the ingredient's own credentials verified."""
    summary: dict[str, Any] = {
        "title": ingredient.get("title"),
        "relationship": ingredient.get("relationship"),
        "format": ingredient.get("format"),
        "manifest": ingredient.get("active_manifest"),
    }
    failures = [code for code in _ingredient_failure_codes(ingredient) if is_integrity_failure(code)]
    if failures:
        summary["validation"] = "invalid"
        summary["failures"] = failures
    elif summary["manifest"]:
        summary["validation"] = "valid"
    else:
        summary["validation"] = "no credentials"
    return summary


def _ingredient_failure_codes(ingredient: dict[str, Any]) -> list[str]:
    # C2PA 1.x ingredients carry a flat validation_status list; 2.x carry validation_results.
    entries = list(_list(ingredient.get("validation_status")))
    results = ingredient.get("validation_results")
    if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
        entries += _list(results["activeManifest"].get("failure"))
    codes = [str(e.get("code")) for e in entries if isinstance(e, dict) and e.get("code")]
    return list(dict.fromkeys(codes))


def summarize_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest as report evidence: generator, title, signer, actions and ingredients."""
    signature = json_object(manifest.get("signature_info"))
    generator_info = [
        {k: v for k, v in info.items() if k in ("name", "version")}
        for info in _list(manifest.get("claim_generator_info")) if isinstance(info, dict)
    ]
    actions = [summarize_action(a) for a in iter_actions(manifest)]
    ingredients = [summarize_ingredient(i) for i in _list(manifest.get("ingredients"))
                   if isinstance(i, dict)]
    return {
        "label": manifest.get("label"),
        "title": manifest.get("title"),
        "format": manifest.get("format"),
        "claim_generator": manifest.get("claim_generator"),
        "claim_generator_info": generator_info,
        "signer": {
            "common_name": signature.get("common_name"),
            # c2pa-rs calls the certificate subject's organisation "issuer".
            "organization": signature.get("issuer"),
            "algorithm": signature.get("alg"),
            "certificate_serial": signature.get("cert_serial_number"),
            "signing_time": signature.get("time"),
        },
        "actions": actions[:MAX_LISTED],
        "actions_total": len(actions),
        "ingredients": ingredients[:MAX_LISTED],
        "ingredients_total": len(ingredients),
    }


def ai_declarations(store: dict[str, Any]) -> list[AiDeclaration]:
    """Every AI declaration that applies to the asset, from its active manifest down.

    The active manifest speaks for the asset. A ``parentOf`` ingredient's declarations carry
    over (an edited AI image is still an AI image); a ``componentOf`` ingredient's generated
    content makes the asset AI-edited, not AI-generated as a whole.
    """
    manifests = json_object(store.get("manifests"))
    active = store.get("active_manifest")
    found: list[AiDeclaration] = []
    seen: set[str] = set()

    def visit(label: Any, via: tuple[str, ...], as_component: bool) -> None:
        if not isinstance(label, str) or label in seen or len(via) > MAX_INGREDIENT_DEPTH:
            return
        seen.add(label)
        manifest = manifests.get(label)
        if not isinstance(manifest, dict):
            return
        for action, source_type, agent in _declared_source_types(manifest):
            entry = lookup_source_type(source_type)
            if entry is None or entry.involvement is AiInvolvement.NONE:
                continue
            generated = entry.involvement is AiInvolvement.GENERATED and action in _ORIGIN_ACTIONS
            claim = AiClaim.GENERATED if generated and not as_component else AiClaim.EDITED
            found.append(AiDeclaration(claim, label, action, source_type, agent, via))
        for ingredient in _list(manifest.get("ingredients")):
            if not isinstance(ingredient, dict):
                continue
            relationship = ingredient.get("relationship")
            if relationship in _CONTENT_RELATIONSHIPS:
                step = f"{relationship} {ingredient.get('title') or '(untitled)'}"
                visit(ingredient.get("active_manifest"), (*via, step),
                      as_component or relationship == "componentOf")

    visit(active, (), False)
    return found


def _declared_source_types(manifest: dict[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    for action in iter_actions(manifest):
        source_type = action.get("digitalSourceType")
        if isinstance(source_type, str):
            yield (str(action.get("action", "")), source_type,
                   software_agent_name(action.get("softwareAgent")))
    for source_type in _metadata_source_types(manifest):
        yield _METADATA_ORIGIN, source_type, None


def source_type_terms(store: dict[str, Any]) -> list[str]:
    """Distinct source-type terms declared by the active manifest (for informative labels)."""
    terms = [source_type_term(st) for _, st, _ in _declared_source_types(active_manifest(store))]
    return list(dict.fromkeys(terms))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def active_manifest(store: dict[str, Any]) -> dict[str, Any]:
    """The manifest the store names active, or an empty one when it names none it holds."""
    label = store.get("active_manifest")
    if not isinstance(label, str):
        return {}
    return json_object(json_object(store.get("manifests")).get(label))


def json_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: reader JSON is untrusted."""
    return value if isinstance(value, dict) else {}
