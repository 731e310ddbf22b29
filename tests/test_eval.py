"""Evaluation metrics against hand-computed values, labelled-data loading, `deepscreen eval`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from deepscreen.cli import app, load_commands
from deepscreen.errors import DeepscreenError
from deepscreen.evaluate import (
    FileResult,
    auc_confidence_interval,
    average_precision,
    compute_metrics,
    load_labelled_csv,
    load_labelled_dir,
    roc_auc,
    summarise,
    tpr_at_fpr,
)
from test_faces_signal import write_tiny_model


def test_auc_hand_values() -> None:
    # Fakes 0.35, 0.8 vs reals 0.1, 0.4: pairs won 1 + 0 + 1 + 1 of 4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # A tie between a fake and a real counts half: (0.5 + 1 + 1 + 1) / 4.
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert roc_auc([0, 0, 1, 1], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)
    assert roc_auc([1, 1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)
    assert roc_auc([1, 0], [0.1, 0.9]) == pytest.approx(0.0)


def test_average_precision_hand_values() -> None:
    # Ranked: 0.8 fake (P=1, R=.5), 0.4 real, 0.35 fake (P=2/3, R=1): .5*1 + .5*2/3.
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(5 / 6)
    # A tied group counts once, at its pooled precision: 0.9 fake (P=1, R=1/2), then
    # {0.5 fake, 0.5 real} (P=2/3, R=1): .5*1 + .5*2/3.
    assert average_precision([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(5 / 6)
    assert average_precision([1, 0, 0], [0.1, 0.5, 0.6]) == pytest.approx(1 / 3)


def test_tpr_at_one_percent_fpr_hand_values() -> None:
    reals = [i / 200 for i in range(200)]  # 0.0 .. 0.995
    fakes = [0.999, 0.9955, 0.99, 0.5]
    labels = [0] * 200 + [1] * 4
    tpr, threshold = tpr_at_fpr(labels, reals + fakes, 0.01)
    # 1% of 200 reals = 2 may pass: flagging >= 0.99 passes reals 0.99 and 0.995 and the
    # fakes 0.999, 0.9955, 0.99; one step lower (0.985) would pass a third real.
    assert threshold == pytest.approx(0.99)
    assert tpr == pytest.approx(3 / 4)


def test_tpr_when_no_threshold_keeps_fpr_low_enough() -> None:
    tpr, threshold = tpr_at_fpr([0, 1], [0.9, 0.5], 0.01)
    assert tpr == 0.0 and threshold > 0.9


def test_metrics_reject_bad_input_and_note_missing_classes() -> None:
    with pytest.raises(ValueError, match="labels"):
        roc_auc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="scores"):
        roc_auc([0, 1], [0.1])
    m = compute_metrics([1, 1], [0.2, 0.3])
    assert m.auc is None and "no real" in m.note
    m = compute_metrics([0, 0, 1], [0.1, 0.2, 0.9])
    assert m.auc == 1.0 and m.tpr_at_1pct_fpr == 1.0 and m.threshold_at_1pct_fpr == 0.9


def test_auc_interval_is_degenerate_for_perfect_separation_and_wide_for_few_examples() -> None:
    # Every resample of a perfectly separated set is perfectly separated.
    assert auc_confidence_interval([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]) == (1.0, 1.0)
    # 3 reals vs 4 fakes with one fake below every real: AUC 0.75, and few examples give a
    # wide interval that still contains it.
    labels, scores = [0, 0, 0, 1, 1, 1, 1], [0.13, 0.11, 0.10, 0.95, 0.48, 0.46, 0.02]
    low, high = auc_confidence_interval(labels, scores)
    assert low <= roc_auc(labels, scores) <= high and low < 0.5 and high == 1.0
    assert auc_confidence_interval(labels, scores) == (low, high)  # seeded: reproducible
    assert auc_confidence_interval([0, 1, 1], [0.1, 0.5, 0.9]) is None  # one real: no spread


def test_weighted_bootstrap_equals_resampling_copies() -> None:
    # The interval weights examples by draw counts instead of copying them; check that
    # against plain copies made from the same draws, with ties and uneven clusters.
    from deepscreen.evaluate import BOOTSTRAP_SEED

    rng = np.random.default_rng(7)
    labels = np.repeat([0, 1, 0, 1, 1, 0], [5, 3, 8, 6, 2, 4])
    scores = np.round(rng.random(len(labels)) + 0.2 * labels, 1)  # many ties
    clusters = np.repeat(np.arange(6), [5, 3, 8, 6, 2, 4])
    draws = np.random.default_rng(BOOTSTRAP_SEED)
    expected = []
    for _ in range(50):
        index = []
        for cls in (0, 1):
            members = np.flatnonzero(labels == cls)
            ids = np.unique(clusters[members])
            for pick in draws.integers(0, len(ids), len(ids)):
                index.extend(members[clusters[members] == ids[pick]])
        expected.append(roc_auc(labels[index], scores[index]))
    low, high = auc_confidence_interval(labels, scores, clusters, resamples=50)
    assert low == pytest.approx(np.percentile(expected, 2.5))
    assert high == pytest.approx(np.percentile(expected, 97.5))


def test_auc_interval_resamples_whole_clusters() -> None:
    # Two videos per class, 50 frames each; frames of one video score alike. Resampled as
    # independent frames, the interval would be narrow; by video it must be as wide as
    # 2 + 2 videos allow (a resample can hold one real video twice, and so on).
    rng = np.random.default_rng(1)
    video_scores = [0.2, 0.6, 0.4, 0.9]  # reals 0.2, 0.6; fakes 0.4, 0.9
    labels = np.repeat([0, 0, 1, 1], 50)
    scores = np.repeat(video_scores, 50) + rng.normal(0, 0.01, 200)
    clusters = np.repeat([0, 1, 2, 3], 50)
    by_frame = auc_confidence_interval(labels, scores)
    by_video = auc_confidence_interval(labels, scores, clusters)
    assert by_frame is not None and by_video is not None
    assert by_video[1] - by_video[0] > 2 * (by_frame[1] - by_frame[0])
    assert by_video[0] == pytest.approx(0.0, abs=0.01) and by_video[1] == pytest.approx(1.0)


def test_summarise_groups_items_frames_and_abstentions() -> None:
    results = [
        FileResult("a.jpg", 0, "image", 0.2),
        FileResult("b.jpg", 1, "image", 0.7),
        FileResult("c.jpg", 1, "image", None, abstained="no face found"),
        FileResult("d.mp4", 0, "video", 0.3, frame_scores=[(0, 0.3), (1, 0.1)]),
        FileResult("e.mp4", 1, "video", 0.9, frame_scores=[(0, 0.9), (1, 0.2)]),
        FileResult("f.mp4", 1, error="cannot decode"),
    ]
    metrics = summarise(results)
    assert metrics["image"].n == 2 and metrics["image"].abstained == 1
    assert metrics["image"].auc == 1.0
    assert metrics["video"].auc == 1.0
    frames = metrics["video-frames"]
    assert (frames.n_real, frames.n_fake) == (2, 2)
    assert frames.auc == pytest.approx(0.75)  # fake 0.2 beats real 0.1 but not 0.3
    assert frames.auc_ci95 is None  # one real and one fake video: frames cannot vary apart
    assert metrics["image"].auc_ci95 is None  # a single real image


def test_labelled_dir_and_csv(tmp_path: Path) -> None:
    for name in ("real/a.jpg", "real/sub/b.jpg", "fake/c.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = load_labelled_dir(tmp_path)
    assert [(f.path.relative_to(tmp_path).as_posix(), f.label) for f in found] == [
        ("real/a.jpg", 0), ("real/sub/b.jpg", 0), ("fake/c.jpg", 1)]
    table = tmp_path / "labels.csv"
    table.write_text("path,label\nreal/a.jpg,real\n/abs/x.mp4,1\nfake/c.jpg,FAKE\n")
    rows = load_labelled_csv(table)
    assert [(str(r.path), r.label) for r in rows] == [
        (str(tmp_path / "real/a.jpg"), 0), ("/abs/x.mp4", 1), (str(tmp_path / "fake/c.jpg"), 1)]
    table.write_text("path,label\na.jpg,maybe\n")
    with pytest.raises(DeepscreenError, match="maybe"):
        load_labelled_csv(table)
    with pytest.raises(DeepscreenError, match="real/ and fake/"):
        load_labelled_dir(tmp_path / "real")


@pytest.mark.shared_data
def test_eval_command_on_a_labelled_folder(tmp_path: Path, shared_data: Path) -> None:
    """Real = the photos as they are, fake = brightened copies: the tiny model separates them."""
    models = write_tiny_model(tmp_path / "models")
    photos = sorted((shared_data / "faces-aaf" / "images").glob("*.jpg"))[:3]
    for photo in photos:
        rgb = np.asarray(Image.open(photo).convert("RGB")).astype(np.int16)
        for label, shift in (("real", -40), ("fake", 60)):
            folder = tmp_path / "data" / label
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.clip(rgb + shift, 0, 255).astype(np.uint8)).save(folder / photo.name)
    (tmp_path / "data" / "real" / "noise.png").write_bytes(b"not an image")
    config = tmp_path / "config.yaml"
    config.write_text(f"signal_options:\n  faces:\n    model_dir: {models}\n")
    out = tmp_path / "results.jsonl"
    load_commands()
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "data"), "--json", "--out", str(out),
                                      "-c", str(config), "-j", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    image = summary["metrics"]["image"]
    assert (image["n_real"], image["n_fake"], image["abstained"]) == (3, 3, 0)
    assert image["auc"] == 1.0 and image["tpr_at_1pct_fpr"] == 1.0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 7 and {line["label"] for line in lines} == {"real", "fake"}
    assert any(line["error"] for line in lines)  # the broken file is reported, not scored
    table = CliRunner().invoke(app, ["eval", str(tmp_path / "data"), "-c", str(config), "-j", "1"],
                               env={"COLUMNS": "80"})
    assert table.exit_code == 0, table.output
    assert "TPR@1%FPR" in table.stdout and "thr@1%FPR" in table.stdout and "image" in table.stdout
