"""PDQ, Meta's perceptual photo hash, computed with a few matrix products instead of pixel loops.

The reference (ThreatExchange ``pdq/cpp/hashing/pdqhashing.cpp``, bound to Python by the
``pdqhash`` package) turns the picture into float luminance, blurs it with a Jarosz tent
filter (two box-filter passes along each axis, each box averaging only the pixels inside the
picture), keeps every ``n/64``-th pixel of the blurred picture (64 x 64), takes the 16 x 16
low-frequency corner of its DCT (frequencies 1..16, not 0..15) and sets a bit for every
coefficient above their median. The quality is a count of large gradients in the 64 x 64
buffer.

Everything before the 64 x 64 buffer is linear and separable, so the buffer is
``rows @ luma @ cols`` for two fixed 64 x n weight matrices that depend only on the picture's
size: each of the 64 kept rows needs only the ~2 x n/128 picture rows under its tent, and the
luminance weights can be applied after the vertical blur. That touches each pixel about once
(instead of converting and blurring the whole picture four times) and gives the same numbers
up to float rounding. Measured against ``pdqhash`` on synthetic pictures, real photos and
video frames, every hash and quality agreed bit for bit (tests/test_banks_pdq.py,
BENCHMARKS.md); a bit can differ only where a coefficient lies within rounding of the median.
The exception is a picture whose DCT is exactly zero in exact arithmetic (flat, constant
along one axis, tiny): its coefficients are rounding noise in the reference as here, so its
bits are arbitrary in both and only the quality agrees (flat pictures have quality 0 and
never match by PDQ).

The eight rotations and flips need no extra picture work: each is a transpose and/or a sign
pattern on the 16 x 16 DCT, exactly as the reference derives them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

OUTPUT_DIM = 64  # the side of the downsampled buffer the DCT reads
HASH_DIM = 16  # the side of the DCT block whose signs become the 256 bits
MIN_HASHABLE_DIM = 5  # the reference hashes smaller pictures as all zeros, quality 0
JAROSZ_PASSES = 2  # box-filter passes per axis: two make the tent
ZERO_HEX = "0" * 64

# Rec. 601 luma weights, as the reference; applied in float32 like its luma buffer.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Bound the float32 rows gathered at once (elements) so a 50-megapixel picture stays cheap
# in memory: about 16 MB of temporary floats.
_GATHER_BUDGET = 4_000_000


def _dct_matrix() -> np.ndarray:
    """The reference's 16 x 64 DCT-II rows for frequencies 1..16, rounded to float32 as it is."""
    i = np.arange(1, HASH_DIM + 1)[:, None]
    j = np.arange(OUTPUT_DIM)[None, :]
    matrix: np.ndarray = np.sqrt(2.0 / OUTPUT_DIM) * np.cos(
        np.pi / 2.0 / OUTPUT_DIM * i * (2 * j + 1))
    return matrix.astype(np.float32).astype(np.float64)


_DCT = _dct_matrix()


def jarosz_window(old_dim: int, new_dim: int = OUTPUT_DIM) -> int:
    """The reference's box width per pass: half a destination pixel, rounded up."""
    return (old_dim + 2 * new_dim - 1) // (2 * new_dim)


def decimation_indices(old_dim: int, new_dim: int = OUTPUT_DIM) -> np.ndarray:
    """Which blurred pixel each output pixel keeps: the one under the output pixel's centre."""
    return ((np.arange(new_dim) + 0.5) * old_dim / new_dim).astype(np.int64)


