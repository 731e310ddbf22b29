"""Spectral baseline (Durall et al. 2020): azimuthally averaged log power spectrum + logistic regression.

Up-sampling leaves excess or missing power at high spatial frequencies; the 1-D radial
profile of a patch's spectrum exposes it without a CNN. Trained on the same augmented
patches as the NPR model, scored on the same patch grid, so the two are compared like for like
(``bench/bench_synthetic.py --spectral``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepscreen.synthetic.patches import grid_patches
from train import manifest

from .data import load_pool, sample_batch

BINS = 32


def radial_profile(patches: np.ndarray) -> np.ndarray:
    """N x P x P x 3 uint8 -> N x BINS azimuthal means of the log power spectrum (grey)."""
    grey = patches.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], np.float32)
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    size = grey.shape[1]
    window = np.outer(np.hanning(size), np.hanning(size)).astype(np.float32)
    power = np.log(np.abs(np.fft.fftshift(np.fft.fft2(grey * window), axes=(1, 2))) ** 2 + 1e-3)
    yy, xx = np.indices((size, size)) - size // 2
    radius = np.sqrt(xx**2 + yy**2) / (size / 2)
    bins = np.minimum((radius * BINS).astype(int), BINS - 1)
    flat = power.reshape(len(power), -1)
    counts = np.bincount(bins.ravel(), minlength=BINS)
    profile = np.stack([np.bincount(bins.ravel(), weights=row, minlength=BINS) for row in flat]) / counts
    # Relative to the patch's low-frequency level, so exposure and contrast drop out.
    return profile - profile[:, :4].mean(axis=1, keepdims=True)


@dataclass
class SpectralClassifier:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def patch_log_odds(self, patches: np.ndarray) -> np.ndarray:
        features = (radial_profile(patches) - self.mean) / self.scale
        return features @ self.weights + self.bias

    def score(self, rgb: np.ndarray, patch: int = 64, grid: int = 4) -> float:
        odds = self.patch_log_odds(grid_patches(rgb, patch, grid).patches)
        return float(1.0 / (1.0 + np.exp(-np.clip(odds.mean(), -60, 60))))


def train_spectral(
    data_root: Path = manifest.DEFAULT_DATA_ROOT, patches: int = 12000, seed: int = 1, upscale_p: float = 0.25
) -> SpectralClassifier:
    """Fit on ``patches`` augmented patches (the model card's numbers used ``upscale_p`` 0.25)."""
    from sklearn.linear_model import LogisticRegression

    pool = load_pool(data_root, "train")
    rng = np.random.default_rng(seed)
    batches = [sample_batch(pool, rng, 200, upscale_p) for _ in range(patches // 200)]
    x = radial_profile(np.concatenate([b[0] for b in batches]))
    y = (np.concatenate([b[1] for b in batches]) != 0).astype(int)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    fit = LogisticRegression(max_iter=2000, C=1.0).fit((x - mean) / scale, y)
    return SpectralClassifier(mean, scale, fit.coef_[0], float(fit.intercept_[0]))
