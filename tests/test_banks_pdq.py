"""The vectorised PDQ against the ``pdqhash`` reference binding (Meta's C++ code) as oracle.

Bank entries made by other tools hold reference PDQ hashes, so ours must agree with them:
the same quality, and hashes identical or a bit or two apart where a DCT coefficient sits on
the median (float rounding differs). Where DCT coefficients are exactly zero in exact
arithmetic, the reference's are rounding noise and its bits there are arbitrary, so only the
quality is compared: flat pictures, pictures constant along one axis, and pictures under 32
pixels on a side (the 64 x 64 buffer repeats their pixels in blocks, which zeroes whole
frequencies).
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from deepscreen.banks.hashing import bits_to_hex
from deepscreen.banks.pdq import (
    ZERO_HEX,
    axis_weights,
    decimation_indices,
    jarosz_window,
    pdq_hash,
    pdq_hash_dihedral,
)
from deepscreen.media import decode, open_media

from media_factory import texture

pdqhash = pytest.importorskip("pdqhash")

MAX_BITS = 2  # allowed disagreement per hash
MIN_IDENTICAL = 0.98  # share of hashes that must agree bit for bit
MIN_SIDE = 32  # below this, bits are rounding noise in the reference (see above)


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _reference(rgb: np.ndarray) -> tuple[list[str], int]:
    variants, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    return [bits_to_hex(v) for v in variants], int(quality)


def _compare(pictures: list[np.ndarray]) -> Counter[int]:
    """Distances over all 8 variants of every picture; asserts quality equality."""
    distances: Counter[int] = Counter()
    for index, rgb in enumerate(pictures):
        theirs, their_quality = _reference(rgb)
        ours, our_quality = pdq_hash_dihedral(rgb)
        assert our_quality == their_quality, (index, rgb.shape)
        if min(rgb.shape[:2]) < MIN_SIDE:
            continue
        distances.update(_hamming(a, b) for a, b in zip(ours, theirs, strict=True))
    return distances


def _assert_compatible(distances: Counter[int]) -> None:
    total = sum(distances.values())
    identical = distances[0] / total
    assert max(distances) <= MAX_BITS, f"distance histogram {sorted(distances.items())}"
    assert identical >= MIN_IDENTICAL, f"distance histogram {sorted(distances.items())}"


def _photo_like(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Noise at several scales plus a blur: smooth regions, edges and fine texture."""
    out = np.zeros((height, width, 3))
    for scale, weight in ((3, 0.4), (12, 0.35), (48, 0.25)):
        small = rng.integers(0, 256, (max(2, height // scale), max(2, width // scale), 3),
                             dtype=np.uint8)
        out += weight * np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))
    return np.asarray(Image.fromarray(out.astype(np.uint8)).filter(ImageFilter.SMOOTH))


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _synthetic_pictures(count: int) -> list[np.ndarray]:
    """Varied sizes (odd and even filter windows, tiny to 1 MP, both orientations) and content."""
    rng = np.random.default_rng(2026)
    pictures = []
    for i in range(count):
        large = i % 25 == 0
        width = int(rng.integers(900, 1300)) if large else int(rng.integers(5, 700))
        height = int(rng.integers(700, 1000)) if large else int(rng.integers(5, 700))
        kind = i % 4
        if kind == 0:
            rgb = texture(width, height, seed=i)
        elif kind == 1:
            rgb = _photo_like(rng, width, height)
        elif kind == 2:
            rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        else:
            rgb = _jpeg(_photo_like(rng, width, height), quality=int(rng.integers(20, 95)))
        pictures.append(rgb)
    return pictures


def _naive_two_pass(column: np.ndarray) -> np.ndarray:
    """The reference's box filter written out pixel by pixel, applied twice (tent)."""
    length = column.size
    window = jarosz_window(length)
    half = (window + 2) // 2
    values = column.astype(np.float64)
    for _ in range(2):
        out = np.empty_like(values)
        for i in range(length):
            lo, hi = max(0, i - (window - half)), min(length - 1, i + (half - 1))
            out[i] = values[lo:hi + 1].mean()
        values = out
    return values


