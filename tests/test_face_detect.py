"""Face detection (MTCNN cascade) and tracking across frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepscreen.faces.align import landmarks5_from_49
from deepscreen.faces.detect import FaceDetector, nms, pyramid_scales
from deepscreen.faces.track import iou_matrix, link_tracks

AAF_SAMPLE = ("00000A02.jpg", "02499A26.jpg", "04999A38.jpg", "08999A27.jpg", "12999A68.jpg")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _aaf_landmarks(shared: Path, name: str) -> np.ndarray:
    with (shared / "faces-aaf" / "landmarks49.csv").open() as f:
        for line in f:
            if line.startswith(name + ","):
                return landmarks5_from_49(np.array(line.split(",")[1:], float).reshape(49, 2))
    raise LookupError(name)


@pytest.mark.shared_data
def test_finds_the_face_and_its_landmarks_in_aaf_photos(detector: FaceDetector,
                                                        shared_data: Path) -> None:
    images = shared_data / "faces-aaf" / "images"
    names = [n for n in AAF_SAMPLE if (images / n).exists()] or sorted(
        p.name for p in images.glob("*.jpg"))[:5]
    for name in names:
        rgb = np.asarray(Image.open(images / name).convert("RGB"))
        faces = detector.detect(rgb)
        assert faces, f"no face found in {name}"
        face = faces[0]
        truth = _aaf_landmarks(shared_data, name)
        eye_distance = np.linalg.norm(truth[0] - truth[1])
        error = np.linalg.norm(face.landmarks_array() - truth, axis=1).mean() / eye_distance
        assert error < 0.15, f"{name}: landmarks off by {error:.2f} eye distances"
        x1, y1, x2, y2 = face.box
        assert x1 < truth[:, 0].min() and truth[:, 0].max() < x2
        assert y1 < truth[:, 1].min() and truth[:, 1].max() < y2


@pytest.mark.shared_data
def test_large_frames_are_downscaled_and_boxes_mapped_back(detector: FaceDetector,
                                                           shared_data: Path) -> None:
    name = "00000A02.jpg"
    photo = Image.open(shared_data / "faces-aaf" / "images" / name).convert("RGB")
    canvas = Image.new("RGB", (1920, 1080), (90, 110, 130))
    canvas.paste(photo.resize((photo.width * 2, photo.height * 2)), (900, 200))
    faces = detector.detect(np.asarray(canvas))
    assert faces
    truth = _aaf_landmarks(shared_data, name) * 2 + np.array([900, 200])
    error = np.linalg.norm(faces[0].landmarks_array() - truth, axis=1).mean()
    assert error < 0.15 * np.linalg.norm(truth[0] - truth[1])


@pytest.mark.shared_data
def test_near_search_finds_a_moved_face_and_only_near_its_last_box(detector: FaceDetector,
                                                                   shared_data: Path) -> None:
    name = "00000A02.jpg"
    photo = Image.open(shared_data / "faces-aaf" / "images" / name).convert("RGB")
    canvas = Image.new("RGB", (1280, 720), (90, 110, 130))
    canvas.paste(photo, (700, 150))
    frame = np.asarray(canvas)
    full = detector.detect(frame)
    assert len(full) == 1
    x1, y1, x2, y2 = full[0].box
    shift = 0.4 * (x2 - x1)  # where the face was a second earlier: 40% of its width left
    near = detector.detect_near(frame, [(x1 - shift, y1, x2 - shift, y2)])
    assert len(near) == 1
    assert iou_matrix([near[0].box], [full[0].box])[0, 0] > 0.75
    # Landmarks as good as a full search's: the other test's tolerance against the truth.
    truth = _aaf_landmarks(shared_data, name) + np.array([700, 150])
    error = np.linalg.norm(near[0].landmarks_array() - truth, axis=1).mean()
    assert error < 0.15 * np.linalg.norm(truth[0] - truth[1])
    # Far from the last box there is nothing to find, and nothing else is searched.
    assert detector.detect_near(frame, [(50, 400, 50 + x2 - x1, 400 + y2 - y1)]) == []
    assert detector.detect_near(frame, []) == []


def test_finds_nothing_in_noise_or_flat_images(detector: FaceDetector) -> None:
    rng = np.random.default_rng(0)
    assert detector.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []
    assert detector.detect(np.full((360, 640, 3), 128, np.uint8)) == []
    assert detector.detect(np.zeros((8, 8, 3), np.uint8)) == []  # smaller than any face


def test_rejects_images_that_are_not_rgb_uint8(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        detector.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        detector.detect(np.zeros((64, 64, 3), np.float32))


def test_missing_detector_files_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"face_detector_pnet\.onnx"):
        FaceDetector(model_dir=tmp_path)


def test_pyramid_covers_faces_from_the_minimum_size_up() -> None:
    scales = pyramid_scales(short_side=300, min_face=40, factor=0.709)
    assert scales[0] == pytest.approx(12 / 40)
    assert all(300 * s >= 12 for s in scales)
    assert 300 * scales[-1] * 0.709 < 12  # one more level would be smaller than the window
    # With a largest face, the pyramid stops one level past it.
    bounded = pyramid_scales(short_side=300, min_face=40, factor=0.709, max_face=80)
    assert bounded == scales[: len(bounded)] and len(bounded) < len(scales)
    assert 12 / bounded[-1] >= 80 > 12 / bounded[-2]


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10, 0.9], [1, 1, 11, 11, 0.8], [50, 50, 60, 60, 0.7],
                      [2, 2, 6, 6, 0.95]], dtype=np.float32)
    assert nms(boxes, 0.5).tolist() == [3, 0, 2]  # the small box barely overlaps by union
    assert nms(boxes, 0.5, mode="min").tolist() == [3, 2]  # ...but is nested by "min"


def test_iou_matrix_hand_values() -> None:
    iou = iou_matrix([(0, 0, 10, 10)], [(5, 0, 15, 10), (20, 20, 30, 30), (0, 0, 10, 10)])
    assert iou == pytest.approx(np.array([[50 / 150, 0.0, 1.0]]))


def test_tracking_links_a_moving_face_and_splits_two_people() -> None:
    frames = []
    for t in range(6):
        walker = (100 + 15 * t, 100, 200 + 15 * t, 200)  # moves right, keeps overlapping
        sitter = (600, 120, 700, 220)
        frames.append([sitter, walker] if t % 2 else [walker, sitter])
    tracks = link_tracks(frames)
    assert len(tracks) == 2
    for track in tracks:
        assert [frame for frame, _ in track.members] == list(range(6))
        xs = [frames[f][j][0] for f, j in track.members]
        assert len(set(xs)) in (1, 6)  # either the sitter throughout or the walker throughout


def test_tracking_bridges_short_gaps_and_starts_new_tracks_after_long_ones() -> None:
    face = (100, 100, 200, 200)
    assert len(link_tracks([[face], [], [face]], max_gap=2)) == 1
    assert len(link_tracks([[face], [], [], [], [face]], max_gap=2)) == 2
    jump = (500, 100, 600, 200)  # no overlap: a different person
    assert len(link_tracks([[face], [jump]])) == 2
