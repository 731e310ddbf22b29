"""Signal ``voice`` end to end on files made at test time, with a stand-in ONNX model."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from deepscreen import Policy, ScanConfig, Scanner
from deepscreen.errors import DeepscreenError
from deepscreen.media import decode, open_media
from deepscreen.signals import available_signals
from deepscreen.voice import features
from voice_fixtures import encode_audio, speechlike, tiny_voice_model, video_with_sound


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return tiny_voice_model(tmp_path / "model", weight=1.0, bias=2.0, threshold=0.5)


def _scan(data: bytes, model_dir: Path, name: str = "clip", **options: object) -> dict:
    options = {"model_dir": str(model_dir), **options}
    config = ScanConfig(signals=("voice",), signal_options={"voice": options})
    with Scanner(config, Policy.default()) as scanner:
        report = scanner.scan(data, name=name)
    finding = report.finding("voice")
    assert finding is not None
    return {"finding": finding, "report": report}


def test_voice_is_a_registered_signal_for_audio_and_video() -> None:
    signal = available_signals()["voice"]
    assert signal.kinds == {"audio", "video"}


def test_wav_gets_a_score_and_a_timeline(model_dir: Path) -> None:
    x = speechlike(9.0, seed=1)
    finding = _scan(encode_audio(x), model_dir)["finding"]
    assert finding.abstained is None
    evidence = finding.evidence
    timeline = evidence["timeline"]
    assert len(timeline) == evidence["segments_scored"] >= 5
    for a, b in itertools.pairwise(timeline):
        assert b["start_s"] - a["start_s"] == pytest.approx(features.HOP_S, abs=0.51)
    assert all(s["end_s"] - s["start_s"] == pytest.approx(features.WINDOW_S, abs=0.01) for s in timeline)
    assert all(0.0 <= s["score"] <= 1.0 for s in timeline)
    top = evidence["top_segments"]
    best = sorted((s["score"] for s in timeline), reverse=True)[:3]
    assert len(top) == 3 and [s["score"] for s in top] == best
    # The item score is the sigmoid of the mean window logit.
    logits = np.log(np.array([s["score"] for s in timeline]) / (1 - np.array([s["score"] for s in timeline])))
    assert finding.score == pytest.approx(1 / (1 + np.exp(-logits.mean())), abs=2e-3)
    assert len(evidence["waveform"]["points"]) == 480
    assert finding.version.startswith("1+tiny-voice-")


def test_the_window_that_sounds_different_drives_the_score(model_dir: Path) -> None:
    rng = np.random.default_rng(0)
    x = speechlike(12.0, seed=2)
    hiss = (0.08 * rng.normal(size=3 * 16_000)).astype(np.float32)  # the stand-in model scores high bands
    x[6 * 16_000: 9 * 16_000] += hiss
    top = _scan(encode_audio(x), model_dir)["finding"].evidence["top_segments"][0]
    assert 4.5 <= top["start_s"] <= 7.5


def test_mp3_and_a_video_sound_track_are_scored(model_dir: Path) -> None:
    x = speechlike(6.0, seed=3)
    mp3 = _scan(encode_audio(x, container="mp3", codec="libmp3lame", bit_rate=64_000), model_dir)["finding"]
    assert mp3.abstained is None and mp3.evidence["codec"].startswith("mp3")
    video = _scan(video_with_sound(x, seconds=6.0), model_dir, name="clip.mp4")
    finding = video["finding"]
    assert video["report"].item.kind == "video"
    assert finding.abstained is None and finding.evidence["codec"] == "aac"
    assert finding.evidence["timeline"][-1]["end_s"] == pytest.approx(6.0, abs=0.2)


def test_video_sound_track_is_decoded_into_the_item() -> None:
    item = decode(open_media(video_with_sound(speechlike(4.0), seconds=4.0)))
    assert item.decode_error is None and item.frames
    assert item.audio is not None and item.audio.sample_rate == 16_000
    assert item.audio.samples.size == pytest.approx(4 * 16_000, rel=0.05)
    assert item.duration_s == pytest.approx(4.0, abs=0.3)


def test_video_without_sound_abstains(model_dir: Path) -> None:
    finding = _scan(video_with_sound(None), model_dir, name="silent.mp4")["finding"]
    assert finding.abstained == "no audio track"


@pytest.mark.parametrize(("samples", "reason"), [
    (np.zeros(16_000 * 4, np.float32), "the audio is silent"),
    ((0.3 * np.sin(2 * np.pi * 440 * np.arange(16_000 * 4) / 16_000)).astype(np.float32), "no speech found"),
    (np.concatenate([speechlike(0.6), np.zeros(16_000 * 2, np.float32)]), "too little speech"),
])
def test_abstains_without_enough_speech(model_dir: Path, samples: np.ndarray, reason: str) -> None:
    finding = _scan(encode_audio(samples), model_dir)["finding"]
    assert finding.abstained is not None and finding.abstained.startswith(reason)
    assert finding.score is None


def test_missing_model_abstains(tmp_path: Path) -> None:
    finding = _scan(encode_audio(speechlike(4.0)), tmp_path / "empty")["finding"]
    assert finding.abstained == "voice model not installed"


def test_model_for_other_features_is_refused(tmp_path: Path) -> None:
    folder = tiny_voice_model(tmp_path / "m")
    meta = folder / "voice_detector.json"
    meta.write_text(meta.read_text().replace("lfb64", "mfcc13"))
    finding = _scan(encode_audio(speechlike(4.0)), folder)["finding"]
    assert finding.abstained is not None and "expects features" in finding.abstained


def test_bad_options_are_configuration_errors(model_dir: Path) -> None:
    with pytest.raises(DeepscreenError, match="max_segments"):
        _scan(encode_audio(speechlike(4.0)), model_dir, max_segments=0)
    with pytest.raises(DeepscreenError, match="unknown option"):
        _scan(encode_audio(speechlike(4.0)), model_dir, window=2)


def test_long_items_are_sampled_evenly(model_dir: Path) -> None:
    finding = _scan(encode_audio(speechlike(30.0, seed=4)), model_dir, max_segments=5)["finding"]
    evidence = finding.evidence
    assert evidence["sampled"] is True and evidence["segments_scored"] == 5
    assert evidence["timeline"][0]["start_s"] == 0.0
    assert evidence["timeline"][-1]["end_s"] == pytest.approx(30.0)


def test_eval_scores_audio_items_for_the_voice_signal(tmp_path: Path, model_dir: Path) -> None:
    from deepscreen.evaluate import LabelledFile, evaluate_files, summarise

    rng = np.random.default_rng(1)
    files = []
    for i in range(3):
        real, fake = tmp_path / f"real{i}.wav", tmp_path / f"fake{i}.wav"
        x = speechlike(4.0, seed=10 + i)
        real.write_bytes(encode_audio(x))
        fake.write_bytes(encode_audio(x + (0.02 * rng.normal(size=x.size)).astype(np.float32)))
        files += [LabelledFile(real, 0), LabelledFile(fake, 1)]
    config = ScanConfig(signals=("voice",), signal_options={"voice": {"model_dir": str(model_dir)}})
    results = list(evaluate_files(files, config, signal="voice"))
    assert all(r.kind == "audio" and r.score is not None for r in results)
    assert all(len(r.frame_scores) >= 1 for r in results)  # the timeline, by window centre
    metrics = summarise(results)["audio"]
    assert metrics.n_real == 3 and metrics.n_fake == 3 and metrics.auc == 1.0