@lru_cache(maxsize=64)
def axis_weights(length: int) -> np.ndarray:
    """The 64 x ``length`` matrix that blurs one axis (all passes) and keeps 64 samples.

    Row k holds the weight of every input pixel in output pixel k. The reference's box of
    width w covers ``[i - (w - h), i + (h - 1)]`` with ``h = (w + 2) // 2`` and divides by
    the number of those pixels inside the picture, so edge boxes are narrower averages, not
    zero-padded ones. Starting from each kept pixel, every pass spreads its weights back
    over the pixels the boxes read; the work stays inside the few pixels around the kept
    one that all passes together can reach.
    """
    window = jarosz_window(length)
    half = (window + 2) // 2
    # Pixel m is read by the boxes of pixels j in [m - (h - 1), m + (w - h)], so each pass
    # widens a weight's reach by (w - h) pixels before it and (h - 1) after.
    reads_before, reads_after = half - 1, window - half
    offsets = np.arange(-JAROSZ_PASSES * reads_after, JAROSZ_PASSES * reads_before + 1)
    positions = decimation_indices(length)[:, None] + offsets  # 64 x reach
    inside = (positions >= 0) & (positions < length)
    clipped = np.clip(positions, 0, length - 1)
    counts = (np.minimum(clipped + (half - 1), length - 1)
              - np.maximum(clipped - (window - half), 0) + 1)

    local = np.where(offsets == 0, 1.0, 0.0)[None, :].repeat(OUTPUT_DIM, axis=0)
    reach = offsets.size
    for _ in range(JAROSZ_PASSES):
        share = local / counts
        spread = np.zeros_like(local)
        for shift in range(-reads_before, reads_after + 1):
            lo, hi = max(0, -shift), min(reach, reach - shift)
            spread[:, lo:hi] += share[:, lo + shift:hi + shift]
        local = np.where(inside, spread, 0.0)

    weights = np.zeros((OUTPUT_DIM, length))
    rows, cols = np.nonzero(inside)
    weights[rows, positions[rows, cols]] = local[rows, cols]
    return weights


@lru_cache(maxsize=64)
def _band(length: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of the 64 outputs along an axis: the pixels under its tent and their weights.

    Every output reads the same number of pixels (the widest tent; extra pixels weigh 0),
    so the pixels of all 64 gather into one array.
    """
    weights = axis_weights(length)
    nonzero = weights > 0
    start = nonzero.argmax(axis=1)
    stop = length - nonzero[:, ::-1].argmax(axis=1)
    width = int((stop - start).max())
    start = np.minimum(start, length - width)
    pixels = start[:, None] + np.arange(width)
    return pixels, np.take_along_axis(weights, pixels, axis=1).astype(np.float32)


def _checked(picture: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The picture as H x W x C uint8 and the luma weights of its C channels."""
    array = np.asarray(picture)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"expected an H x W x 3 picture, got shape {np.shape(picture)}")
    if array.dtype != np.uint8:
        array = array.astype(np.uint8)
    # A grey picture is R = G = B: its luma weight is the sum of the three.
    luma = _LUMA if array.shape[2] == 3 else np.array([_LUMA.sum()], dtype=np.float32)
    return array, luma


