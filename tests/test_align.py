"""Face alignment: level eyes, exact template mapping, AAF 49 -> 5 landmark reduction."""

from __future__ import annotations

import numpy as np
import pytest

from deepscreen.faces.align import (
    align_face,
    landmarks5_from_49,
    similarity_to_template,
    template_points,
    transform_points,
)


def _rotated_landmarks(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """Template points of a 100 px crop, rotated, scaled and shifted into a bigger image."""
    base = template_points(100, margin=0.0).astype(np.float64) - 50.0
    theta = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return (base @ rot.T * scale + np.array(shift)).astype(np.float32)


def test_template_eyes_are_level_and_margin_shrinks_face() -> None:
    tight, loose = template_points(160, 0.0), template_points(160, 0.3)
    assert tight[0, 1] == pytest.approx(tight[1, 1])
    tight_eye_gap = tight[1, 0] - tight[0, 0]
    loose_eye_gap = loose[1, 0] - loose[0, 0]
    assert loose_eye_gap == pytest.approx(tight_eye_gap / 1.6, rel=1e-5)


@pytest.mark.parametrize("angle", [-35.0, -10.0, 0.0, 20.0, 45.0])
def test_rotated_face_maps_onto_template_with_level_eyes(angle: float) -> None:
    landmarks = _rotated_landmarks(angle, scale=1.7, shift=(210.0, 180.0))
    image = np.zeros((400, 420, 3), np.uint8)
    aligned = align_face(image, landmarks, size=128, margin=0.25)
    mapped = transform_points(landmarks, aligned.matrix)
    np.testing.assert_allclose(mapped, template_points(128, 0.25), atol=1e-3)
    assert mapped[0, 1] == pytest.approx(mapped[1, 1], abs=1e-3)  # eyes level
    assert mapped[0, 0] < mapped[1, 0]  # left eye stays on the left (no mirror)
    back = transform_points(mapped, aligned.inverse)
    np.testing.assert_allclose(back, landmarks, atol=1e-3)


def test_crop_content_follows_the_landmarks() -> None:
    # A bright dot on the left eye of a rotated face must land on the template's left eye.
    landmarks = _rotated_landmarks(30.0, scale=2.0, shift=(150.0, 150.0))
    image = np.zeros((300, 300, 3), np.uint8)
    x, y = np.round(landmarks[0]).astype(int)
    image[y - 3 : y + 4, x - 3 : x + 4] = 255
    aligned = align_face(image, landmarks, size=96, margin=0.3)
    assert aligned.crop.shape == (96, 96, 3) and aligned.crop.dtype == np.uint8
    ys, xs = np.nonzero(aligned.crop[..., 0] > 128)
    expected = template_points(96, 0.3)[0]
    assert abs(xs.mean() - expected[0]) < 1.5 and abs(ys.mean() - expected[1]) < 1.5


def test_landmarks5_from_49_picks_eye_centres_nose_and_mouth_corners() -> None:
    pts = np.arange(98, dtype=np.float32).reshape(49, 2)
    five = landmarks5_from_49(pts)
    np.testing.assert_allclose(five[0], pts[19:25].mean(axis=0))
    np.testing.assert_allclose(five[1], pts[25:31].mean(axis=0))
    np.testing.assert_allclose(five[2:], pts[[13, 31, 37]])


def test_bad_input_gives_clear_errors() -> None:
    with pytest.raises(ValueError, match="49 x 2"):
        landmarks5_from_49(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        similarity_to_template(np.ones((5, 2)), 64)
    with pytest.raises(ValueError, match="finite"):
        similarity_to_template(np.full((5, 2), np.nan), 64)
    with pytest.raises(ValueError, match="uint8"):
        align_face(np.zeros((10, 10), np.uint8), _rotated_landmarks(0, 0.1, (5, 5)), 32)


@pytest.mark.shared_data
def test_aaf_faces_align_level(shared_data) -> None:
    import csv

    import cv2

    folder = shared_data / "faces-aaf"
    with open(folder / "landmarks49.csv", newline="") as handle:
        rows = [row for _, row in zip(range(6), csv.DictReader(handle), strict=False)]
    for row in rows:
        pts = np.array([float(row[f"{a}{i}"]) for i in range(49) for a in "xy"]).reshape(49, 2)
        bgr = cv2.imread(str(folder / "images" / row["image"]))
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        aligned = align_face(rgb, landmarks5_from_49(pts), size=160)
        eyes = transform_points(landmarks5_from_49(pts)[:2], aligned.matrix)
        assert abs(eyes[0, 1] - eyes[1, 1]) < 3.0
