"""One self-contained HTML file for a list of reports, for a person to review.

Per item: the verdict and its reasons, every finding with its evidence, for faces the
key frame with boxes, face crops with their heatmaps and the per-second score timeline as
an inline SVG; for voice, the waveform with each window's synthetic-speech score over it;
for generated-image detection (``synthetic``) the score, the attributed generator family and
the patch map. Everything from the item (file names, metadata, evidence) is attacker
controlled: it is HTML-escaped, images are accepted only as base64 JPEG/PNG data URIs, and a
Content-Security-Policy forbids scripts and every external fetch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from .findings import Finding
from .report import Report
from .styles import FLAGGED_COLOUR, verdict_colour
from .text import visible
from .version import __version__

_DATA_URI = re.compile(r"data:image/(jpeg|png);base64,[A-Za-z0-9+/]+={0,2}")

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d1d1f;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px} .meta{color:#666;margin-bottom:18px}
section.item{background:#fff;border:1px solid #ddd;border-radius:8px;padding:16px 18px;
 margin:0 0 18px}
h2{font-size:16px;margin:0 0 6px;word-break:break-all}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600;
 text-transform:uppercase;font-size:12px;margin-right:8px}
table{border-collapse:collapse;width:100%;margin:8px 0}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
th{font-size:12px;color:#555} .dim{color:#888} .num{font-variant-numeric:tabular-nums}
pre{background:#f3f3f3;padding:8px;overflow:auto;max-height:320px;font-size:12px;
 white-space:pre-wrap;word-break:break-all}
.faces{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start;margin:8px 0}
figure{margin:0} figcaption{font-size:12px;color:#555}
.summary td{border:none;padding:2px 12px 2px 0}
"""


def write_html_report(reports: list[Report], path: Path) -> None:
    """Write the HTML report for ``reports`` to ``path`` (UTF-8, overwriting)."""
    Path(path).write_text(render_html_report(reports), encoding="utf-8")


def render_html_report(reports: Sequence[Report]) -> str:
    """The report as one HTML document (no scripts, no external resources). An archive's
    members follow it, each as an item of its own (``archive.zip!member``)."""
    reports = [r for report in reports for r in report.walk()]
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.action] = counts.get(r.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no items"
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    body = _index(reports) + "\n".join(_item(i, r) for i, r in enumerate(reports, 1))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>Deepscreen report ({len(reports)} items)</title><style>{_CSS}</style></head>"
        f"<body><h1>Deepscreen report</h1><div class=\"meta\">{len(reports)} item(s): "
        f"{escape(summary)} &middot; generated {escape(generated)} by deepscreen "
        f"{escape(__version__)}</div>\n{body}\n</body></html>\n"
    )


def _index(reports: Sequence[Report]) -> str:
    """A table of every item with a link to its section (only worth it for several items)."""
    if len(reports) < 2:
        return ""
    rows = []
    for number, r in enumerate(reports, 1):
        faces = r.finding("faces")
        face_score = "" if faces is None or faces.score is None else f"{faces.score:.3f}"
        colour = verdict_colour(r.action)
        rows.append(f"<tr><td><a href=\"#item-{number}\">{number}</a></td>"
                    f"<td>{_e(r.item.source)}</td>"
                    f"<td><span class=\"badge\" style=\"background:{colour}\">{_e(r.action)}"
                    f"</span></td><td class=\"num\">{face_score}</td></tr>")
    return ("<section class=\"item\"><table><tr><th>#</th><th>item</th><th>verdict</th>"
            f"<th>face score</th></tr>{''.join(rows)}</table></section>\n")


