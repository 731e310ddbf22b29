"""Identify a face-swap tool's file: read its facts once, apply every rule, explain matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import MatchContext
from .facts import Facts, ReadOptions, read_facts
from .rules import MATCHERS, Rule, RuleSet


@dataclass(frozen=True)
class Match:
    rule: Rule
    confidence: float
    evidence: dict[str, Any]
    name_matched: bool = False

    def to_evidence(self) -> dict[str, Any]:
        return {"rule": self.rule.name, "version": self.rule.version, "tool": self.rule.tool,
                "confidence": round(self.confidence, 3), "labels": list(self.rule.labels),
                "description": self.rule.description, "source": self.rule.source,
                **({"name_also_fits": True} if self.name_matched else {}),
                "matched": self.evidence}


@dataclass
class Identification:
    facts: Facts
    matches: list[Match] = field(default_factory=list)
    rule_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return max((m.confidence for m in self.matches), default=0.0)

    @property
    def labels(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for match in sorted(self.matches, key=lambda m: -m.confidence):
            for label in match.rule.labels:
                seen.setdefault(label, None)
        return tuple(seen)

    def read_summary(self) -> dict[str, Any]:
        """What was read from the file, for evidence even when nothing matched."""
        summary: dict[str, Any] = {"format": self.facts.format, "read": self.facts.reads}
        if self.facts.listing is not None:
            summary["archive_members"] = len(self.facts.listing)
            summary["listing_from"] = self.facts.listing_source
        if self.facts.problems:
            summary["problems"] = self.facts.problems
        globals_seen = {w: s.globals[:16] for w, s in self.facts.pickles.items() if s.globals}
        if globals_seen:
            summary["pickle_globals"] = globals_seen
        if self.facts.onnx is not None:
            summary["onnx"] = self.facts.onnx.to_evidence()
        return summary


def identify(buf: memoryview, rules: RuleSet, *, name: str = "", sha256: str | None = None,
             listing: list[str] | None = None, options: ReadOptions | None = None,
             context: MatchContext | None = None) -> Identification:
    """Every rule that matches the file in ``buf``, strongest first."""
    facts = read_facts(buf, name=name, sha256=sha256, listing=listing, options=options)
    ctx = context or MatchContext()
    result = Identification(facts)
    for rule in rules.rules:
        try:
            evidence = MATCHERS[rule.matcher](facts, rule.params, ctx)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            # A rule whose parameters do not fit this file's facts is a rule bug; say which.
            result.rule_errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
            continue
        if evidence is None:
            continue
        confidence, hinted = rule.confidence, False
        if rule.name_hint is not None and name and rule.name_hint.regex.search(name):
            confidence, hinted = max(confidence, rule.name_hint.confidence), True
        result.matches.append(Match(rule, confidence, evidence, hinted))
    result.matches.sort(key=lambda m: -m.confidence)
    return result
