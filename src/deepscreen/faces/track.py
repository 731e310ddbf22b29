"""Link face detections across sampled video frames into one track per person.

Frames are sampled about a second apart, so a face moves but usually still overlaps its
previous box. Linking is greedy on intersection over union: the most overlapping pair of
(open track, new detection) is joined first. A track survives ``max_gap`` frames without a
detection (a turned head, a missed detection) before it is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

Box = Sequence[float]  # x1, y1, x2, y2


@dataclass
class Track:
    """One person's face over time: ``members`` are (frame position, detection index)."""

    id: int
    members: list[tuple[int, int]] = field(default_factory=list)
    last_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def last_frame(self) -> int:
        return self.members[-1][0]


def iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b`` (len(a) x len(b))."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    boxes_a = np.asarray(a, dtype=np.float64)[:, None, :]
    boxes_b = np.asarray(b, dtype=np.float64)[None, :, :]
    iw = np.clip(np.minimum(boxes_a[..., 2], boxes_b[..., 2])
                 - np.maximum(boxes_a[..., 0], boxes_b[..., 0]), 0, None)
    ih = np.clip(np.minimum(boxes_a[..., 3], boxes_b[..., 3])
                 - np.maximum(boxes_a[..., 1], boxes_b[..., 1]), 0, None)
    inter = iw * ih

    def area(x: np.ndarray) -> np.ndarray:
        extent: np.ndarray = (np.clip(x[..., 2] - x[..., 0], 0, None)
                              * np.clip(x[..., 3] - x[..., 1], 0, None))
        return extent

    union = area(boxes_a) + area(boxes_b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def link_tracks(frames: Sequence[Sequence[Box]], min_iou: float = 0.2,
                max_gap: int = 2) -> list[Track]:
    """Group the boxes of each frame (in time order) into tracks.

    ``frames[t]`` lists the boxes detected in sampled frame ``t``. Returns tracks in order of
    first appearance; every detection belongs to exactly one track.
    """
    if not 0.0 < min_iou <= 1.0:
        raise ValueError(f"min_iou must be in (0, 1], got {min_iou}")
    tracks: list[Track] = []
    for t, boxes in enumerate(frames):
        open_tracks = [tr for tr in tracks if t - tr.last_frame <= max_gap + 1]
        overlap = iou_matrix([tr.last_box for tr in open_tracks], boxes)
        taken_tracks: set[int] = set()
        taken_boxes: set[int] = set()
        pairs = sorted(((overlap[i, j], i, j) for i in range(overlap.shape[0])
                        for j in range(overlap.shape[1]) if overlap[i, j] >= min_iou),
                       reverse=True)
        for _, i, j in pairs:
            if i in taken_tracks or j in taken_boxes:
                continue
            taken_tracks.add(i)
            taken_boxes.add(j)
            open_tracks[i].members.append((t, j))
            open_tracks[i].last_box = _box(boxes[j])
        for j, box in enumerate(boxes):
            if j not in taken_boxes:
                tracks.append(Track(id=len(tracks), members=[(t, j)], last_box=_box(box)))
    return tracks


def _box(box: Box) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return x1, y1, x2, y2