def downsample(picture: np.ndarray) -> np.ndarray:
    """The reference's 64 x 64 float32 buffer: luma, tent-blurred, sampled at 64 x 64 points.

    einsum, not matmul: its loops stay on one thread, where BLAS would start threads for
    the larger products and, on a loaded machine, wait for them far longer than the work
    itself takes.
    """
    array, luma_weights = _checked(picture)
    height, width, channels = array.shape
    rows, row_weights = _band(height)
    columns, column_weights = _band(width)
    # Vertical blur of the 64 kept rows, straight from the uint8 pixels; in slices so the
    # float copy of the rows read stays small for very large pictures.
    blurred = np.empty((OUTPUT_DIM, width, channels), dtype=np.float32)
    step = max(1, _GATHER_BUDGET // (rows.shape[1] * width * channels))
    for lo in range(0, OUTPUT_DIM, step):
        hi = min(lo + step, OUTPUT_DIM)
        gathered = array[rows[lo:hi]].astype(np.float32)
        np.einsum("kr,krwc->kwc", row_weights[lo:hi], gathered, out=blurred[lo:hi])
    luma = blurred[:, :, 0] * luma_weights[0]
    for channel in range(1, channels):
        luma += blurred[:, :, channel] * luma_weights[channel]
    # Horizontal blur of the 64 kept columns.
    buffer: np.ndarray = np.einsum("kjr,jr->kj", luma[:, columns], column_weights)
    return buffer


def quality(buffer: np.ndarray) -> int:
    """The reference's quality: significant gradients of the 64 x 64 buffer, scaled to 0..100.

    Each neighbour difference is scaled to percent of full range in float32 and truncated
    to an integer before summing, as the reference does, so only steps of a few grey levels
    count.
    """
    values = np.asarray(buffer, dtype=np.float32)
    hundred, full = np.float32(100), np.float32(255)
    down = np.trunc((values[:-1] - values[1:]) * hundred / full)
    across = np.trunc((values[:, :-1] - values[:, 1:]) * hundred / full)
    gradient_sum = int(np.abs(down).sum(dtype=np.int64) + np.abs(across).sum(dtype=np.int64))
    return min(gradient_sum // 90, 100)


def dct16(buffer: np.ndarray) -> np.ndarray:
    """The 16 x 16 DCT block (frequencies 1..16 along each axis) of the 64 x 64 buffer."""
    block: np.ndarray = _DCT @ np.asarray(buffer, dtype=np.float64) @ _DCT.T
    return block


def _checkerboard() -> np.ndarray:
    i, j = np.indices((HASH_DIM, HASH_DIM))
    return np.where((i + j) % 2 == 1, -1.0, 1.0)


# Index k of the block holds frequency k + 1. Odd frequencies (even k) are antisymmetric
# about the picture's centre, so mirroring the picture along an axis negates them.
_NEG_EVEN_ROWS = np.where(np.arange(HASH_DIM) % 2 == 1, 1.0, -1.0)[:, None]
_NEG_EVEN_COLS = _NEG_EVEN_ROWS.T
_CHECKER = _checkerboard()


def dihedral_dcts(dct: np.ndarray) -> np.ndarray:
    """The DCT blocks of the 8 rotations/flips, in the reference's (and pdqhash's) order.

    original, rotate 90, rotate 180, rotate 270, flip x, flip y, flip plus-1 (transpose),
    flip minus-1 (anti-transpose); each is a sign pattern and/or a transpose of ``dct``.
    """
    return np.stack([
        dct,
        (dct * _NEG_EVEN_COLS).T,
        dct * _CHECKER,
        (dct * _NEG_EVEN_ROWS).T,
        dct * _NEG_EVEN_ROWS,
        dct * _NEG_EVEN_COLS,
        dct.T,
        (dct * _CHECKER).T,
    ])


def hash_hexes(blocks: np.ndarray) -> list[str]:
    """Hex hashes of a stack of 16 x 16 DCT blocks: a bit per coefficient above the median.

    The reference's median (Torben's) of 256 values is the 128th smallest. Coefficient
    (i, j) is bit ``16 i + j``, and the hex string starts at bit 255, as pdqhash writes it.
    """
    flat = np.asarray(blocks, dtype=np.float64).reshape(-1, HASH_DIM * HASH_DIM)
    median = np.partition(flat, 127, axis=1)[:, 127:128]
    packed = np.packbits(flat[:, ::-1] > median, axis=1)
    return [row.tobytes().hex() for row in packed]


def _too_small(picture: np.ndarray) -> bool:
    shape = np.shape(picture)
    return len(shape) >= 2 and min(shape[0], shape[1]) < MIN_HASHABLE_DIM


def pdq_hash(picture: np.ndarray) -> tuple[str, int]:
    """PDQ hash (64 hex chars) and quality (0..100) of an H x W x 3 (or H x W grey) picture."""
    if _too_small(picture):
        _checked(picture)
        return ZERO_HEX, 0
    buffer = downsample(picture)
    return hash_hexes(dct16(buffer))[0], quality(buffer)


def pdq_hash_dihedral(picture: np.ndarray) -> tuple[list[str], int]:
    """The hashes of the picture's 8 rotations/flips (original first) and its quality."""
    if _too_small(picture):
        _checked(picture)
        return [ZERO_HEX] * 8, 0
    buffer = downsample(picture)
    return hash_hexes(dihedral_dcts(dct16(buffer))), quality(buffer)
