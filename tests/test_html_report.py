"""The HTML report: self-contained, escaped, with the faces timeline."""

from __future__ import annotations

import re
from pathlib import Path

from deepscreen.findings import Finding
from deepscreen.html_report import render_html_report, timeline_svg, write_html_report
from deepscreen.media import ItemInfo
from deepscreen.policy import Reason, Verdict
from deepscreen.report import Report

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>.mp4'
PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4"
         "nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


def video_report(source: str = HOSTILE, **evidence: object) -> Report:
    faces = Finding(
        signal="faces", version="1+face-sbi-1", score=0.93, labels=("faces:1",),
        summary="1 face scored",
        evidence={"model": {"name": "face-sbi", "version": "1", "threshold": 0.9},
                  "tracks": [{"id": 0, "frames": 3, "start_s": 0.0, "end_s": 3.0, "score": 0.93,
                              "max_score": 0.97}],
                  "faces": [{"track": 0, "frame": 0, "time_s": 0.0, "score": 0.97,
                             "box": [1, 2, 3, 4], "heatmap": [[0.1, 0.9], [0.5, 0.2]]}],
                  "timeline": [{"time_s": 0.0, "score": 0.97}, {"time_s": 1.0, "score": 0.9},
                               {"time_s": 2.0, "score": None}, {"time_s": 3.0, "score": 0.92}],
                  **evidence})
    xmp = Finding(signal="xmp", version="1", labels=("ai-declared",),
                  summary="</td><b>made by</b>", evidence={"Software": "<svg onload=alert(2)>"})
    verdict = Verdict("quarantine", (Reason("manipulated-face", "quarantine",
                                            "a face <i>appears</i> manipulated", ("faces",)),))
    return Report(item=ItemInfo(source=source, kind="video", format="mp4", mime="video/mp4",
                                size=1234, sha256="ab" * 32, md5="", width=640, height=360,
                                duration_s=4.0),
                  findings=(xmp, faces), verdict=verdict, policy="default", elapsed_ms=12.0)


def test_hostile_names_and_metadata_are_escaped() -> None:
    html = render_html_report([video_report()])
    assert "<script" not in html
    assert "onerror=alert(1)>" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;b&gt;made by&lt;/b&gt;" in html
    assert "a face &lt;i&gt;appears&lt;/i&gt; manipulated" in html
    assert "default-src 'none'" in html  # the CSP forbids scripts and fetches


def test_timeline_svg_has_the_points_a_gap_and_the_threshold_line() -> None:
    html = render_html_report([video_report()])
    svg = re.search(r'<svg class="timeline".*?</svg>', html, re.S)
    assert svg is not None
    assert 'class="threshold"' in svg.group(0) and "threshold 0.900" in svg.group(0)
    assert len(re.findall("<circle", svg.group(0))) == 3  # the second without a face is skipped
    assert svg.group(0).count("<polyline") == 1  # 0-1 s joined; 3 s alone after the gap


def test_timeline_threshold_height_matches_the_score_scale() -> None:
    svg = timeline_svg([{"time_s": 0.0, "score": 1.0}, {"time_s": 2.0, "score": 0.0}], 0.5,
                       height=120)
    y_top, y_bottom = (float(v) for v in re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)"', svg))
    y_threshold = float(re.search(r'class="threshold"[^>]*y1="([\d.]+)"', svg).group(1))
    assert y_threshold == (y_top + y_bottom) / 2


def test_images_only_from_data_uris_and_heatmaps_without_thumbnails() -> None:
    good = {"key_frame": {"time_s": 0.0, "image": PIXEL},
            "crops": [{"track": 0, "score": 0.97, "image": "javascript:alert(1)"}]}
    html = render_html_report([video_report(thumbnails=good)])
    assert f'src="{PIXEL}"' in html
    assert 'src="javascript:' not in html  # shown only as escaped evidence text
    plain = render_html_report([video_report()])
    assert "<rect" in plain  # the heatmap grid drawn as SVG when no crops are embedded


def test_write_html_report_writes_a_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html_report([video_report(source="café.mp4"), video_report()], path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "café.mp4" in text
    assert "2 quarantine" in text
    assert 'href="#item-2"' in text and 'id="item-2"' in text  # the index links each item
    assert "<script" not in text  # the hostile name is escaped in the index too


def test_every_hostile_string_is_shown_visibly_and_cut_short() -> None:
    from hostile_strings import HOSTILE, RAW_FORBIDDEN

    findings = tuple(Finding(signal="xmp", version="1", labels=("ai-declared",), summary=value,
                             evidence={"field": value}) for value in HOSTILE.values())
    reports = [Report(item=ItemInfo(source=name, kind="image", format="png", mime="image/png",
                                    size=1, sha256="ab" * 32, md5=""),
                      findings=findings, verdict=Verdict("label"), policy="default",
                      elapsed_ms=1.0) for name in HOSTILE.values()]
    html = render_html_report(reports)
    for forbidden in RAW_FORBIDDEN:
        assert forbidden not in html, repr(forbidden)
    assert "<script>alert(1)" not in html and "invoice\\u202egpj.exe" in html
    assert "\\x1b[2J" in html  # the escape sequence is shown, not obeyed
    assert len(html) < 2_000_000  # eight 1 MB values were cut, not copied whole
    assert "more characters)" in html
