"""Align a face to a canonical crop from five landmarks (pure numpy + OpenCV, no torch).

Both the trainer (which builds self-blended faces) and the runtime (which scores detected
faces) go through :func:`align_face`, so the model always sees faces framed the same way.

Landmark order everywhere (image coordinates, x then y), as MTCNN returns them:
left eye centre (the eye on the image's left), right eye centre, nose tip,
left mouth corner, right mouth corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Canonical five points of a tightly framed face in a unit square (the widely used 112x112
# ArcFace template divided by 112). The eyes share one height, so aligned faces are level.
_TIGHT_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.6963],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.3655],
    ],
    dtype=np.float64,
) / 112.0

# Extra context on each side of the tight face, as a fraction of its width. SBI's blending
# boundary lies at the face edge, so the crop must include background beyond it.
DEFAULT_MARGIN = 0.3

# Indices into the All-Age-Faces 49-point scheme (see landmarks5_from_49).
_AAF_LEFT_EYE = slice(19, 25)
_AAF_RIGHT_EYE = slice(25, 31)
_AAF_NOSE_TIP = 13
_AAF_MOUTH_LEFT = 31
_AAF_MOUTH_RIGHT = 37


@dataclass(frozen=True)
class AlignedFace:
    """An aligned face crop with the transforms between image and crop coordinates."""

    crop: np.ndarray  # size x size x 3, uint8, same channel order as the input
    matrix: np.ndarray  # 2x3 affine: image (x, y) -> crop (x, y)
    inverse: np.ndarray  # 2x3 affine: crop (x, y) -> image (x, y)

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])


def template_points(size: int, margin: float = DEFAULT_MARGIN) -> np.ndarray:
    """The five canonical landmark positions in a ``size`` x ``size`` crop with ``margin``."""
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    # Shrink the tight template towards the crop centre so `margin` of context shows per side.
    scaled = 0.5 + (_TIGHT_TEMPLATE - 0.5) / (1.0 + 2.0 * margin)
    return (scaled * size).astype(np.float32)


def landmarks5_from_49(points49: np.ndarray) -> np.ndarray:
    """Reduce All-Age-Faces 49-point landmarks (49 x 2) to the five-point order above.

    Eye centre = mean of the six eye-contour points; nose tip = point 13; mouth corners =
    points 31 (left) and 37 (right).
    """
    pts = np.asarray(points49, dtype=np.float32)
    if pts.shape != (49, 2):
        raise ValueError(f"expected 49 x 2 landmarks, got shape {pts.shape}")
    return np.stack(
        [
            pts[_AAF_LEFT_EYE].mean(axis=0),
            pts[_AAF_RIGHT_EYE].mean(axis=0),
            pts[_AAF_NOSE_TIP],
            pts[_AAF_MOUTH_LEFT],
            pts[_AAF_MOUTH_RIGHT],
        ]
    ).astype(np.float32)


def similarity_to_template(
    landmarks5: np.ndarray, size: int, margin: float = DEFAULT_MARGIN
) -> np.ndarray:
    """The 2x3 similarity transform (rotation, uniform scale, shift) from image to crop.

    Least-squares fit (Umeyama) of the five landmarks onto the template; no RANSAC, since
    five points from a landmark model are all inliers and RANSAC would drop some at random.
    """
    src = np.asarray(landmarks5, dtype=np.float64)
    if src.shape != (5, 2) or not np.all(np.isfinite(src)):
        raise ValueError(f"expected 5 finite x, y landmarks, got shape {src.shape}")
    dst = template_points(size, margin).astype(np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c**2).sum() / len(src)
    if src_var < 1e-6:
        raise ValueError("landmarks are degenerate (all at one point)")
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1] = -1.0  # forbid reflections: a mirrored face is not a similarity match
    rotation = u @ np.diag(sign) @ vt
    scale = (s * sign).sum() / src_var
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]]).astype(np.float64)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine ``matrix`` to N x 2 points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    mat = np.asarray(matrix, dtype=np.float64)
    return (pts @ mat[:, :2].T + mat[:, 2]).astype(np.float32)


def align_face(
    rgb: np.ndarray,
    landmarks5: np.ndarray,
    size: int,
    margin: float = DEFAULT_MARGIN,
    border: int = cv2.BORDER_REFLECT_101,
) -> AlignedFace:
    """Warp the face given by ``landmarks5`` into a level ``size`` x ``size`` crop.

    Pixels beyond the image edge are mirrored (``border``) rather than black, so a face near
    the frame edge does not gain an artificial straight boundary the detector could react to.
    """
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
    matrix = similarity_to_template(landmarks5, size, margin)
    crop = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border
    )
    inverse = cv2.invertAffineTransform(matrix)
    return AlignedFace(crop=crop, matrix=matrix, inverse=inverse)
