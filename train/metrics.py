"""Metrics without scikit-learn: ROC AUC (the product's own, re-exported) and
threshold-at-FPR."""

from __future__ import annotations

import numpy as np

from deepscreen.evaluate import roc_auc

__all__ = ["roc_auc", "threshold_at_fpr"]


def threshold_at_fpr(real_scores: np.ndarray, max_fpr: float) -> float:
    """Smallest threshold with at most ``max_fpr`` of real scores strictly above it."""
    s = np.sort(np.asarray(real_scores, np.float64).ravel())
    if len(s) == 0:
        raise ValueError("no real scores to calibrate on")
    allowed = int(np.floor(max_fpr * len(s)))  # how many reals may score above
    return float(s[len(s) - 1 - allowed])
