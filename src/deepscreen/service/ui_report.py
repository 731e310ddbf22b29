"""A stored report (deepscreen.report/1 JSON) as the pieces the review item page shows.

The faces section (key frame, crops, heatmaps, the video timeline) and the findings table
are drawn by :mod:`deepscreen.html_report`, the same code as ``deepscreen scan --report``;
this module only turns the stored JSON back into findings and picks out the provenance and
bank-match evidence. The HTML it returns is escaped by html_report; everything else is plain
data that the (autoescaping) templates escape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from .. import html_report
from ..findings import Finding

PROVENANCE_SIGNALS = ("c2pa", "xmp", "generator", "watermark")
# Media types a browser shows as an image without running anything (no SVG, no HTML).
PREVIEWABLE_MIME = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True)
class ProvenanceView:
    signal: str
    summary: str
    labels: list[str]
    abstained: str | None
    evidence_json: str


@dataclass(frozen=True)
class FaceBox:
    """A detected face on the image preview, in the image's own pixels."""

    x: float
    y: float
    width: float
    height: float
    score: float | None
    flagged: bool  # scored at or above the model's threshold


@dataclass(frozen=True)
class ReportView:
    """What the item page needs from a report; every string is still unescaped data."""

    action: str | None
    reasons: list[dict[str, Any]]
    facts: list[tuple[str, str]]
    error: str | None
    provenance: list[ProvenanceView] = field(default_factory=list)
    bank_matches: list[dict[str, Any]] = field(default_factory=list)
    faces_html: Markup = field(default_factory=Markup)
    synthetic_html: Markup = field(default_factory=Markup)
    findings_html: Markup = field(default_factory=Markup)
    mime: str | None = None
    image_size: tuple[int, int] | None = None  # (width, height) of an image item
    face_boxes: list[FaceBox] = field(default_factory=list)

    @property
    def previewable(self) -> bool:
        return self.mime in PREVIEWABLE_MIME


def findings_of(report: dict[str, Any]) -> list[Finding]:
    """The report's findings as objects again; a malformed one is skipped, not fatal."""
    findings = []
    for raw in report.get("findings") or []:
        if not isinstance(raw, dict):
            continue
        try:
            findings.append(Finding(
                signal=str(raw.get("signal", "?")), version=str(raw.get("version", "")),
                score=raw.get("score"), labels=tuple(str(x) for x in raw.get("labels") or ()),
                summary=str(raw.get("summary") or ""), evidence=dict(raw.get("evidence") or {}),
                abstained=raw.get("abstained"), elapsed_ms=float(raw.get("elapsed_ms") or 0.0)))
        except (TypeError, ValueError):
            continue
    return findings


def report_view(report: dict[str, Any] | None) -> ReportView:
    """The item page's view of ``report`` (``None`` while the scan is pending)."""
    if not report:
        return ReportView(action=None, reasons=[], facts=[], error=None)
    item = report.get("item") or {}
    verdict = report.get("verdict") or {}
    findings = findings_of(report)
    faces = next((f for f in findings if f.signal == "faces"), None)
    synthetic = next((f for f in findings if f.signal == "synthetic"), None)
    error = report.get("error")
    return ReportView(
        action=verdict.get("action"),
        reasons=[r for r in verdict.get("reasons") or [] if isinstance(r, dict)],
        facts=_facts(item, report),
        error=str(error.get("message", error)) if isinstance(error, dict) else error,
        provenance=[_provenance(f) for f in findings if f.signal in PROVENANCE_SIGNALS],
        bank_matches=_bank_matches(findings),
        faces_html=Markup(html_report.render_faces(faces, item.get("kind")) if faces else ""),
        synthetic_html=Markup(html_report.render_synthetic(synthetic, item.get("kind")) if synthetic else ""),
        findings_html=Markup(html_report.render_findings(findings)),
        mime=item.get("mime") if isinstance(item.get("mime"), str) else None,
        image_size=_image_size(item),
        face_boxes=_face_boxes(faces) if faces is not None and item.get("kind") == "image"
        else [],
    )


def _image_size(item: dict[str, Any]) -> tuple[int, int] | None:
    width, height = item.get("width"), item.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    return None


def _face_boxes(finding: Finding) -> list[FaceBox]:
    """Boxes of the faces found in an image, to draw over its preview."""
    model = finding.evidence.get("model") or {}
    threshold = _number(model.get("threshold")) if isinstance(model, dict) else None
    boxes = []
    for face in finding.evidence.get("faces") or []:
        if not isinstance(face, dict):
            continue
        box = face.get("box")
        if not (isinstance(box, list) and len(box) == 4):
            continue
        coords = [c for c in (_number(v) for v in box) if c is not None]
        if len(coords) != 4 or coords[2] <= coords[0] or coords[3] <= coords[1]:
            continue
        x1, y1, x2, y2 = coords
        score = _number(face.get("score"))
        flagged = score is not None and threshold is not None and score >= threshold
        boxes.append(FaceBox(x=x1, y=y1, width=x2 - x1, height=y2 - y1, score=score,
                             flagged=flagged))
    return boxes


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _facts(item: dict[str, Any], report: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("kind", f"{item.get('kind')}/{item.get('format')}"),
             ("size", f"{item['size']:,} bytes" if isinstance(item.get("size"), int) else ""),
             ("dimensions", f"{item.get('width')}x{item.get('height')}"
              if item.get("width") else ""),
             ("duration", f"{item.get('duration_s')} s" if item.get("duration_s") else ""),
             ("sha256", str(item.get("sha256") or "")), ("md5", str(item.get("md5") or "")),
             ("policy", str(report.get("policy") or ""))]
    return [(k, v) for k, v in facts if v]


def _provenance(finding: Finding) -> ProvenanceView:
    evidence = json.dumps(html_report.evidence_without_images(finding.evidence), indent=1,
                          ensure_ascii=False, default=str)
    if len(evidence) > 20000:
        evidence = evidence[:20000] + "\n... (truncated)"
    return ProvenanceView(signal=finding.signal, summary=finding.summary,
                          labels=list(finding.labels), abstained=finding.abstained,
                          evidence_json=evidence)


def _bank_matches(findings: list[Finding]) -> list[dict[str, Any]]:
    for finding in findings:
        if finding.signal == "hashes":
            matches = finding.evidence.get("matches") or []
            return [m for m in matches if isinstance(m, dict)]
    return []
