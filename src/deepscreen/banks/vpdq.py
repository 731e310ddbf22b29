"""The vPDQ matching rule between two videos' frame hashes (pure, brute force over two lists).

As in Meta's vPDQ: frames below quality 50 are ignored, identical frame hashes count once,
and a frame matches when some frame of the other video is within the distance threshold.
The *query match percent* is the share of the query's unique frames that match the other
video; the *compared match percent* is the share of the other video's unique frames that
match the query. A video matches when both reach their thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .hashing import PDQ_DEFAULT_THRESHOLD, PDQ_MIN_QUALITY, FrameHash, hex_to_bytes

DEFAULT_QUERY_MATCH_PERCENT = 80.0
# ThreatExchange's default: any share of the banked video will do once the query matches.
DEFAULT_COMPARED_MATCH_PERCENT = 0.0


@dataclass(frozen=True)
class VideoMatch:
    """How much of two videos matches frame by frame."""

    query_match_percent: float
    compared_match_percent: float
    matched_query_times: tuple[float, ...]
    matched_compared_times: tuple[float, ...]
    query_frames: int
    compared_frames: int

    def matches(self, query_percent: float = DEFAULT_QUERY_MATCH_PERCENT,
                compared_percent: float = DEFAULT_COMPARED_MATCH_PERCENT) -> bool:
        return (self.query_frames > 0 and self.compared_frames > 0
                and self.query_match_percent >= query_percent
                and self.compared_match_percent >= compared_percent
                and self.query_match_percent > 0)


def usable_frames(frames: Sequence[FrameHash], min_quality: int = PDQ_MIN_QUALITY
                  ) -> list[FrameHash]:
    """Frames of quality >= ``min_quality``, first occurrence of each distinct hash only."""
    seen: set[str] = set()
    out = []
    for frame in frames:
        if frame.quality >= min_quality and frame.hex not in seen:
            seen.add(frame.hex)
            out.append(frame)
    return out


def _packed(frames: Sequence[FrameHash]) -> np.ndarray:
    if not frames:
        return np.zeros((0, 4), dtype=np.uint64)
    return np.stack([hex_to_bytes(f.hex) for f in frames]).view(np.uint64)


def match_videos(query: Sequence[FrameHash], compared: Sequence[FrameHash],
                 distance: int = PDQ_DEFAULT_THRESHOLD,
                 min_quality: int = PDQ_MIN_QUALITY) -> VideoMatch:
    """Compare two videos' frame hashes under the vPDQ rule."""
    q, c = usable_frames(query, min_quality), usable_frames(compared, min_quality)
    if not q or not c:
        return VideoMatch(0.0, 0.0, (), (), len(q), len(c))
    # All pairwise distances at once: len(q) x len(c) x 4 words, popcount summed per pair.
    distances = np.bitwise_count(_packed(q)[:, None, :] ^ _packed(c)[None, :, :]).sum(axis=2)
    close = distances <= distance
    q_hit, c_hit = close.any(axis=1), close.any(axis=0)
    return VideoMatch(
        query_match_percent=100.0 * float(q_hit.sum()) / len(q),
        compared_match_percent=100.0 * float(c_hit.sum()) / len(c),
        matched_query_times=tuple(f.time_s for f, hit in zip(q, q_hit, strict=True) if hit),
        matched_compared_times=tuple(f.time_s for f, hit in zip(c, c_hit, strict=True) if hit),
        query_frames=len(q), compared_frames=len(c),
    )
