"""Policy: rules as data, most severe action wins, every matched rule is a reason."""

from __future__ import annotations

import json

import pytest

from deepscreen.errors import PolicyError
from deepscreen.faces.model import MODELS_DIR
from deepscreen.findings import Finding
from deepscreen.policy import Policy


def finding(signal: str, score: float | None = None, *labels: str) -> Finding:
    return Finding(signal=signal, version="1", score=score, labels=labels)


POLICY = Policy.from_mapping({
    "version": 1,
    "rules": [
        {"name": "bank", "when": {"label": "bank:*"}, "action": "block", "reason": "known"},
        {"name": "ai", "when": {"label": ["ai-declared", "ai-watermark"]}, "action": "label"},
        {"name": "face", "when": {"signal": "faces", "min_score": 0.8}, "action": "quarantine"},
        {"name": "video-only", "when": {"label": "x", "kind": "video"}, "action": "block"},
    ],
})


def test_nothing_matched_gives_the_default() -> None:
    verdict = POLICY.decide([finding("faces", 0.1)], "image")
    assert verdict.action == "allow" and verdict.reasons == ()


def test_most_severe_action_wins_and_every_match_is_a_reason() -> None:
    verdict = POLICY.decide([finding("c2pa", None, "ai-declared"),
                             finding("hashes", 1.0, "bank-match", "bank:ncii"),
                             finding("faces", 0.95)], "image")
    assert verdict.action == "block"
    assert [r.rule for r in verdict.reasons] == ["bank", "face", "ai"]
    assert verdict.reasons[0].signals == ("hashes",) and verdict.reasons[0].reason == "known"


def test_score_threshold_is_inclusive_and_abstentions_never_match() -> None:
    assert POLICY.decide([finding("faces", 0.8)], "image").action == "quarantine"
    assert POLICY.decide([finding("faces", 0.79)], "image").action == "allow"
    abstained = Finding.abstain("faces", "1", "no face found")
    assert POLICY.decide([abstained], "image").action == "allow"


def test_kind_restricts_a_rule() -> None:
    assert POLICY.decide([finding("s", None, "x")], "image").action == "allow"
    assert POLICY.decide([finding("s", None, "x")], "video").action == "block"


def test_unscannable_is_never_allowed_by_default() -> None:
    verdict = POLICY.decide([], "unknown", unscannable="the file is empty")
    assert verdict.action == "quarantine"
    assert verdict.reasons[0].rule == "unscannable"
    lenient = Policy.from_mapping({"unscannable": "label", "rules": []})
    assert lenient.decide([], "unknown", unscannable="x").action == "label"


def test_default_policy_loads_and_covers_the_core_labels() -> None:
    policy = Policy.default()
    assert policy.decide([finding("hashes", 1.0, "bank-match")], "image").action == "block"
    assert policy.decide([finding("c2pa", None, "c2pa-invalid")], "image").action == "label"
    assert policy.decide([finding("generator", None, "ai-declared")], "image").action == "label"
    assert policy.decide([finding("x", None, "signal-error")], "image").action == "quarantine"
    face_rule = next(r for r in policy.rules if r.name == "manipulated-face")
    assert policy.decide([finding("faces", face_rule.when.min_score)], "video").action == "quarantine"


@pytest.mark.parametrize(("data", "message"), [
    ([], "mapping"),
    ({"rules": [{"name": "a", "when": {"label": "x"}, "action": "delete"}]}, "not one of"),
    ({"rules": [{"name": "a", "when": {"colour": "x"}, "action": "block"}]}, "unknown condition"),
    ({"rules": [{"name": "a", "when": {"min_score": 0.5}, "action": "block"}]}, "needs 'signal'"),
    ({"rules": [{"name": "a", "when": {"signal": "f", "min_score": 2}, "action": "block"}]},
     "[0, 1]"),
    ({"rules": [{"when": {"label": "x"}, "action": "block"}]}, "'name' is required"),
    ({"rules": [{"name": "a", "when": {"label": "x"}, "action": "block"}] * 2}, "duplicate"),
    ({"version": 2, "rules": []}, "not supported"),
    ({"rulez": []}, "unknown key"),
])
def test_invalid_policies_are_rejected_with_a_reason(data: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Policy.from_mapping(data)


def test_policy_file_errors_are_policy_errors(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(PolicyError, match="not valid YAML"):
        Policy.load(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "missing.yaml")


def test_default_face_rule_holds_the_shipped_models_calibrated_threshold() -> None:
    # The 1% false-positive budget holds only at or above the calibrated threshold; far above
    # it the rule would quietly miss fakes the model card says it flags.
    meta = json.loads((MODELS_DIR / "face_sbi.json").read_text(encoding="utf-8"))
    face_rule = next(r for r in Policy.default().rules if r.name == "manipulated-face")
    assert meta["threshold"] <= face_rule.when.min_score <= meta["threshold"] + 0.001
