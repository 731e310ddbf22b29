"""Metrics without scikit-learn: ROC AUC and threshold-at-FPR."""

from __future__ import annotations

import numpy as np


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, np.float64).ravel()
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        raise ValueError("AUC needs both positive and negative examples")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_scores = s[order]
    # Average ranks over ties so equal scores count as half right.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def threshold_at_fpr(real_scores: np.ndarray, max_fpr: float) -> float:
    """Smallest threshold with at most ``max_fpr`` of real scores strictly above it."""
    s = np.sort(np.asarray(real_scores, np.float64).ravel())
    if len(s) == 0:
        raise ValueError("no real scores to calibrate on")
    allowed = int(np.floor(max_fpr * len(s)))  # how many reals may score above
    return float(s[len(s) - 1 - allowed])
