"""Which pixels the patch model looks at, and the residual it reads (numpy reference).

A 1-MP image is far too big for a CNN on one core within the time budget, and generation
traces are everywhere in a generated image, so the model reads a grid of small patches at
native resolution (no resizing: that would wipe the traces out). Each cell of a
``rows x cols`` grid gives the patch at its centre; patch origins are multiples of 8 so a
JPEG's 8x8 block grid falls the same way in every patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchGrid:
    patches: np.ndarray  # N x P x P x 3 uint8, row-major over the grid
    boxes: list[tuple[int, int, int, int]]  # (x, y, width, height) of each patch in the image
    rows: int
    cols: int


def grid_patches(rgb: np.ndarray, patch: int = 64, grid: int = 4) -> PatchGrid:
    """Up to ``grid x grid`` patches of ``patch`` px, one per cell; fewer cells for small images.

    Raises ``ValueError`` when the image is smaller than one patch.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB, got shape {rgb.shape}")
    h, w = rgb.shape[:2]
    if h < patch or w < patch:
        raise ValueError(f"image {w}x{h} is smaller than one {patch} px patch")
    rows, cols = min(grid, h // patch), min(grid, w // patch)
    patches, boxes = [], []
    for r in range(rows):
        for c in range(cols):
            y = _origin(h, rows, r, patch)
            x = _origin(w, cols, c, patch)
            patches.append(rgb[y : y + patch, x : x + patch])
            boxes.append((x, y, patch, patch))
    return PatchGrid(np.ascontiguousarray(np.stack(patches)), boxes, rows, cols)


def _origin(length: int, cells: int, index: int, patch: int) -> int:
    """The patch origin centred in cell ``index``, on a multiple of 8, inside the image."""
    centre = (index + 0.5) * length / cells
    origin = int(centre - patch / 2) // 8 * 8
    return max(0, min(origin, (length - patch) // 8 * 8))


def npr_residual(x: np.ndarray) -> np.ndarray:
    """Neighbouring-pixel residual ``x - up(down(x))`` (nearest, factor 2) of N x C x H x W floats.

    The same operation the ONNX graph runs first; kept here as the reference its export is
    checked against, and to show reviewers what the model reads.
    """
    if x.ndim != 4 or x.shape[2] % 2 or x.shape[3] % 2:
        raise ValueError(f"expected N x C x H x W with even H and W, got {x.shape}")
    low = x[:, :, ::2, ::2]
    residual: np.ndarray = x - np.repeat(np.repeat(low, 2, axis=2), 2, axis=3)
    return residual
