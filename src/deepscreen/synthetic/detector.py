"""Score an image (or video frames) for generation traces, with a patch map and attribution.

Per patch the model gives class logits: ``real`` then one or more generated classes
(``generated``; or families such as ``gan`` and ``diffusion``). A patch's evidence is its
fake-vs-real log-odds ``logsumexp(fake logits) - real logit``; the image's score is the
sigmoid of the mean log-odds over its patches (a mean, so one odd patch cannot decide
alone). Attribution needs a model with at least two families: it is the share of the fake
probability mass on each, stated only when the image is over the threshold and one family
holds at least ``attribution_min_share`` of it; otherwise "undetermined".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import SyntheticModel
from .patches import grid_patches


@dataclass(frozen=True)
class SyntheticResult:
    score: float
    log_odds: float
    patch_scores: np.ndarray  # rows x cols, each patch's own probability of being generated
    boxes: list[tuple[int, int, int, int]]
    family_shares: dict[str, float]  # e.g. {"gan": 0.2, "diffusion": 0.8}
    family: str  # a family name, or "undetermined"

    def patch_map(self) -> dict[str, Any]:
        rows, cols = self.patch_scores.shape
        return {
            "rows": rows,
            "cols": cols,
            "patch_px": self.boxes[0][2] if self.boxes else None,
            "scores": [[round(float(v), 4) for v in row] for row in self.patch_scores],
            "boxes": [list(b) for b in self.boxes],
        }


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -60.0, 60.0)))
    return out


def _log_odds(logits: np.ndarray) -> np.ndarray:
    fake = logits[:, 1:]
    top = fake.max(axis=1, keepdims=True)
    odds: np.ndarray = (top[:, 0] + np.log(np.exp(fake - top).sum(axis=1))) - logits[:, 0]
    return odds


def attribute(shares: dict[str, float], score: float, threshold: float, min_share: float) -> str:
    """The family holding at least ``min_share`` of the fake evidence of a flagged item."""
    if len(shares) < 2 or score < threshold:
        return "undetermined"
    best = max(shares, key=lambda k: shares[k])
    return best if shares[best] >= min_share else "undetermined"


class SyntheticDetector:
    def __init__(self, model: SyntheticModel, grid: int | None = None) -> None:
        self.model = model
        self.grid = grid or model.info.grid

    @property
    def min_side(self) -> int:
        return self.model.info.patch

    def score(self, rgb: np.ndarray) -> SyntheticResult:
        """Judge one H x W x 3 uint8 image; ``ValueError`` when it is smaller than a patch."""
        info = self.model.info
        grid = grid_patches(rgb, info.patch, self.grid)
        logits = self.model.logits(grid.patches)
        odds = _log_odds(logits)
        mean = float(odds.mean())
        score = float(_sigmoid(mean))
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        mass = probs[:, 1:].sum(axis=0)
        shares = {
            name: round(float(m / max(mass.sum(), 1e-12)), 4)
            for name, m in zip(info.classes[1:], mass, strict=True)
        }
        family = attribute(shares, score, info.threshold, info.attribution_min_share)
        return SyntheticResult(
            score, mean, _sigmoid(odds).reshape(grid.rows, grid.cols), grid.boxes, shares, family
        )
