"""Self-blended images: the blend is confined to a smooth mask and pairs are built right."""

from __future__ import annotations

import numpy as np
import pytest

from train.data import CropCache, make_pair_batch, mask_target
from train.metrics import roc_auc, threshold_at_fpr
from train.sbi import alter, blend, random_blend_mask, self_blend

SIZE = 128


def _face_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured 128 px image and 49 landmark-like points on a face-sized region."""
    rng = np.random.default_rng(seed)
    image = rng.integers(40, 216, size=(SIZE, SIZE, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    skin = ((xx - 64) / 30.0) ** 2 + ((yy - 66) / 38.0) ** 2 < 1.0
    image[skin] = (200, 160, 130)
    brows = np.stack([np.linspace(40, 88, 10), np.full(10, 45.0)], axis=1)
    nose = np.stack([np.full(9, 64.0), np.linspace(50, 78, 9)], axis=1)
    left_eye = np.stack([np.linspace(44, 56, 6), 55 + np.array([0, -2, -2, 0, 2, 2])], axis=1)
    right_eye = left_eye + np.array([28.0, 0.0])
    lips = np.stack([np.linspace(50, 78, 18), 88 + 3 * np.sin(np.linspace(0, 6.28, 18))], 1)
    points = np.vstack([brows, nose, left_eye, right_eye, lips]).astype(np.float32)
    assert points.shape == (49, 2)
    return image, points


def test_blend_is_target_outside_mask_and_differs_only_inside() -> None:
    face, points = _face_like()
    for seed in range(8):
        result = self_blend(face, points, np.random.default_rng(seed))
        outside = result.mask == 0.0
        assert outside.any() and (~outside).any()
        np.testing.assert_array_equal(result.image[outside], result.target[outside])
        changed = np.any(result.image != result.target, axis=2)
        assert changed.any(), "a self-blend must differ from its target"
        assert np.all(result.mask[changed] > 0.0)


def test_mask_is_smooth_bounded_and_covers_the_face_centre() -> None:
    _, points = _face_like()
    for seed in range(8):
        mask = random_blend_mask(points, (SIZE, SIZE), np.random.default_rng(seed))
        assert mask.dtype == np.float32 and mask.shape == (SIZE, SIZE)
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        assert mask[70, 64] > 0.0  # the nose area is always inside the blended region
        assert mask[0, 0] == 0.0 and mask[-1, -1] == 0.0  # corners (background) untouched
        # Blurred, not a hard cut-out: neighbouring pixels never jump by much.
        step = max(np.abs(np.diff(mask, axis=0)).max(), np.abs(np.diff(mask, axis=1)).max())
        assert step < 0.25


def test_blend_formula_and_shape_check() -> None:
    source = np.full((4, 4, 3), 200, np.uint8)
    target = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4), np.float32)
    mask[1, 1], mask[2, 2] = 0.5, 1.0
    out = blend(source, target, mask)
    assert out[1, 1, 0] == 150 and out[2, 2, 0] == 200 and out[0, 0, 0] == 100
    with pytest.raises(ValueError, match="shape mismatch"):
        blend(source, target, np.zeros((3, 3), np.float32))


def test_alteration_always_changes_the_image_and_is_seeded() -> None:
    face, points = _face_like()
    for seed in range(6):
        assert not np.array_equal(alter(face, np.random.default_rng(seed)), face)
    a = self_blend(face, points, np.random.default_rng(3))
    b = self_blend(face, points, np.random.default_rng(3))
    np.testing.assert_array_equal(a.image, b.image)


def test_self_blend_rejects_bad_input() -> None:
    face, points = _face_like()
    with pytest.raises(ValueError, match="uint8"):
        self_blend(face.astype(np.float32), points, np.random.default_rng(0))
    with pytest.raises(ValueError, match="49 x 2"):
        self_blend(face, points[:5], np.random.default_rng(0))


def test_pair_batch_puts_each_real_face_next_to_its_blend() -> None:
    faces, points = zip(*(_face_like(seed) for seed in range(3)), strict=True)
    cache = CropCache(np.stack(faces), np.stack(points), ["a", "b", "c"], SIZE, 0.3)
    inputs, labels, masks = make_pair_batch(cache, np.array([0, 2]), np.random.default_rng(0))
    assert inputs.shape == (4, 3, SIZE, SIZE) and inputs.dtype == np.float32
    assert inputs.min() >= -1.0 and inputs.max() <= 1.0
    np.testing.assert_array_equal(labels, [0, 1, 0, 1])
    assert masks.shape == (4, SIZE // 8, SIZE // 8)
    assert masks[0].max() == 0.0 and masks[2].max() == 0.0  # real faces: empty mask
    assert masks[1].max() > 0.0 and masks[3].max() > 0.0
    assert mask_target(np.ones((SIZE, SIZE), np.float32)).shape == (16, 16)


def test_roc_auc_and_threshold_at_fpr() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    with pytest.raises(ValueError):
        roc_auc(np.array([1, 1]), np.array([0.2, 0.3]))
    reals = np.arange(200) / 200.0
    threshold = threshold_at_fpr(reals, 0.01)
    assert (reals > threshold).mean() <= 0.01
    assert (reals >= threshold).mean() > 0.01  # not needlessly high


def test_pair_augmentation_degrades_both_faces_identically() -> None:
    from train.data import shared_augment

    face, _ = _face_like()
    mask = np.zeros(face.shape[:2], np.float32)
    for seed in range(10):
        real, fake, out_mask = shared_augment(face, face.copy(), mask, np.random.default_rng(seed))
        # Same input twice -> same output twice: no augmentation can create a fake cue.
        np.testing.assert_array_equal(real, fake)
        assert real.shape == face.shape and out_mask.shape == mask.shape
