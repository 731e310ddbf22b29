"""Policy: ordered rules over findings, as data. The most severe matching action wins."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml

from .errors import PolicyError
from .findings import Finding

Action = Literal["allow", "label", "quarantine", "block"]
ACTIONS: tuple[Action, ...] = ("allow", "label", "quarantine", "block")
SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}

_CONDITION_KEYS = {"label", "labels_all", "signal", "min_score", "max_score", "kind"}


@dataclass(frozen=True)
class Condition:
    """All given parts must hold for one finding (``kind`` is checked on the item)."""

    labels_any: tuple[str, ...] = ()  # glob patterns: "bank:*" matches "bank:ncii"
    labels_all: tuple[str, ...] = ()
    signal: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    kinds: tuple[str, ...] = ()

    def matches(self, finding: Finding) -> bool:
        if self.signal is not None and finding.signal != self.signal:
            return False
        if self.labels_any and not any(_has(finding.labels, p) for p in self.labels_any):
            return False
        if self.labels_all and not all(_has(finding.labels, p) for p in self.labels_all):
            return False
        if self.min_score is not None and (finding.score is None or finding.score < self.min_score):
            return False
        return not (self.max_score is not None
                    and (finding.score is None or finding.score > self.max_score))


def _has(labels: Iterable[str], pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(label, pattern) for label in labels)


@dataclass(frozen=True)
class Rule:
    name: str
    action: Action
    when: Condition
    reason: str = ""


@dataclass(frozen=True)
class Reason:
    """Why a verdict was reached: the rule, its action, and the findings it matched."""

    rule: str
    action: Action
    reason: str
    signals: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "action": self.action, "reason": self.reason,
                "signals": list(self.signals)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reason:
        return cls(rule=str(data["rule"]), action=_action(data["action"], "report"),
                   reason=str(data.get("reason") or ""), signals=tuple(data.get("signals") or ()))


@dataclass(frozen=True)
class Verdict:
    action: Action
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": [r.to_dict() for r in self.reasons]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(action=_action(data["action"], "report"),
                   reasons=tuple(Reason.from_dict(r) for r in data.get("reasons") or ()))


@dataclass(frozen=True)
class MemberVerdict:
    """An archive member's verdict, as the archive's own verdict takes it into account."""

    source: str  # the member's name as reports show it: archive.zip!inner/x.jpg
    verdict: Verdict


# An archive's reasons name at most this many members one by one, then count the rest.
_MEMBER_REASONS = 20


@dataclass(frozen=True)
class Policy:
    """A screening policy: a default action, the actions for unscannable and unsupported
    items, and rules."""

    name: str = "default"
    default_action: Action = "allow"
    unscannable_action: Action = "quarantine"
    unsupported_action: Action = "quarantine"
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def decide(self, findings: Sequence[Finding], kind: str, unscannable: str | None = None,
               unsupported: str | None = None, members: Sequence[MemberVerdict] = ()
               ) -> Verdict:
        """Apply every rule; the verdict is the most severe action among those that matched.

        ``unscannable`` is the reason an item could not be decoded; such an item is never
        allowed by default, whatever the rules say, unless the policy sets it so explicitly.
        ``unsupported`` is the reason for an item of a type Deepscreen does not screen at all
        (not media, not an archive): it gets the policy's ``unsupported`` action.
        ``members`` are the verdicts of an archive's members: the archive's verdict is at
        least as severe as the most severe of them, each non-allowed member a reason.
        """
        reasons: list[Reason] = []
        if unscannable is not None:
            reasons.append(Reason("unscannable", self.unscannable_action, unscannable, ("media",)))
        if unsupported is not None:
            reasons.append(Reason("unsupported", self.unsupported_action, unsupported, ("media",)))
        for rule in self.rules:
            if rule.when.kinds and kind not in rule.when.kinds:
                continue
            matched = tuple(f.signal for f in findings if rule.when.matches(f))
            if matched:
                reasons.append(Reason(rule.name, rule.action, rule.reason or rule.name, matched))
        reasons.extend(_member_reasons(members))
        action = max((r.action for r in reasons), key=SEVERITY.__getitem__,
                     default=self.default_action)
        if SEVERITY[self.default_action] > SEVERITY[action]:
            action = self.default_action
        reasons.sort(key=lambda r: -SEVERITY[r.action])  # stable: rule order within an action
        return Verdict(action=action, reasons=tuple(reasons))

    @classmethod
    def from_mapping(cls, data: Any, name: str = "policy") -> Policy:
        if not isinstance(data, dict):
            raise PolicyError(f"{name}: a policy is a mapping with 'rules'")
        unknown = set(data) - {"version", "name", "default_action", "unscannable", "unsupported",
                               "rules"}
        if unknown:
            raise PolicyError(f"{name}: unknown key(s) {', '.join(sorted(unknown))}")
        if data.get("version", 1) != 1:
            raise PolicyError(f"{name}: policy version {data.get('version')!r} is not supported (1)")
        rules_data = data.get("rules") or []
        if not isinstance(rules_data, list):
            raise PolicyError(f"{name}: 'rules' must be a list")
        rules = tuple(_parse_rule(r, i, name) for i, r in enumerate(rules_data))
        names = [r.name for r in rules]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise PolicyError(f"{name}: duplicate rule name(s) {', '.join(sorted(duplicates))}")
        return cls(
            name=str(data.get("name", name)),
            default_action=_action(data.get("default_action", "allow"), f"{name}: default_action"),
            unscannable_action=_action(data.get("unscannable", "quarantine"), f"{name}: unscannable"),
            unsupported_action=_action(data.get("unsupported", "quarantine"), f"{name}: unsupported"),
            rules=rules,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Policy:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"cannot read policy {path}: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise PolicyError(f"policy {path} is not valid YAML: {exc}") from exc
        return cls.from_mapping(data, name=path.stem)

    @classmethod
    def default(cls) -> Policy:
        text = resources.files("deepscreen").joinpath("default_policy.yaml").read_text("utf-8")
        return cls.from_mapping(yaml.safe_load(text), name="default")


def _member_reasons(members: Sequence[MemberVerdict]) -> list[Reason]:
    """One reason per member that was not allowed, most severe first, then a count."""
    flagged = sorted((m for m in members if m.verdict.action != "allow"),
                     key=lambda m: -SEVERITY[m.verdict.action])
    reasons = []
    for member in flagged[:_MEMBER_REASONS]:
        top = member.verdict.reasons[0] if member.verdict.reasons else None
        why = top.reason if top is not None else member.verdict.action
        reasons.append(Reason("member", member.verdict.action, f"{member.source}: {why}",
                              top.signals if top is not None else ()))
    if len(flagged) > _MEMBER_REASONS:
        rest = flagged[_MEMBER_REASONS:]
        worst = max((m.verdict.action for m in rest), key=SEVERITY.__getitem__)
        reasons.append(Reason("member", worst, f"and {len(rest)} more member(s) not allowed",
                              ()))
    return reasons


def is_action(value: object) -> TypeGuard[Action]:
    """Whether ``value`` is one of the four verdicts (a stored report may hold anything)."""
    return value in ACTIONS


def _action(value: Any, where: str) -> Action:
    if not is_action(value):
        raise PolicyError(f"{where}: action {value!r} is not one of {', '.join(ACTIONS)}")
    return value


def _as_tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyError(f"{where}: expected a string or a list of strings, got {value!r}")


def _score(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise PolicyError(f"{where}: a score threshold is a number in [0, 1], got {value!r}")
    return float(value)


def _parse_rule(data: Any, index: int, policy: str) -> Rule:
    where = f"{policy}: rule {index + 1}"
    if not isinstance(data, dict):
        raise PolicyError(f"{where}: a rule is a mapping with name, when and action")
    unknown = set(data) - {"name", "when", "action", "reason"}
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{where}: 'name' is required")
    where = f"{policy}: rule {name!r}"
    when = data.get("when")
    if not isinstance(when, dict) or not when:
        raise PolicyError(f"{where}: 'when' must be a non-empty mapping")
    bad = set(when) - _CONDITION_KEYS
    if bad:
        raise PolicyError(f"{where}: unknown condition(s) {', '.join(sorted(bad))}; "
                          f"use {', '.join(sorted(_CONDITION_KEYS))}")
    condition = Condition(
        labels_any=_as_tuple(when.get("label"), f"{where}: label"),
        labels_all=_as_tuple(when.get("labels_all"), f"{where}: labels_all"),
        signal=when.get("signal"),
        min_score=_score(when.get("min_score"), f"{where}: min_score"),
        max_score=_score(when.get("max_score"), f"{where}: max_score"),
        kinds=_as_tuple(when.get("kind"), f"{where}: kind"),
    )
    if (condition.min_score is not None or condition.max_score is not None) and not condition.signal:
        raise PolicyError(f"{where}: a score threshold needs 'signal' (scores differ per signal)")
    return Rule(name=name, action=_action(data.get("action"), f"{where}: action"), when=condition,
                reason=str(data.get("reason", "")))
