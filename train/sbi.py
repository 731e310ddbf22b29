"""Self-blended images (SBI): a fake face made from one real face and a changed copy of it.

Implemented from the description in Shiohara and Yamasaki, "Detecting Deepfakes with
Self-Blended Images" (CVPR 2022): a source and a target are both copies of the same real
face; one of them is altered (colour, frequency, and a small resize/shift of the source) and
the source is pasted into the target through a soft, randomly deformed face mask. The
detector learns blending boundaries and statistical mismatches instead of one generator.

Everything works on aligned face crops (H x W x 3 uint8, RGB) with their 49 All-Age-Faces
landmarks in crop coordinates; operations are cheap OpenCV/numpy calls so data generation
stays small next to a CPU training step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # 1.0 weighted up, as fakes paste fully


@dataclass(frozen=True)
class Blended:
    """One self-blended face: ``image = mask * source + (1 - mask) * target``."""

    image: np.ndarray  # H x W x 3 uint8
    mask: np.ndarray  # H x W float32 in [0, 1], blend weight of the source
    source: np.ndarray  # H x W x 3 uint8 (after its alterations)
    target: np.ndarray  # H x W x 3 uint8


# ----------------------------------------------------------------------------- alterations


def color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random RGB shift, HSV shift and brightness/contrast change."""
    out = image.astype(np.float32)
    if rng.random() < 0.5:
        out += rng.uniform(-20, 20, size=3).astype(np.float32)
    if rng.random() < 0.5:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        hsv = hsv.astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-10, 10)) % 180
        hsv[..., 1] += rng.uniform(-30, 30)
        hsv[..., 2] += rng.uniform(-20, 20)
        hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:
        contrast, brightness = rng.uniform(0.9, 1.1), rng.uniform(-0.1, 0.1) * 255
        out = (out - 128.0) * contrast + 128.0 + brightness
    return np.clip(out, 0, 255).astype(np.uint8)


