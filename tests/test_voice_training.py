"""train.voice: source sorting, conditions, the training loop and the ONNX export contract."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from deepscreen.voice import features
from deepscreen.voice.detector import FEATURE_VERSION, VoiceModel
from train.voice import conditions, export, sources
from train.voice.dataset import Windows, class_of
from train.voice.train import file_scores, report, sample_weights, train_cnn
from voice_fixtures import speechlike


@pytest.mark.parametrize(("path", "expected"), [
    ("audio/fastspeech2/audio/gt_recording_2/1.wav", "real"),
    ("audio/fastspeech2/audio/gt_pwg_2/1.wav", "fake"),  # vocoder re-synthesis of a recording
    ("audio/adaspeech/1 base/vctk/gt mel vocoder/p1.wav", "fake"),
    ("audio/adaspeech/1 base/vctk/gt/p1.wav", "real"),
    ("audio/speechtransducer/gt3.wav", "real"),
    ("naturalspeech2/audio/librispeech_examples/case1/reference.wav", "real"),
    ("naturalspeech2/audio/librispeech_examples/case1/yourtts.wav", "fake"),
    ("naturalspeech3/audio/recon/gt/121-127105-0006.wav", "real"),
    ("naturalspeech3/audio/recon/encodec_8/121-127105-0006.wav", "fake"),
    ("audio/denoispeech/artificial/gt/1.wav", None),  # noisy speech pages are left out
    ("popmag/audio/1.mp3", None),  # music
])
def test_speechresearch_files_are_sorted_by_class(path: str, expected: str | None) -> None:
    assert sources.speechresearch_class(path) == expected


def test_calibration_split_follows_the_source_recording() -> None:
    path = "audio_data/librispeech_train-clean-100/1034-121119-0000.flac"
    role = sources.role_for("voice-libri-real", path, "train")
    assert sources.role_for("voice-world-fake", f"voice-libri-real/{path}.wav", "train") == role
    assert sources.role_for("voice-tortoise-fake", "examples/a.mp3", "dev-eval") == "dev-eval"
    roles = [sources.role_for("voice-x-real", f"f{i}.wav", "train") for i in range(2000)]
    share = np.mean([role == "calibration" for role in roles])
    assert 0.12 < share < 0.18


def test_codec_conditions_keep_length_and_level() -> None:
    x = speechlike(3.0)
    for condition in conditions.EVAL_CONDITIONS:
        y = conditions.apply(x, condition)
        assert abs(y.size - x.size) < 0.15 * x.size
        assert 0.5 < np.sqrt(np.mean(y ** 2)) / np.sqrt(np.mean(x ** 2)) < 1.5


def test_class_comes_from_the_set_name() -> None:
    assert class_of("voice-sr-fake") == 1 and class_of("voice-libri-real") == 0
    with pytest.raises(ValueError):
        class_of("voice-fsdd-digits")


def _windows(n_files: int, seed: int, role: str) -> Windows:
    """Real windows: speech-like sound; synthetic: the same with a hiss above 6 kHz."""
    rng = np.random.default_rng(seed)
    bands, files, labels = [], [], []
    for f in range(n_files):
        label = f % 2
        x = features.normalise(speechlike(3.0, seed=seed * 100 + f))[0]
        if label:
            x = x + np.convolve(rng.normal(0, 0.02, x.size), [1, -1, 1, -1], "same").astype(np.float32)
        bands.append(features.log_bands(features.window_samples(x, features.Segment(0, 3, 1))))
        files.append(f)
        labels.append(label)
    sets = ["voice-a-fake" if lab else "voice-a-real" for lab in labels]
    return Windows(np.stack(bands).astype(np.float16), np.array(files, np.int32),
                   np.array(["clean"] * n_files), np.array(labels, np.int8),
                   [f"{i}.wav" for i in range(n_files)], ["s"] * n_files, sets, [role] * n_files)


def test_sample_weights_balance_classes_and_sets() -> None:
    w = _windows(8, 0, "train")
    weights = sample_weights(w)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[w.label == 1].sum() == pytest.approx(0.5)


def test_training_export_and_runtime_agree(tmp_path: Path) -> None:
    train, calibration = _windows(24, 1, "train"), _windows(12, 2, "calibration")
    args = argparse.Namespace(seed=0, widths=(4, 8, 8, 8), lr=3e-3, steps=40, batch=16, eval_every=20,
                              resume=False)
    checkpoint = tmp_path / "voice.pt"
    _, extra = train_cnn(train, calibration, args, checkpoint)
    assert checkpoint.is_file() and extra["steps"] == 40 and len(extra["log"]) == 2
    module, _ = export.load_checkpoint(checkpoint)
    onnx_path = export.export(module, tmp_path / "voice_detector.onnx")
    assert export.max_difference(module, onnx_path, calibration.bands.astype(np.float32)) < 1e-3
    (tmp_path / "voice_detector.json").write_text(json.dumps({
        "name": "t", "version": "1", "feature_version": FEATURE_VERSION, "threshold": 0.5}))
    runtime = VoiceModel(tmp_path)
    logits = runtime.window_logits(calibration.bands.astype(np.float32))
    import torch

    with torch.no_grad():
        expected = module(torch.from_numpy(calibration.bands.astype(np.float32))).numpy()
    assert np.allclose(logits, expected, atol=1e-3)
    # Resuming continues from the saved step.
    args.steps, args.resume = 50, True
    _, extra = train_cnn(train, calibration, args, checkpoint)
    assert extra["steps"] == 50


def test_report_threshold_keeps_calibration_reals_under_one_percent() -> None:
    rng = np.random.default_rng(0)
    rows = [{"file": i, "set": "voice-a-real" if i < 500 else "voice-a-fake", "system": "s", "path": str(i),
             "condition": "clean", "label": int(i >= 500), "score": float(rng.normal(0 if i < 500 else 3))}
            for i in range(1000)]
    result = report(rows, rows)
    reals = np.array([r["score"] for r in rows if r["label"] == 0])
    assert np.mean(reals > result["threshold"]) <= 0.01
    assert result["per_condition"]["clean"]["auc"] > 0.9


def test_file_scores_average_windows_per_file_and_condition() -> None:
    w = Windows(np.zeros((3, 64, 10), np.float16), np.array([0, 0, 1], np.int32), np.array(["clean"] * 3),
                np.array([1, 1, 0], np.int8), ["a", "b"], ["s", "s"], ["voice-a-fake", "voice-a-real"],
                ["dev-eval"] * 2)
    rows = file_scores(w, np.array([1.0, 3.0, -1.0]))
    assert sorted((r["path"], r["score"]) for r in rows) == [("a", 2.0), ("b", -1.0)]