def _item(number: int, report: Report) -> str:
    item = report.item
    action = report.action
    colour = verdict_colour(action)
    reasons = "".join(
        f"<li>{_e(r.reason)} <span class=\"dim\">({_e(r.rule)}: {_e(', '.join(r.signals))})"
        "</span></li>" for r in report.verdict.reasons) or "<li class=\"dim\">no rule matched</li>"
    facts = [("kind", f"{item.kind}/{item.format}"), ("size", f"{item.size:,} bytes"),
             ("dimensions", f"{item.width}x{item.height}" if item.width else ""),
             ("duration", f"{item.duration_s} s" if item.duration_s else ""),
             ("frames", f"{item.frames_sampled} sampled of {item.frames_total}"
              if item.frames_sampled and item.frames_total else ""),
             ("members", f"{len(report.members)} screened of {item.archive['entries']} entries"
              if item.archive is not None else ""),
             ("sha256", item.sha256), ("policy", report.policy)]
    rows = "".join(f"<tr><td class=\"dim\">{_e(k)}</td><td>{_e(v)}</td></tr>"
                   for k, v in facts if v)
    error = (f"<p><b>Could not be screened:</b> {_e(report.error.get('message', ''))}</p>"
             if report.error else "")
    faces = report.finding("faces")
    faces_html = render_faces(faces, item.kind) if faces is not None else ""
    voice = report.finding("voice")
    if voice is not None and not voice.abstained:
        faces_html += render_voice(voice)
    synthetic = report.finding("synthetic")
    synthetic_html = render_synthetic(synthetic, item.kind) if synthetic is not None else ""
    return (
        f"<section class=\"item\" id=\"item-{number}\"><h2>{number}. "
        f"{_e(item.source)}</h2>"
        f"<div><span class=\"badge\" style=\"background:{colour}\">{_e(action)}</span>"
        f"<ul>{reasons}</ul></div>{error}<table class=\"summary\">{rows}</table>"
        f"{faces_html}{synthetic_html}<h3>Findings</h3>{render_findings(report.findings)}</section>"
    )


def render_findings(findings: Sequence[Finding]) -> str:
    """Every finding as a table row: signal, version, score, labels, summary, evidence."""
    rows = []
    for f in findings:
        score = "" if f.score is None else f"{f.score:.3f}"
        result = (f"<span class=\"dim\">abstained: {_e(f.abstained)}</span>" if f.abstained
                  else _e(f.summary))
        evidence = ""
        if f.evidence:
            text = json.dumps(evidence_without_images(f.evidence), indent=1, ensure_ascii=False,
                              default=str)
            if len(text) > 20000:
                text = text[:20000] + "\n... (truncated; see the JSON report)"
            evidence = f"<details><summary>evidence</summary><pre>{_e(text)}</pre></details>"
        rows.append(
            f"<tr><td><b>{_e(f.signal)}</b><br><span class=\"dim\">{_e(f.version)}</span></td>"
            f"<td class=\"num\">{score}</td><td>{_e(', '.join(f.labels))}</td>"
            f"<td>{result}{evidence}</td><td class=\"num dim\">{f.elapsed_ms:.0f} ms</td></tr>")
    return ("<table><tr><th>signal</th><th>score</th><th>labels</th><th>result</th>"
            f"<th>time</th></tr>{''.join(rows)}</table>")


def render_faces(finding: Finding, kind: Any) -> str:
    """Key frame, crops with heatmaps, per-track scores and (video) the timeline."""
    evidence = finding.evidence
    if finding.abstained:
        return f"<h3>Faces</h3><p class=\"dim\">{_e(finding.abstained)}</p>"
    threshold = _number((evidence.get("model") or {}).get("threshold"))
    parts = ["<h3>Faces</h3>"]
    thumbs = evidence.get("thumbnails") or {}
    figures = []
    key = thumbs.get("key_frame") or {}
    if _image_ok(key.get("image")):
        figures.append(f"<figure><img src=\"{key['image']}\" alt=\"key frame\" "
                       f"style=\"max-width:480px\"><figcaption>frame at "
                       f"{_e(key.get('time_s'))} s, boxes red above the threshold</figcaption>"
                       "</figure>")
    for crop in thumbs.get("crops") or []:
        if _image_ok(crop.get("image")):
            figures.append(f"<figure><img src=\"{crop['image']}\" width=\"128\" height=\"128\" "
                           f"alt=\"face crop\"><figcaption>track {_e(crop.get('track'))}, "
                           f"{_e(crop.get('time_s'))} s, score {_fmt(crop.get('score'))}"
                           "</figcaption></figure>")
    if not figures:  # no thumbnails: draw the heatmap grids of each track's top face
        figures = [_heatmap_svg(face) for face in _top_faces(evidence)]
    if figures:
        parts.append(f"<div class=\"faces\">{''.join(figures)}</div>")
    tracks = evidence.get("tracks") or []
    if tracks:
        rows = "".join(
            f"<tr><td>{_e(t.get('id'))}</td><td class=\"num\">{_fmt(t.get('score'))}</td>"
            f"<td class=\"num\">{_fmt(t.get('max_score'))}</td><td>{_e(t.get('frames'))}</td>"
            f"<td>{_e(t.get('start_s'))} - {_e(t.get('end_s'))} s</td></tr>" for t in tracks)
        parts.append("<table><tr><th>track</th><th>mean score</th><th>max score</th>"
                     f"<th>frames</th><th>time</th></tr>{rows}</table>")
    timeline = evidence.get("timeline")
    if timeline:  # video and animated images: a score per sampled frame over time
        parts.append(timeline_svg(timeline, threshold))
    return "".join(parts)