@pytest.mark.parametrize("length", [5, 63, 64, 65, 200, 255, 256, 257, 300, 719, 720, 1024, 1080])
def test_axis_weights_are_the_reference_tent_filter_sampled(length: int) -> None:
    column = np.random.default_rng(length).random(length) * 255
    expected = _naive_two_pass(column)[decimation_indices(length)]
    weights = axis_weights(length)
    assert weights.shape == (64, length)
    np.testing.assert_allclose(weights @ column, expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)  # averages of averages
    assert (weights >= 0).all()


def test_matches_the_reference_on_a_few_hundred_synthetic_pictures() -> None:
    _assert_compatible(_compare(_synthetic_pictures(240)))


def test_grey_views_and_other_layouts_match_the_reference() -> None:
    rgb = texture(333, 250, seed=5)
    grey = rgb[:, :, 1]
    ours, quality = pdq_hash_dihedral(grey)
    theirs, their_quality = _reference(np.repeat(grey[:, :, None], 3, axis=2))
    assert (ours, quality) == (theirs, their_quality)
    for view in (rgb[::-1], rgb[:, ::-1], np.rot90(rgb), rgb[10:200:2, 5:300:3]):
        assert pdq_hash_dihedral(view) == _reference(view)


def test_single_hash_is_the_first_dihedral_variant() -> None:
    rgb = texture(400, 300, seed=8)
    variants, quality = pdq_hash_dihedral(rgb)
    assert pdq_hash(rgb) == (variants[0], quality)
    assert len(set(variants)) == 8


def test_pictures_below_five_pixels_hash_to_zero_like_the_reference() -> None:
    for shape in ((4, 100, 3), (100, 4, 3), (0, 0, 3)):
        rgb = np.full(shape, 200, dtype=np.uint8)
        assert pdq_hash(rgb) == (ZERO_HEX, 0)
        if min(shape[:2]) > 0:
            assert _reference(rgb) == ([ZERO_HEX] * 8, 0)


def test_structureless_pictures_get_the_reference_quality() -> None:
    rng = np.random.default_rng(3)
    flat = np.full((120, 160, 3), 90, dtype=np.uint8)
    speckled = (flat + rng.integers(0, 3, flat.shape)).astype(np.uint8)
    ramp = np.tile(np.linspace(0, 255, 300).astype(np.uint8)[None, :, None], (200, 1, 3))
    stripes = np.tile((np.arange(256) // 8 % 2 * 255).astype(np.uint8)[None, :, None],
                      (180, 1, 3))
    for rgb in (flat, speckled, ramp, stripes):
        assert pdq_hash(rgb)[1] == _reference(rgb)[1]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="H x W x 3"):
        pdq_hash(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="H x W x 3"):
        pdq_hash(np.zeros(100, dtype=np.uint8))


@pytest.mark.shared_data
def test_matches_the_reference_on_real_face_photos(shared_data: Path) -> None:
    files = sorted((shared_data / "faces-aaf" / "images").glob("*.jpg"))[::40][:300]
    pictures = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    _assert_compatible(_compare(pictures))


@pytest.mark.shared_data
def test_matches_the_reference_on_real_video_frames(shared_data: Path) -> None:
    frames = []
    for path in sorted((shared_data / "video-real").glob("*.mp4")):
        frames += [f.rgb for f in decode(open_media(path)).frames[:12]]
    assert len(frames) >= 100
    distances: Counter[int] = Counter()
    for rgb in frames:
        theirs, their_quality = pdqhash.compute(np.ascontiguousarray(rgb))
        ours, quality = pdq_hash(rgb)
        assert quality == their_quality
        distances[_hamming(ours, bits_to_hex(theirs))] += 1
    _assert_compatible(distances)
