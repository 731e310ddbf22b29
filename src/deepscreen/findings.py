"""Findings: what one signal concluded about one item, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """The result of one signal on one item.

    ``score`` is the signal's belief in [0, 1] that the item is what the signal looks for
    (a bank match, AI generation, a manipulated face). ``None`` means the signal abstained and
    ``abstained`` says why: abstaining is honest, a made-up score is not.

    ``labels`` are short stable tags the policy matches on (``bank:ncii``, ``ai-declared``,
    ``c2pa-invalid``). ``evidence`` is JSON-serialisable data a person can check.
    """

    signal: str
    version: str
    score: float | None = None
    labels: tuple[str, ...] = ()
    summary: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    abstained: str | None = None
    elapsed_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.score is not None and not 0.0 <= self.score <= 1.0:
            raise ValueError(f"{self.signal}: score {self.score} is outside [0, 1]")
        if self.score is None and self.abstained is None and not self.labels:
            # A finding with neither a score, a label nor a reason says nothing; force a reason.
            object.__setattr__(self, "abstained", "no result")

    @classmethod
    def abstain(
        cls, signal: str, version: str, reason: str, evidence: dict[str, Any] | None = None
    ) -> Finding:
        """A finding that says the signal could not judge this item, and why."""
        return cls(signal=signal, version=version, abstained=reason, summary=reason,
                   evidence=evidence or {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The finding :meth:`to_dict` wrote (a stored report read back)."""
        return cls(signal=str(data["signal"]), version=str(data.get("version", "")),
                   score=None if data.get("score") is None else float(data["score"]),
                   labels=tuple(data.get("labels") or ()), summary=str(data.get("summary") or ""),
                   evidence=dict(data.get("evidence") or {}), abstained=data.get("abstained"),
                   elapsed_ms=float(data.get("elapsed_ms") or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "version": self.version,
            "score": None if self.score is None else round(self.score, 6),
            "labels": list(self.labels),
            "summary": self.summary,
            "abstained": self.abstained,
            "evidence": self.evidence,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }
