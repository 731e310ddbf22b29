"""A stored report (deepscreen.report/1 JSON) as the pieces the review item page shows.

The faces section (key frame, crops, heatmaps, the video timeline), the voice section
(waveform and per-window timeline) and the findings table are drawn by
:mod:`deepscreen.html_report`, the same code as ``deepscreen scan --report``; this module
reads the stored JSON back into a :class:`~deepscreen.report.Report` and picks out the
provenance and bank-match evidence. The HTML it returns is escaped by html_report;
everything else is plain data that the (autoescaping) templates escape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from .. import html_report
from ..findings import Finding
from ..policy import Reason
from ..report import Report

PROVENANCE_SIGNALS = ("c2pa", "xmp", "generator", "watermark")
# Media types a browser shows as an image without running anything (no SVG, no HTML).
PREVIEWABLE_MIME = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Audio types a browser plays in an <audio> element (the sniffed type, not the file name).
PLAYABLE_MIME = frozenset({"audio/wav", "audio/mpeg", "audio/flac", "audio/ogg", "audio/mp4", "audio/aac"})


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
    reasons: list[Reason]
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
    voice_html: Markup = field(default_factory=Markup)
    # The windows that drove the voice score: (start_s, end_s, score), for the segment players.
    voice_segments: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def previewable(self) -> bool:
        return self.mime in PREVIEWABLE_MIME

    @property
    def playable(self) -> bool:
        return self.mime in PLAYABLE_MIME


def read_stored(document: dict[str, Any] | None) -> Report | None:
    """A stored report document as a :class:`Report` (``None`` while the scan is pending).

    A stored report was written by ``Report.to_document`` and reads back whole; should one
    finding in it be malformed (hand-edited, or from a newer version), that finding is
    left out instead of the whole page failing.
    """
    if not document:
        return None
    findings = document.get("findings") or []
    readable = [raw for raw in findings if _readable_finding(raw)]
    return Report.from_dict({**document, "findings": readable})


def _readable_finding(raw: Any) -> bool:
    try:
        Finding.from_dict(raw)
    except (TypeError, ValueError, KeyError, AttributeError):
        return False
    return True


def report_view(report: Report | None) -> ReportView:
    """The item page's view of ``report`` (``None`` while the scan is pending)."""
    if report is None:
        return ReportView(action=None, reasons=[], facts=[], error=None)
    item = report.item
    faces = report.finding("faces")
    synthetic = report.finding("synthetic")
    voice = report.finding("voice")
    if voice is not None and voice.abstained:
        voice = None
    return ReportView(
        action=report.action,
        reasons=list(report.verdict.reasons),
        facts=_facts(report),
        error=report.error.get("message") if report.error else None,
        provenance=[_provenance(f) for f in report.findings if f.signal in PROVENANCE_SIGNALS],
        bank_matches=_bank_matches(report),
        faces_html=Markup(html_report.render_faces(faces, item.kind) if faces else ""),
        synthetic_html=Markup(html_report.render_synthetic(synthetic, item.kind)
                              if synthetic else ""),
        findings_html=Markup(html_report.render_findings(report.findings)),
        mime=item.mime or None,
        image_size=(item.width, item.height) if item.width and item.height else None,
        face_boxes=_face_boxes(faces) if faces is not None and item.kind == "image" else [],
        voice_html=Markup(html_report.render_voice(voice) if voice else ""),
        voice_segments=_voice_segments(voice) if voice else [],
    )


def _voice_segments(finding: Finding) -> list[tuple[float, float, float]]:
    """The windows that drove the voice score, as (start, end, score) for the player."""
    out = []
    for segment in finding.evidence.get("top_segments") or []:
        if not isinstance(segment, dict):
            continue
        start, end, score = (_number(segment.get(k)) for k in ("start_s", "end_s", "score"))
        if start is not None and end is not None and score is not None and start < end:
            out.append((start, end, score))
    return out


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


def _facts(report: Report) -> list[tuple[str, str]]:
    item = report.item
    facts = [("kind", f"{item.kind}/{item.format}"), ("size", f"{item.size:,} bytes"),
             ("dimensions", f"{item.width}x{item.height}" if item.width else ""),
             ("duration", f"{item.duration_s} s" if item.duration_s else ""),
             ("sha256", item.sha256), ("md5", item.md5), ("policy", report.policy)]
    return [(k, v) for k, v in facts if v]


def _provenance(finding: Finding) -> ProvenanceView:
    evidence = json.dumps(html_report.evidence_without_images(finding.evidence), indent=1,
                          ensure_ascii=False, default=str)
    if len(evidence) > 20000:
        evidence = evidence[:20000] + "\n... (truncated)"
    return ProvenanceView(signal=finding.signal, summary=finding.summary,
                          labels=list(finding.labels), abstained=finding.abstained,
                          evidence_json=evidence)


def _bank_matches(report: Report) -> list[dict[str, Any]]:
    hashes = report.finding("hashes")
    matches = hashes.evidence.get("matches") or [] if hashes is not None else []
    return [m for m in matches if isinstance(m, dict)]