def render_synthetic(finding: Finding, kind: Any) -> str:
    """Generated-image detection: score against the threshold, attribution, patch map."""
    if finding.abstained:
        return f"<h3>Generated pixels</h3><p class=\"dim\">{_e(finding.abstained)}</p>"
    evidence = finding.evidence
    threshold = _number((evidence.get("model") or {}).get("threshold"))
    attribution = evidence.get("attribution") or {}
    shares = attribution.get("shares") or {}
    share_text = ", ".join(f"{_e(k)} {_fmt(v)}" for k, v in shares.items() if _number(v) is not None)
    verdict = ("above" if threshold is not None and finding.score is not None and finding.score >= threshold
               else "below")
    rows = [("score", f"{_fmt(finding.score)} ({verdict} the threshold {_fmt(threshold)})"),
            ("attribution", f"{_e(attribution.get('family', 'undetermined'))}"
                            + (f" <span class=\"dim\">(shares of the fake evidence: {share_text})</span>"
                               if share_text else ""))]
    table = "".join(f"<tr><td class=\"dim\">{k}</td><td>{v}</td></tr>" for k, v in rows)
    parts = [f"<h3>Generated pixels</h3><table class=\"summary\">{table}</table>"]
    patch_map = evidence.get("patch_map") or {}
    if patch_map.get("scores"):
        where = (f" of the frame at {_e(patch_map.get('time_s'))} s" if kind == "video" else "")
        parts.append(f"<div class=\"faces\"><figure>{patch_map_svg(patch_map, threshold)}<figcaption>"
                     f"patch map{where}: each cell one {_e(patch_map.get('patch_px'))} px patch, "
                     "darker red = more generated-looking</figcaption></figure></div>")
    timeline = evidence.get("timeline")
    if kind == "video" and timeline:
        parts.append(timeline_svg(timeline, threshold))
    return "".join(parts)


def patch_map_svg(patch_map: dict[str, Any], threshold: float | None, cell: int = 36) -> str:
    """The grid of patch scores, one square per patch, the score written in it."""
    rects = []
    for r, row in enumerate(patch_map.get("scores") or []):
        for c, value in enumerate(row if isinstance(row, list) else []):
            v = _number(value)
            if v is None:
                continue
            shade = round(255 * (1 - min(max(v, 0.0), 1.0)))
            stroke = "#c62828" if threshold is not None and v >= threshold else "#ddd"
            x, y = c * cell, r * cell
            rects.append(f"<rect x=\"{x}\" y=\"{y}\" width=\"{cell - 2}\" height=\"{cell - 2}\" "
                         f"fill=\"rgb(255,{shade},{shade})\" stroke=\"{stroke}\"/>"
                         f"<text x=\"{x + cell / 2 - 1}\" y=\"{y + cell / 2 + 3}\" font-size=\"10\" "
                         f"text-anchor=\"middle\">{v:.2f}</text>")
    rows = len(patch_map.get("scores") or [])
    cols = max((len(row) for row in patch_map.get("scores") or [] if isinstance(row, list)), default=0)
    return (f"<svg class=\"patch-map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{cols * cell}\" "
            f"height=\"{rows * cell}\" role=\"img\" aria-label=\"patch map\">{''.join(rects)}</svg>")


def timeline_svg(timeline: Sequence[dict[str, Any]], threshold: float | None,
                 width: int = 720, height: int = 180) -> str:
    """Face score per sampled second as an inline SVG line plot, with the threshold dashed.

    Seconds without a scored face break the line (no point is invented for them).
    """
    pad_left, pad_right, pad_top, pad_bottom = 40, 12, 10, 26
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    times = [t for t in (_number(p.get("time_s")) for p in timeline) if t is not None]
    end = max(times, default=0.0) or 1.0

    def x(t: float) -> float:
        return pad_left + plot_w * t / end

    def y(score: float) -> float:
        return pad_top + plot_h * (1.0 - min(max(score, 0.0), 1.0))

    segments: list[list[tuple[float, float]]] = [[]]
    for point in timeline:
        t, score = _number(point.get("time_s")), _number(point.get("score"))
        if t is None or score is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((x(t), y(score)))
    lines = []
    for seg in segments:
        if len(seg) > 1:
            coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in seg)
            lines.append(f"<polyline points=\"{coords}\" fill=\"none\" stroke=\"#1f5fbf\" "
                         "stroke-width=\"2\"/>")
        lines.extend(f"<circle cx=\"{a:.1f}\" cy=\"{b:.1f}\" r=\"2.5\" fill=\"#1f5fbf\"/>"
                     for a, b in seg)
    grid = "".join(
        f"<line x1=\"{pad_left}\" x2=\"{width - pad_right}\" y1=\"{y(v):.1f}\" y2=\"{y(v):.1f}\" "
        f"stroke=\"#e4e4e4\"/><text x=\"{pad_left - 6}\" y=\"{y(v) + 4:.1f}\" font-size=\"10\" "
        f"text-anchor=\"end\" fill=\"#666\">{v:.1f}</text>" for v in (0.0, 0.5, 1.0))
    ticks = "".join(
        f"<text x=\"{x(t):.1f}\" y=\"{height - 8}\" font-size=\"10\" text-anchor=\"middle\" "
        f"fill=\"#666\">{t:g}s</text>" for t in _ticks(end))
    limit = ""
    if threshold is not None:
        limit = (f"<line class=\"threshold\" x1=\"{pad_left}\" x2=\"{width - pad_right}\" "
                 f"y1=\"{y(threshold):.1f}\" y2=\"{y(threshold):.1f}\" stroke=\"{FLAGGED_COLOUR}\" "
                 f"stroke-dasharray=\"5,4\"/><text x=\"{width - pad_right}\" "
                 f"y=\"{y(threshold) - 4:.1f}\" font-size=\"10\" text-anchor=\"end\" "
                 f"fill=\"{FLAGGED_COLOUR}\">threshold {threshold:.3f}</text>")
    return (f"<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" "
            f"height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
            f"aria-label=\"face score per second\">{grid}{ticks}{limit}{''.join(lines)}</svg>")


def render_voice(finding: Finding) -> str:
    """The waveform with each scored window's synthetic-speech score drawn over it."""
    evidence = finding.evidence or {}
    model = evidence.get("model") or {}
    threshold = _number(model.get("threshold"))
    top = evidence.get("top_segments") or []
    rows = "".join(f"<tr><td class=\"num\">{_fmt(s.get('start_s'))}-{_fmt(s.get('end_s'))} s</td>"
                   f"<td class=\"num\">{_fmt(s.get('score'))}</td></tr>" for s in top if isinstance(s, dict))
    return (f"<h3>Voice</h3><p>{_e(finding.summary)}</p>"
            f"{voice_timeline_svg(evidence.get('waveform') or {}, evidence.get('timeline') or [], threshold)}"
            f"<table><tr><th>segments that drove the score</th><th>score</th></tr>{rows}</table>")


def voice_timeline_svg(waveform: dict[str, Any], timeline: Sequence[dict[str, Any]],
                       threshold: float | None, width: int = 720, height: int = 200) -> str:
    """Inline SVG: the (loudness-normalised) waveform envelope in grey, and per 3 s window a bar
    whose height is its score, red where it is above the threshold."""
    pad_left, pad_right, pad_top, pad_bottom = 40, 12, 10, 26
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    points = [p for p in (_number(v) for v in waveform.get("points") or []) if p is not None]
    ends = [e for e in (_number(s.get("end_s")) for s in timeline if isinstance(s, dict)) if e is not None]
    end = _number(waveform.get("duration_s")) or max(ends, default=0.0) or 1.0

    def x(t: float) -> float:
        return pad_left + plot_w * min(max(t / end, 0.0), 1.0)

    def y(score: float) -> float:
        return pad_top + plot_h * (1.0 - min(max(score, 0.0), 1.0))

    mid, half = pad_top + plot_h / 2, plot_h / 2
    peak = max(points, default=0.0) or 1.0
    wave = ""
    if points:
        step = end / len(points)
        top_edge = [f"{x(i * step):.1f},{mid - half * v / peak:.1f}" for i, v in enumerate(points)]
        bottom_edge = [f"{x(i * step):.1f},{mid + half * v / peak:.1f}"
                       for i, v in reversed(list(enumerate(points)))]
        wave = (f"<polygon class=\"waveform\" points=\"{' '.join(top_edge + bottom_edge)}\" "
                "fill=\"#c9ced6\" stroke=\"none\"/>")
    bars = []
    for segment in timeline:
        if not isinstance(segment, dict):
            continue
        start, stop, score = (_number(segment.get(k)) for k in ("start_s", "end_s", "score"))
        if start is None or stop is None or score is None:
            continue
        flagged = threshold is not None and score > threshold
        colour = "#c62828" if flagged else "#1f5fbf"
        bars.append(f"<rect class=\"segment{' flagged' if flagged else ''}\" x=\"{x(start):.1f}\" "
                    f"y=\"{y(score):.1f}\" width=\"{max(x(stop) - x(start), 1.0):.1f}\" "
                    f"height=\"{pad_top + plot_h - y(score):.1f}\" fill=\"{colour}\" fill-opacity=\"0.35\" "
                    f"stroke=\"{colour}\"><title>{start:.1f}-{stop:.1f} s: {score:.3f}</title></rect>")
    grid = "".join(
        f"<text x=\"{pad_left - 6}\" y=\"{y(v) + 4:.1f}\" font-size=\"10\" text-anchor=\"end\" "
        f"fill=\"#666\">{v:.1f}</text>" for v in (0.0, 0.5, 1.0))
    ticks = "".join(
        f"<text x=\"{x(t):.1f}\" y=\"{height - 8}\" font-size=\"10\" text-anchor=\"middle\" "
        f"fill=\"#666\">{t:g}s</text>" for t in _ticks(end))
    limit = ""
    if threshold is not None:
        limit = (f"<line class=\"threshold\" x1=\"{pad_left}\" x2=\"{width - pad_right}\" "
                 f"y1=\"{y(threshold):.1f}\" y2=\"{y(threshold):.1f}\" stroke=\"#c62828\" "
                 f"stroke-dasharray=\"5,4\"/>")
    return (f"<svg class=\"voice-timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" "
            f"height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
            f"aria-label=\"waveform and synthetic-speech score per window\">{wave}{grid}{ticks}"
            f"{''.join(bars)}{limit}</svg>")


def _heatmap_svg(face: dict[str, Any], cell: int = 8) -> str:
    grid = face.get("heatmap") or []
    rects = []
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            v = _number(value)
            if v is None:
                continue
            shade = round(255 * (1 - min(max(v, 0.0), 1.0)))
            rects.append(f"<rect x=\"{c * cell}\" y=\"{r * cell}\" width=\"{cell}\" "
                         f"height=\"{cell}\" fill=\"rgb(255,{shade},{shade})\"/>")
    side = cell * max(len(grid), 1)
    return (f"<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{side}\" "
            f"height=\"{side}\">{''.join(rects)}</svg><figcaption>track {_e(face.get('track'))}"
            f", score {_fmt(face.get('score'))}</figcaption></figure>")


def _top_faces(evidence: dict[str, Any], limit: int = 6) -> list[dict[str, Any]]:
    best: dict[Any, dict[str, Any]] = {}
    for face in evidence.get("faces") or []:
        score = _number(face.get("score"))
        if score is None or not face.get("heatmap"):
            continue
        current = best.get(face.get("track"))
        if current is None or score > (_number(current.get("score")) or 0.0):
            best[face.get("track")] = face
    return sorted(best.values(), key=lambda f: -(_number(f.get("score")) or 0.0))[:limit]


def evidence_without_images(value: Any) -> Any:
    """The evidence with data URIs shortened: they are shown as pictures, not as text."""
    if isinstance(value, dict):
        return {k: evidence_without_images(v) for k, v in value.items()}
    if isinstance(value, list):
        return [evidence_without_images(v) for v in value]
    if isinstance(value, str) and value.startswith("data:"):
        return f"<{value[:value.find(',')] if ',' in value else 'data'} image, {len(value)} chars>"
    return value


def _ticks(end: float) -> list[float]:
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800) if end / s <= 12),
                3600)
    return [i * step for i in range(int(end // step) + 1)]


def _image_ok(value: Any) -> bool:
    return isinstance(value, str) and _DATA_URI.fullmatch(value) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _fmt(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{number:.3f}"


# The longest value shown as it is; the JSON report keeps the whole text.
MAX_SHOWN_CHARS = 10_000


def _e(value: Any) -> str:
    """A value from the item, safe in HTML: its hidden characters made visible (a bidi
    override must not reverse a file name on screen), cut short, then escaped."""
    text = "" if value is None else visible(value, MAX_SHOWN_CHARS, one_line=False)
    return escape(text, quote=True)
