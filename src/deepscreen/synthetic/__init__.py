"""Pixel-level detection of generated images: patch sampling, the NPR patch model, scoring."""

from .detector import SyntheticDetector, SyntheticResult
from .model import ModelNotInstalled, SyntheticModel
from .patches import PatchGrid, grid_patches, npr_residual

__all__ = [
    "ModelNotInstalled",
    "PatchGrid",
    "SyntheticDetector",
    "SyntheticModel",
    "SyntheticResult",
    "grid_patches",
    "npr_residual",
]
