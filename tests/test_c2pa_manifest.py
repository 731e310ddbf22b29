"""Rules over manifest-store JSON: AI declarations through ingredients, status codes."""

from __future__ import annotations

from typing import Any

from deepscreen.provenance.c2pa_manifest import (
    AiClaim,
    active_manifest,
    ai_declarations,
    software_agent_name,
    source_type_terms,
    summarize_manifest,
)
from deepscreen.provenance.c2pa_status import describe_statuses, is_integrity_failure

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def manifest(actions: list[dict[str, Any]] | None = None,
             ingredients: list[dict[str, Any]] | None = None,
             extra_assertions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    assertions = [{"label": "c2pa.actions.v2", "data": {"actions": actions or []}}]
    return {"title": "x.jpg", "assertions": assertions + (extra_assertions or []),
            "ingredients": ingredients or []}


def store(active: str, **manifests: dict[str, Any]) -> dict[str, Any]:
    return {"active_manifest": active, "manifests": manifests}


def generated(agent: object = "Gen") -> dict[str, Any]:
    return {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
            "softwareAgent": agent}


def ingredient(relationship: str, child: str | None) -> dict[str, Any]:
    return {"title": f"{child}.jpg", "relationship": relationship, "active_manifest": child}


def claims(s: dict[str, Any]) -> list[AiClaim]:
    return [d.claim for d in ai_declarations(s)]


def test_created_generated_is_ai_declared() -> None:
    assert claims(store("a", a=manifest([generated()]))) == [AiClaim.GENERATED]


def test_generated_type_on_an_edit_action_is_an_ai_edit() -> None:
    edit = {"action": "c2pa.edited", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}
    assert claims(store("a", a=manifest([edit]))) == [AiClaim.EDITED]


def test_parent_generated_carries_over_to_the_edited_child() -> None:
    s = store("child", child=manifest([{"action": "c2pa.resized"}], [ingredient("parentOf", "p")]),
              p=manifest([generated()]))
    declarations = ai_declarations(s)
    assert [d.claim for d in declarations] == [AiClaim.GENERATED]
    assert declarations[0].via == ("parentOf p.jpg",)


def test_generated_component_makes_an_ai_edit() -> None:
    s = store("a", a=manifest([{"action": "c2pa.placed"}], [ingredient("componentOf", "c")]),
              c=manifest([generated()]))
    assert claims(s) == [AiClaim.EDITED]


def test_input_to_ingredients_do_not_count() -> None:
    s = store("a", a=manifest([], [ingredient("inputTo", "c")]), c=manifest([generated()]))
    assert claims(s) == []


def test_ingredient_cycles_terminate() -> None:
    s = store("a", a=manifest([], [ingredient("parentOf", "b")]),
              b=manifest([generated()], [ingredient("parentOf", "a")]))
    assert claims(s) == [AiClaim.GENERATED]


def test_iptc_metadata_assertion_declares_origin() -> None:
    iptc = {"label": "stds.iptc", "data": {"Iptc4xmpExt:DigitalSourceType":
                                           IPTC + "trainedAlgorithmicMedia"}}
    assert claims(store("a", a=manifest(extra_assertions=[iptc]))) == [AiClaim.GENERATED]


def test_capture_and_missing_manifests_declare_nothing() -> None:
    capture = {"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}
    assert claims(store("a", a=manifest([capture], [ingredient("parentOf", "gone")]))) == []
    assert claims({"manifests": "not a dict"}) == []


def test_active_manifest_of_odd_stores() -> None:
    good = store("a", a=manifest([generated()]))
    assert active_manifest(good)["title"] == "x.jpg"
    assert source_type_terms(good) == ["trainedAlgorithmicMedia"]
    # Reader JSON is untrusted: a label that is not a string (even an unhashable one), a
    # label naming no manifest, or a manifest that is not an object means "no active manifest".
    for odd in ({"active_manifest": ["a"], "manifests": {"a": manifest()}}, store("gone"),
                {"active_manifest": "a", "manifests": {"a": "not a dict"}}, {}):
        assert active_manifest(odd) == {}
        assert source_type_terms(odd) == []


def test_software_agent_forms() -> None:
    assert software_agent_name("Tool 1") == "Tool 1"
    assert software_agent_name({"name": "Tool", "version": "2"}) == "Tool 2"
    assert software_agent_name({"version": "2"}) is None


def test_summary_survives_odd_shapes() -> None:
    summary = summarize_manifest({"signature_info": "oops", "assertions": [None, {"label": 3}],
                                  "ingredients": [None, {"title": "t", "validation_status":
                                                         [{"code": "claimSignature.mismatch"}]}]})
    assert summary["signer"]["common_name"] is None
    assert summary["ingredients"] == [{"title": "t", "relationship": None, "format": None,
                                       "manifest": None, "validation": "invalid",
                                       "failures": ["claimSignature.mismatch"]}]


def test_untrusted_is_not_an_integrity_failure() -> None:
    assert not is_integrity_failure("signingCredential.untrusted")
    assert not is_integrity_failure("signingCredential.ocsp.skipped")
    assert not is_integrity_failure("timeStamp.mismatch")
    for code in ("assertion.dataHash.mismatch", "claimSignature.mismatch",
                 "assertion.hashedURI.mismatch", "signingCredential.revoked", "some.newCode"):
        assert is_integrity_failure(code), code


def test_statuses_are_explained() -> None:
    described = describe_statuses([{"code": "assertion.dataHash.mismatch", "explanation": "x"},
                                   "junk", {"code": 5}])
    assert described == [{"code": "assertion.dataHash.mismatch", "explanation": "x",
                          "meaning": "the content hash does not match: the file changed after "
                                     "signing"}]