def frequency_change(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur through downsample-upsample, or sharpen (unsharp mask)."""
    h, w = image.shape[:2]
    if rng.random() < 0.5:
        factor = rng.uniform(0.35, 0.8)
        small = cv2.resize(
            image, (max(2, int(w * factor)), max(2, int(h * factor))),
            interpolation=cv2.INTER_AREA,
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    amount = rng.uniform(0.3, 1.0)
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 1.6))
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0)


def alter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source-target alteration: colour and/or frequency, at least one of them."""
    kind = rng.integers(3)  # 0 colour, 1 frequency, 2 both
    out = image
    if kind in (0, 2):
        out = color_jitter(out, rng)
    if kind in (1, 2):
        out = frequency_change(out, rng)
    if np.array_equal(out, image):  # every random branch skipped: force a visible change
        out = frequency_change(image, rng)
    return out


def shift_and_resize(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random small resize (per axis) and translation of the source, about the centre."""
    h, w = image.shape[:2]
    sx, sy = rng.uniform(0.95, 1.05, size=2)
    tx, ty = rng.uniform(-0.03, 0.03, size=2) * np.array([w, h])
    cx, cy = w / 2.0, h / 2.0
    matrix = np.array([[sx, 0, cx - sx * cx + tx], [0, sy, cy - sy * cy + ty]], np.float32)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)


# ------------------------------------------------------------------------------------ mask


def face_outline_points(landmarks49: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landmarks plus synthesised cheek and chin points (AAF has no jaw line).

    The jaw is extrapolated along the eye-to-mouth direction with a random length, so the
    mask ranges from the inner face (brows to mouth) down to roughly the chin.
    """
    pts = np.asarray(landmarks49, np.float32)
    eyes = (pts[19:25].mean(axis=0) + pts[25:31].mean(axis=0)) / 2.0
    mouth = (pts[31] + pts[37]) / 2.0
    down = mouth - eyes
    reach = rng.uniform(0.2, 0.8)
    extra = [
        pts[0] + down * (0.9 + reach * 0.5),  # left cheek
        pts[9] + down * (0.9 + reach * 0.5),  # right cheek
        (pts[0] + pts[31]) / 2.0 + down * (0.5 + reach),  # left jaw
        (pts[9] + pts[37]) / 2.0 + down * (0.5 + reach),  # right jaw
        mouth + down * (0.3 + reach),  # chin
    ]
    return np.vstack([pts, np.asarray(extra, np.float32)])


def hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Filled convex hull of ``points`` as a float32 0/1 mask of ``shape``."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(np.float32)


def elastic_deform(mask: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Warp the mask by a smooth random displacement field (coarse grid, upsampled)."""
    h, w = mask.shape
    grid = 4
    field = rng.normal(0.0, strength, size=(2, grid, grid)).astype(np.float32)
    dx = cv2.resize(field[0], (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(field[1], (w, h), interpolation=cv2.INTER_CUBIC)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, xs + dx, ys + dy, cv2.INTER_LINEAR, borderValue=0.0)


def _odd_kernel(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high)) | 1


def random_blend_mask(
    landmarks49: np.ndarray, shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """A soft face mask in [0, 1]: deformed hull, two random Gaussian blurs, blend ratio."""
    h, w = shape
    size = float(min(h, w))
    if rng.random() < 0.75:
        points = face_outline_points(landmarks49, rng)
    else:
        points = np.asarray(landmarks49, np.float32)  # inner face only
    points = points + rng.normal(0.0, 0.01 * size, size=points.shape).astype(np.float32)
    mask = hull_mask(points, (h, w))
    mask = elastic_deform(mask, rng, strength=0.02 * size)
    # First blur and re-threshold: randomly grows or shrinks the region with a wavy edge.
    k1 = _odd_kernel(rng, int(0.05 * size) + 3, int(0.15 * size) + 5)
    blurred = cv2.GaussianBlur(mask, (k1, k1), 0)
    mask = (blurred > rng.uniform(0.2, 0.8)).astype(np.float32)
    if mask.max() == 0:  # the threshold swallowed a tiny region: fall back to the hull
        mask = hull_mask(points, (h, w))
    # Second blur: the soft transition that makes the boundary subtle.
    k2 = _odd_kernel(rng, int(0.05 * size) + 3, int(0.2 * size) + 5)
    mask = cv2.GaussianBlur(mask, (k2, k2), 0)
    mask = mask / max(float(mask.max()), 1e-6)
    ratio = BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))]
    return np.clip(mask * ratio, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------- blend


def blend(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``mask * source + (1 - mask) * target`` rounded to uint8 (exact target where mask=0)."""
    if source.shape != target.shape or mask.shape != target.shape[:2]:
        raise ValueError(
            f"shape mismatch: source {source.shape}, target {target.shape}, mask {mask.shape}"
        )
    weight = mask[..., None].astype(np.float32)
    out = weight * source.astype(np.float32) + (1.0 - weight) * target.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def self_blend(
    face: np.ndarray, landmarks49: np.ndarray, rng: np.random.Generator
) -> Blended:
    """Make one self-blended fake from an aligned real face and its 49 landmarks."""
    if face.ndim != 3 or face.shape[2] != 3 or face.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 face, got {face.shape} {face.dtype}")
    if np.asarray(landmarks49).shape != (49, 2):
        raise ValueError("expected 49 x 2 landmarks in crop coordinates")
    source, target = face.copy(), face.copy()
    # Alter either side: the mismatch, not which side differs, is what the model must find.
    if rng.random() < 0.5:
        source = alter(source, rng)
    else:
        target = alter(target, rng)
    source = shift_and_resize(source, rng)
    mask = random_blend_mask(landmarks49, face.shape[:2], rng)
    return Blended(image=blend(source, target, mask), mask=mask, source=source, target=target)
