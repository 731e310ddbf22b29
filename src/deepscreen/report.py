"""Reports: the versioned, machine-readable result of screening one item."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from .errors import DeepscreenError
from .findings import Finding
from .media import ItemInfo
from .policy import Action, Verdict
from .version import __version__

SCHEMA = "deepscreen.report/1"
# The minor version: fields added within schema 1 (``schema`` itself never changes for them,
# so consumers that check it keep working). 1.1: archive members, animation frame counts.
SCHEMA_VERSION = "1.1"


@dataclass(frozen=True)
class Report:
    """Everything Deepscreen concluded about one item.

    The JSON form (``to_dict``) follows the schema named in ``SCHEMA`` and documented in
    ``docs/report-schema.md``; fields are only ever added within a schema version.
    """

    item: ItemInfo
    findings: tuple[Finding, ...]
    verdict: Verdict
    policy: str
    elapsed_ms: float
    error: dict[str, str] | None = None  # set when the item could not be decoded
    scanned_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    # An archive's members, each screened as an item of its own (nested archives hold theirs).
    members: tuple[Report, ...] = ()

    @property
    def action(self) -> Action:
        return self.verdict.action

    @property
    def labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for finding in self.findings:
            seen.update(dict.fromkeys(finding.labels))
        return list(seen)

    def finding(self, signal: str) -> Finding | None:
        return next((f for f in self.findings if f.signal == signal), None)

    def walk(self) -> Iterator[Report]:
        """This report, then every member's report, depth first, in archive order."""
        yield self
        for member in self.members:
            yield from member.walk()

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "deepscreen": __version__,
            "scanned_at": self.scanned_at,
            "item": self.item.to_dict(),
            "verdict": self.verdict.to_dict(),
            "labels": self.labels,
            "findings": [f.to_dict() for f in self.findings],
            "policy": self.policy,
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "members": [m.to_dict() for m in self.members],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=_jsonable)

    def to_document(self) -> dict[str, Any]:
        """The report as strict JSON data, for a JSON column or an HTTP answer.

        ``to_json`` turns numpy values in evidence into plain ones; non-finite floats (which
        JSON, PostgreSQL's jsonb and HTTP clients all refuse) become null.
        """
        document: dict[str, Any] = json.loads(self.to_json(),
                                              parse_constant=lambda _constant: None)
        return document

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report :meth:`to_dict` wrote, read back (from storage, a webhook, a file)."""
        schema = str(data.get("schema", ""))
        if schema.split("/")[0] != SCHEMA.split("/")[0]:
            raise DeepscreenError(f"not a Deepscreen report (schema {schema!r})")
        return cls(item=ItemInfo.from_dict(data["item"]),
                   findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
                   verdict=Verdict.from_dict(data["verdict"]), policy=str(data.get("policy", "")),
                   elapsed_ms=float(data.get("elapsed_ms") or 0.0), error=data.get("error"),
                   scanned_at=str(data.get("scanned_at") or ""),
                   members=tuple(cls.from_dict(m) for m in data.get("members") or ()))

    def with_source(self, source: str) -> Report:
        """The same report naming the item ``source`` (an upload's name, not a blob path)."""
        return replace(self, item=self.item.renamed(source))


def _jsonable(value: Any) -> Any:
    """Fallback for numpy scalars and arrays that slip into evidence."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
