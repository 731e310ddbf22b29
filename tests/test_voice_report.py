"""The voice finding in the default policy, the HTML report and the review UI's item view."""

from __future__ import annotations

import json
import re

import pytest

from deepscreen.findings import Finding
from deepscreen.html_report import render_html_report, voice_timeline_svg
from deepscreen.media import ItemInfo
from deepscreen.policy import Policy, Reason, Verdict
from deepscreen.report import Report
from deepscreen.voice.detector import MODEL_STEM, MODELS_DIR


def voice_finding(score: float = 0.9, threshold: float = 0.6) -> Finding:
    timeline = [{"time_s": 1.5 + 1.5 * i, "start_s": 1.5 * i, "end_s": 1.5 * i + 3.0, "score": s,
                 "speech": 0.8} for i, s in enumerate((0.2, 0.95, 0.7, 0.1))]
    return Finding(signal="voice", version="1+voice-cnn-1", score=score, labels=("speech",),
                   summary="speech scored 0.900 over 4 window(s)",
                   evidence={"model": {"name": "voice-cnn", "version": "1", "threshold": threshold},
                             "timeline": timeline,
                             "top_segments": sorted(timeline, key=lambda s: -s["score"])[:3],
                             "waveform": {"points": [0.1, 0.5, 0.9, 0.4, 0.0, 0.3], "duration_s": 7.5}})


def audio_report(finding: Finding, mime: str = "audio/mpeg") -> Report:
    verdict = Verdict("label", (Reason("synthetic-voice", "label", "speech sounds synthetic", ("voice",)),))
    return Report(item=ItemInfo(source="call.mp3", kind="audio", format="mp3", mime=mime, size=99,
                                sha256="cd" * 32, md5="", duration_s=7.5),
                  findings=(finding,), verdict=verdict, policy="default", elapsed_ms=3.0)


def _voice_rule() -> object:
    return next(r for r in Policy.default().rules if r.name == "synthetic-voice")


def test_default_policy_labels_synthetic_speech_at_the_models_threshold() -> None:
    meta = json.loads((MODELS_DIR / f"{MODEL_STEM}.json").read_text())
    rule = _voice_rule()
    assert rule.action == "label" and rule.reason == "speech sounds synthetic"
    assert meta["threshold"] <= rule.when.min_score <= meta["threshold"] + 0.001
    policy = Policy.default()
    above = Finding(signal="voice", version="1", score=rule.when.min_score + 0.01, labels=("speech",))
    below = Finding(signal="voice", version="1", score=rule.when.min_score - 0.01, labels=("speech",))
    assert policy.decide([above], "audio").action == "label"
    assert policy.decide([below], "audio").action == "allow"
    assert policy.decide([Finding.abstain("voice", "1", "no audio track")], "video").action == "allow"


def test_html_report_draws_the_waveform_and_the_windows() -> None:
    html = render_html_report([audio_report(voice_finding())])
    svg = re.search(r'<svg class="voice-timeline".*?</svg>', html, re.S)
    assert svg is not None
    body = svg.group(0)
    assert 'class="waveform"' in body and 'class="threshold"' in body
    assert len(re.findall(r'<rect class="segment', body)) == 4
    assert len(re.findall(r'<rect class="segment flagged"', body)) == 2  # 0.95 and 0.7 > 0.6
    assert "segments that drove the score" in html and "1.500-4.500 s" in html


def test_voice_svg_tolerates_malformed_evidence() -> None:
    svg = voice_timeline_svg({"points": ["x", None]}, [{"start_s": "a"}, 3], None)
    assert svg.startswith("<svg") and "segment" not in svg


def test_abstained_voice_draws_nothing() -> None:
    html = render_html_report([audio_report(Finding.abstain("voice", "1", "the audio is silent"))])
    assert "voice-timeline" not in html


def test_review_ui_view_plays_the_segments() -> None:
    pytest.importorskip("markupsafe")
    from deepscreen.service.ui_report import report_view

    view = report_view(audio_report(voice_finding()))
    assert view.playable and not view.previewable
    assert view.voice_segments[0] == (1.5, 4.5, 0.95)
    assert "voice-timeline" in str(view.voice_html)
    assert not report_view(audio_report(voice_finding(), mime="text/html")).playable


def test_the_shipped_model_loads_and_scores_speech() -> None:
    import numpy as np

    from deepscreen.voice import features
    from deepscreen.voice.detector import VoiceModel
    from voice_fixtures import speechlike

    model = VoiceModel()
    assert model.info.name == "voice-cnn" and 0.0 < model.info.threshold < 1.0
    result = model.score(features.prepare(speechlike(7.0, seed=9)), max_segments=100)
    assert len(result.segments) == 4 and 0.0 <= result.score <= 1.0
    assert all(np.isfinite(s.score) for s in result.segments)
    # Variable-length windows work too (the time axis is dynamic): one logit per window.
    bands = np.zeros((2, features.N_BANDS, 150), np.float32)
    assert model.window_logits(bands).shape == (2,)
