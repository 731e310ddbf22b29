"""Small pictures for human review: a frame with face boxes, a face crop with its heatmap.

They travel inside a report as JPEG data URIs, so an HTML report stays one self-contained
file. Only produced when asked for (``thumbnails`` option): they make JSON reports larger.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import cv2
import numpy as np

_JPEG_QUALITY = 80


def jpeg_data_uri(rgb: np.ndarray, quality: int = _JPEG_QUALITY) -> str:
    """Encode an RGB image as a ``data:image/jpeg;base64,...`` URI."""
    ok, buffer = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                              [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def frame_with_boxes(rgb: np.ndarray, boxes: Sequence[Sequence[float]],
                     scores: Sequence[float | None], threshold: float | None,
                     max_side: int = 480) -> np.ndarray:
    """A downscaled copy of the frame with each face box drawn, red when over ``threshold``."""
    height, width = rgb.shape[:2]
    shrink = min(1.0, max_side / max(height, width))
    image = cv2.resize(rgb, (max(1, round(width * shrink)), max(1, round(height * shrink))),
                       interpolation=cv2.INTER_AREA) if shrink < 1 else rgb.copy()
    for box, score in zip(boxes, scores, strict=True):
        x1, y1, x2, y2 = (round(v * shrink) for v in box[:4])
        flagged = score is not None and threshold is not None and score >= threshold
        colour = (230, 40, 40) if flagged else (40, 200, 80) if score is not None else (160,) * 3
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        if score is not None:
            cv2.putText(image, f"{score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45, colour, 1, cv2.LINE_AA)
    return image


def heatmap_overlay(crop: np.ndarray, heatmap: np.ndarray, size: int = 128,
                    strength: float = 0.45) -> np.ndarray:
    """The aligned crop with the blend-boundary heatmap (values in [0, 1]) laid over it."""
    base = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    heat = cv2.resize(np.clip(heatmap, 0, 1).astype(np.float32), (size, size),
                      interpolation=cv2.INTER_LINEAR)
    coloured = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    coloured = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)
    alpha = (strength * heat)[..., None]  # cool areas stay see-through
    blended: np.ndarray = (base * (1 - alpha) + coloured * alpha).astype(np.uint8)
    return blended


def heatmap_grid(heatmap: np.ndarray, cells: int) -> list[list[float]]:
    """The heatmap averaged down to ``cells`` x ``cells``, rounded for a compact report."""
    grid = cv2.resize(np.asarray(heatmap, np.float32), (cells, cells),
                      interpolation=cv2.INTER_AREA)
    return [[round(float(v), 2) for v in row] for row in grid]
