"""Face detection: the MTCNN cascade (Zhang et al., 2016) in numpy + onnxruntime.

Three small networks run in turn. P-Net slides over an image pyramid and proposes boxes,
R-Net re-scores and refines 24x24 crops of the survivors, and O-Net gives the final boxes,
scores and five landmarks on 48x48 crops. Non-maximum suppression between the stages keeps
the number of candidates small. The ONNX files are exported once from the MIT-licensed
facenet-pytorch weights by ``train/export_face_detector.py``; screening needs no torch.

Large frames are downscaled (long side ``max_side``) for P-Net's pyramid scan, so the cost per
frame is bounded whatever the video resolution; R-Net and O-Net then crop the candidates from
the full-resolution frame. Sessions are safe to call from several threads at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..inference import DEFAULT_PROVIDERS, open_session

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
DETECTOR_FILES = {stage: f"face_detector_{stage}.onnx" for stage in ("pnet", "rnet", "onet")}
DETECTOR_VERSION = "mtcnn-facenet-pytorch-2.6.0"

_PNET_CELL = 12  # P-Net's receptive field in pixels at its input scale
_PNET_STRIDE = 2
# P-Net proposals kept per frame: a textured or noisy frame can light up thousands of
# windows, and every survivor costs an R-Net crop.
_MAX_PROPOSALS = 2000


@dataclass(frozen=True)
class Face:
    """One detected face in image coordinates."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float  # O-Net face probability
    landmarks: tuple[tuple[float, float], ...]  # five (x, y): eyes, nose, mouth corners

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def size(self) -> float:
        """The face's size in pixels: the shorter side of its box."""
        return min(self.width, self.height)

    def landmarks_array(self) -> np.ndarray:
        return np.asarray(self.landmarks, dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [round(v, 1) for v in self.box],
            "detector_score": round(self.score, 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
        }


class FaceDetector:
    """Find faces and their five landmarks in an RGB frame.

    ``min_face_px`` is the smallest face (in original image pixels) searched for; smaller
    values add pyramid levels and cost time. ``thresholds`` are the P/R/O-Net face
    probabilities a candidate needs to pass each stage (P-Net at 0.7 rather than the paper's
    0.6 halves R-Net's work on cluttered frames at no measured loss of recall; see
    docs/faces.md). ``threads`` sets onnxruntime's intra-op threads (one by default: the nets
    are small, and parallelism pays better across frames and files).
    """

    def __init__(self, model_dir: Path | None = None, *, min_face_px: float = 40.0,
                 max_side: int = 480, thresholds: tuple[float, float, float] = (0.7, 0.7, 0.8),
                 scale_factor: float = 0.709, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        if min_face_px < 12:
            raise ValueError(f"min_face_px must be at least 12 (P-Net's window), got {min_face_px}")
        if not 0.3 <= scale_factor < 1.0:
            raise ValueError(f"scale_factor must be in [0.3, 1), got {scale_factor}")
        if max_side < 48:
            raise ValueError(f"max_side must be at least 48, got {max_side}")
        directory = model_dir or MODELS_DIR
        self.min_face_px = float(min_face_px)
        self.max_side = int(max_side)
        self.thresholds = thresholds
        self.scale_factor = scale_factor
        self._pnet = open_session(directory / DETECTOR_FILES["pnet"], threads, providers)
        self._rnet = open_session(directory / DETECTOR_FILES["rnet"], threads, providers)
        self._onet = open_session(directory / DETECTOR_FILES["onet"], threads, providers)

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an H x W x 3 uint8 RGB image, highest score first."""
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        # Only P-Net's pyramid scan needs the downscaled frame; R-Net and O-Net crop the
        # candidates from the full-resolution frame, so small faces keep their detail and
        # landmarks stay precise.
        shrink = min(1.0, self.max_side / max(height, width))
        small = image
        if shrink < 1.0:
            size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # A face must stay at least one P-Net window in the downscaled frame.
        min_face = max(float(_PNET_CELL), self.min_face_px * shrink)
        if min(small.shape[:2]) < min_face:
            return []
        boxes = self._propose(small, min_face)
        boxes[:, :4] /= shrink
        return self._finish(image, boxes)

    def _finish(self, image: np.ndarray, boxes: np.ndarray) -> list[Face]:
        """R-Net and O-Net on P-Net's proposals (full-resolution image coordinates)."""
        boxes = boxes.astype(np.float32)
        if len(boxes):
            boxes = self._refine(image, boxes)
        if not len(boxes):
            return []
        boxes, points = self._output(image, boxes)
        faces = [
            Face(box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                 score=float(box[4]), landmarks=tuple((float(x), float(y)) for x, y in pts))
            for box, pts in zip(boxes, points, strict=True)
        ]
        return sorted(faces, key=lambda f: -f.score)

    def detect_near(self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]],
                    reach: float = 1.0) -> list[Face]:
        """Faces near ``boxes`` (a previous frame's faces): the cheap path for video.

        Instead of scanning the whole pyramid, P-Net looks only at a window around each
        previous box (``reach`` box sides beyond it on every side) and only for faces from
        half to twice the previous size; R-Net and O-Net then run as usual. A face that
        appears elsewhere is not found here, so callers still run :meth:`detect` now and then.
        """
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
        height, width = image.shape[:2]
        found = []
        for x1, y1, x2, y2 in boxes:
            side = max(x2 - x1, y2 - y1)
            if not side > 0:
                continue
            left = max(0, math.floor(x1 - reach * side))
            top = max(0, math.floor(y1 - reach * side))
            right = min(width, math.ceil(x2 + reach * side))
            bottom = min(height, math.ceil(y2 + reach * side))
            if right - left < _PNET_CELL or bottom - top < _PNET_CELL:
                continue
            window = image[top:bottom, left:right]
            min_face = max(self.min_face_px, side / 2.0)
            # Shrink the window once so the smallest face sought fills P-Net's 12 px cell:
            # every pyramid level is then resized from a small image, not the full window.
            shrink = min(1.0, _PNET_CELL / min_face)
            if shrink < 1.0:
                window = cv2.resize(window, (max(1, round(window.shape[1] * shrink)),
                                             max(1, round(window.shape[0] * shrink))),
                                    interpolation=cv2.INTER_AREA)
            if min(window.shape[:2]) < _PNET_CELL:
                continue
            proposals = self._propose(window, min_face * shrink, max_face=2.0 * side * shrink)
            proposals[:, :4] /= shrink
            proposals[:, [0, 2]] += left
            proposals[:, [1, 3]] += top
            found.append(proposals)
        return self._finish(image, np.concatenate(found) if found else np.empty((0, 5)))

    # --- the three stages -------------------------------------------------------------------

    def _propose(self, image: np.ndarray, min_face: float,
                 max_face: float | None = None) -> np.ndarray:
        """P-Net over the pyramid: N x 5 candidate boxes (x1, y1, x2, y2, score)."""
        height, width = image.shape[:2]
        found = []
        for scale in pyramid_scales(min(height, width), min_face, self.scale_factor, max_face):
            h, w = math.ceil(height * scale), math.ceil(width * scale)
            level = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
            prob, reg = self._pnet.run(None, {"input": _normalise(level[None])})
            boxes = _pnet_boxes(prob[0], reg[0], scale, self.thresholds[0])
            if len(boxes):
                found.append(boxes[nms(boxes, 0.5)])
        if not found:
            return np.empty((0, 5), np.float32)
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes, 0.7)][:_MAX_PROPOSALS]
        boxes[:, :4] = _regress(boxes[:, :4], boxes[:, 5:9])
        return _square(boxes[:, :5])

    def _refine(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """R-Net on 24x24 crops: rescore, suppress, refine."""
        prob, reg = self._rnet.run(None, {"input": _normalise(_crops(image, boxes, 24))})
        keep = prob >= self.thresholds[1]
        boxes, reg = boxes[keep], reg[keep]
        boxes[:, 4] = prob[keep]
        order = nms(boxes, 0.7)
        boxes, reg = boxes[order], reg[order]
        boxes[:, :4] = _regress(boxes[:, :4], reg)
        return _square(boxes)

    def _output(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """O-Net on 48x48 crops: final boxes (N x 5) and landmarks (N x 5 x 2)."""
        prob, reg, marks = self._onet.run(None, {"input": _normalise(_crops(image, boxes, 48))})
        keep = prob >= self.thresholds[2]
        boxes, reg, marks = boxes[keep], reg[keep], marks[keep]
        boxes[:, 4] = prob[keep]
        # Landmarks are fractions of the box O-Net saw, before its own regression.
        w = (boxes[:, 2] - boxes[:, 0])[:, None]
        h = (boxes[:, 3] - boxes[:, 1])[:, None]
        points = np.stack([boxes[:, :1] + marks[:, :5] * w, boxes[:, 1:2] + marks[:, 5:] * h],
                          axis=2)
        boxes[:, :4] = _regress(boxes[:, :4], reg)
        order = nms(boxes, 0.7, mode="min")  # "min": drop a small box nested in a larger one
        return boxes[order], points[order]


# --- pure helpers (no models), tested on their own ---------------------------------------------


def pyramid_scales(short_side: float, min_face: float, factor: float,
                   max_face: float | None = None) -> list[float]:
    """Image scales at which P-Net's 12 px window covers faces from ``min_face`` upwards
    (up to ``max_face``, when given, and the image's short side)."""
    scale = _PNET_CELL / min_face
    smallest = _PNET_CELL / max_face * factor if max_face else 0.0  # one level past max_face
    scales = []
    while short_side * scale >= _PNET_CELL and scale >= smallest:
        scales.append(scale)
        scale *= factor
    return scales


def nms(boxes: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression: indices of kept boxes, best score first.

    ``boxes`` is N x >=5 (x1, y1, x2, y2, score). Overlap is intersection over union, or over
    the smaller box when ``mode == "min"``.
    """
    if not len(boxes):
        return np.empty(0, dtype=np.int64)
    x1, y1, x2, y2, score = (boxes[:, i] for i in range(5))
    area = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    order = np.argsort(-score, kind="stable")
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(best)
        iw = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]))
        ih = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]))
        inter = iw * ih
        smaller = np.minimum(area[best], area[rest])
        denominator = smaller if mode == "min" else area[best] + area[rest] - inter
        overlap = inter / np.maximum(denominator, 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)


def _normalise(batch: np.ndarray) -> np.ndarray:
    """N x H x W x 3 uint8 -> N x 3 x H x W float32 in about [-1, 1], as MTCNN was trained."""
    return np.ascontiguousarray(((batch.astype(np.float32) - 127.5) / 128.0).transpose(0, 3, 1, 2))


def _pnet_boxes(prob: np.ndarray, reg: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """Windows whose face probability passes ``threshold``: N x 9 (box, score, regression)."""
    ys, xs = np.nonzero(prob >= threshold)
    if not len(ys):
        return np.empty((0, 9), np.float32)
    x1 = xs * _PNET_STRIDE / scale
    y1 = ys * _PNET_STRIDE / scale
    side = _PNET_CELL / scale
    return np.stack([x1, y1, x1 + side, y1 + side, prob[ys, xs], *reg[:, ys, xs]],
                    axis=1).astype(np.float32)


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply box regression: offsets are fractions of the box's width and height."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    regressed: np.ndarray = boxes + reg * np.stack([w, h, w, h], axis=1)
    return regressed


def _square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (the next net takes square crops)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) / 2
    out[:, 1] = boxes[:, 1] + (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def _crops(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut each box out of ``image`` (zero outside its edges) and resize to size x size."""
    height, width = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes[:, :4]).astype(np.int64)):
        if x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height and x2 > x1 and y2 > y1:
            patch = image[y1:y2, x1:x2]  # inside the frame: no padded copy needed
        else:
            patch = np.zeros((max(int(y2 - y1), 1), max(int(x2 - x1), 1), 3), np.uint8)
            sx1, sy1 = max(int(x1), 0), max(int(y1), 0)
            sx2, sy2 = min(int(x2), width), min(int(y2), height)
            if sx2 > sx1 and sy2 > sy1:
                patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[i] = _shrink_patch(patch, size)
    return out


def _shrink_patch(patch: np.ndarray, size: int) -> np.ndarray:
    """Resize a patch to size x size; area averaging, but cheap for large patches.

    Area interpolation costs in proportion to the source pixels, so a 300 px face cut down
    to R-Net's 24 px is first subsampled to four times the target (every kth pixel, no
    filtering) and then area-averaged: the same box filter, sampled more sparsely, at a
    tenth of the cost.
    """
    height, width = patch.shape[:2]
    step = min(height, width) // (4 * size)
    if step >= 2:
        patch = patch[::step, ::step]
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
