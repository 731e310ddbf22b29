"""The invisible ``dwtDct`` watermark of the Stable Diffusion reference code, decoded.

The Stable Diffusion 1.x/2.x reference scripts and the SDXL pipelines embed a fixed message
with the ``dwtDct`` scheme of the ``invisible-watermark`` package. Despite its name that scheme
applies no DCT: it takes the U (chroma) plane, a one-level Haar DWT, and in every 4x4 block of
the approximation band quantises the largest-magnitude coefficient other than the block's first
one to a step of 36, at a quarter step for a 0 bit and three quarters for a 1 bit. The message
repeats over the blocks in row-major order; decoding reads each block's bit and lets the blocks
of one message bit vote.

This module decodes it without that package (which pulls in torch) and without a loop over
blocks, so it costs a few milliseconds per megapixel. Pure computation on pixels; the
``watermark`` signal (:mod:`deepscreen.signals.watermark`) is its adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import cv2
import numpy as np

# Parameters of invisible-watermark's EmbedMaxDct as the generators call it (scales [0, 36, 36],
# block 4; only channel 1, U, is ever used because its loop runs over channels 0 and 1).
QUANT_STEP = 36.0
BLOCK = 4
# The encoder refuses images under 256x256 pixels, so smaller ones cannot carry the mark.
MIN_PIXELS = 256 * 256

# OpenCV's BGR->YUV chroma: U = 0.492 * (B - Y) + delta, Y = 0.299 R + 0.587 G + 0.114 B.
_U_FROM_RGB = (-0.492 * 0.299, -0.492 * 0.587, 0.492 * (1 - 0.114))


@dataclass(frozen=True)
class Message:
    """A known watermark payload: the bits a generator embeds and the label it earns."""

    name: str
    bits: np.ndarray  # uint8 0/1
    max_errors: int  # bit errors still accepted as this message (see false_positive_rate)
    origin: str

    @property
    def label(self) -> str:
        return f"watermark:{self.name}"

    def false_positive_rate(self) -> float:
        """Chance that a random bit string is within ``max_errors`` of this message."""
        n = len(self.bits)
        strings: int = 2**n  # typeshed types int ** int as Any (a negative power is a float)
        return sum(comb(n, k) for k in range(self.max_errors + 1)) / strings


def _bits_of_int(value: int) -> np.ndarray:
    return np.array([int(b) for b in bin(value)[2:]], dtype=np.uint8)


MESSAGES = (
    Message(
        name="stable-diffusion-v1",
        bits=np.unpackbits(np.frombuffer(b"StableDiffusionV1", dtype=np.uint8)),
        max_errors=6,
        origin="Stable Diffusion 1.x/2.x reference scripts (bytes 'StableDiffusionV1')",
    ),
    Message(
        name="sdxl",
        bits=_bits_of_int(0b101100111110110010010000011110111011000110011110),
        max_errors=2,
        origin="SDXL (diffusers StableDiffusionXLWatermarker, Stability generative-models)",
    ),
)


@dataclass(frozen=True)
class ColourReading:
    """How the embedding program turned pixels into the U plane it marked.

    ``swapped`` means an RGB array was passed where the library expects BGR (diffusers' SDXL
    watermarker does this), so its "U" is built from red instead of blue. ``offset`` is
    OpenCV's chroma offset: 128 for uint8 input, 0.5 for float input; it shifts every
    coefficient and therefore which quantisation cell a value falls in.
    """

    name: str
    swapped: bool
    offset: float


READINGS = (
    ColourReading("bgr-uint8", swapped=False, offset=128.0),  # SD 1.x/2.x scripts
    ColourReading("bgr-float", swapped=False, offset=0.5),  # generative-models (SDXL)
    ColourReading("rgb-as-bgr-float", swapped=True, offset=0.5),  # diffusers (SDXL)
)


# Decision rules of decision_thresholds; readings x rules is the number of hypotheses tried per
# message, the multiple-testing factor of its false-positive rate.
DECISION_RULES = ("reference", "adaptive")
HYPOTHESES = len(READINGS) * len(DECISION_RULES)


@dataclass(frozen=True)
class Decoded:
    """The best decode of one message over the colour readings and decision rules."""

    message: Message
    reading: str  # the ColourReading that decoded best
    rule: str  # the decision threshold that decoded best (see decision_thresholds)
    bit_errors: int

    @property
    def match_rate(self) -> float:
        return 1.0 - self.bit_errors / len(self.message.bits)

    @property
    def detected(self) -> bool:
        return self.bit_errors <= self.message.max_errors


def chroma_bands(rgb: np.ndarray) -> dict[bool, np.ndarray]:
    """The Haar approximation band of U before OpenCV's offset: proper (False), swapped (True).

    The band is ``(a + b + c + d) / 2`` over each 2x2 pixel square of U, exactly what
    ``pywt.dwt2(u, 'haar')[0]`` returns. Because U is linear in RGB, it is computed from exact
    2x2 channel sums instead of a full DWT of a full-size U plane (16 ms per megapixel with
    PyWavelets, most of it for detail bands the decoder never reads). OpenCV's uint8 path rounds
    U per pixel; ignoring that moves a coefficient by about 0.3, far inside the margin of 9.
    """
    rows, cols = rgb.shape[0] // BLOCK * BLOCK, rgb.shape[1] // BLOCK * BLOCK
    # Scaling by 4 first makes INTER_AREA's 2x2 mean an exact integer: the 2x2 sum.
    sums = cv2.resize(np.ascontiguousarray(rgb[:rows, :cols]).astype(np.uint16) << 2,
                      (cols // 2, rows // 2), interpolation=cv2.INTER_AREA)
    red, green, blue = (plane.astype(np.float32) for plane in cv2.split(sums))
    # Haar's 1/2 folded into the weights; contiguous planes and numpy beat cv2.transform.
    r, g, b = (np.float32(0.5 * weight) for weight in _U_FROM_RGB)
    shared = green * g
    return {False: red * r + shared + blue * b,  # U as OpenCV computes it from BGR
            True: blue * r + shared + red * b}  # "U" of an RGB array passed as BGR


def approximation_bands(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The band each :data:`READINGS` entry decodes: a chroma band plus its offset."""
    bands = chroma_bands(rgb)
    # A constant offset per pixel adds twice that offset to each approximation coefficient.
    return {reading.name: bands[reading.swapped] + np.float32(2.0 * reading.offset)
            for reading in READINGS}


def block_extremes(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 4x4 block of ``band``, the largest and smallest coefficient except the first.

    Running maxima and minima over the 15 strided coefficient planes: five times faster than
    gathering the blocks for an argmax.
    """
    rows, cols = band.shape[0] // BLOCK, band.shape[1] // BLOCK
    band = band[:rows * BLOCK, :cols * BLOCK]
    highest = band[0::BLOCK, 1::BLOCK].copy()
    lowest = highest.copy()
    for position in range(2, BLOCK * BLOCK):
        i, j = divmod(position, BLOCK)
        plane = band[i::BLOCK, j::BLOCK]
        np.maximum(highest, plane, out=highest)
        np.minimum(lowest, plane, out=lowest)
    return highest, lowest


def bits_from_extremes(highest: np.ndarray, lowest: np.ndarray, offset: float) -> np.ndarray:
    """Block bits, row-major, of a band shifted by ``offset``.

    A block's bit is set when its largest-magnitude coefficient (the first one excluded) sits
    in the upper half of its quantisation cell. Only that magnitude matters, not where it is,
    and the largest magnitude of a set is its maximum or minus its minimum, so one pass of
    extremes serves every offset.
    """
    strongest = np.maximum(highest + np.float32(offset), -(lowest + np.float32(offset)))
    return (np.fmod(strongest, QUANT_STEP) > QUANT_STEP / 2).astype(np.uint8).ravel()


def block_bits(band: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """One bit per 4x4 block of ``band`` (shifted by ``offset``), blocks in row-major order."""
    return bits_from_extremes(*block_extremes(band), offset)


def vote(bits_per_block: np.ndarray, length: int) -> np.ndarray:
    """For each of ``length`` message bits, the share of its blocks that read 1.

    Block ``k`` carries message bit ``k % length``: whole repetitions are summed as rows of a
    matrix, the last partial one added on top.
    """
    full, rest = divmod(len(bits_per_block), length)
    ones = bits_per_block[:full * length].reshape(full, length).sum(axis=0, dtype=np.int64)
    ones[:rest] += bits_per_block[full * length:]
    votes = np.full(length, full)
    votes[:rest] += 1
    share: np.ndarray = ones / np.maximum(votes, 1)
    return share


def decision_thresholds(share_of_ones: np.ndarray) -> dict[str, float]:
    """Thresholds on the vote share that turn it into bits.

    ``reference`` is invisible-watermark's own rule (mean * 255 > 127). It misreads many 0 bits
    on smooth chroma: quantising a block's strongest coefficient down to a quarter step often
    leaves a neighbour stronger, and the decoder then reads that unmarked neighbour, so 0 bits
    get about half their votes wrong while 1 bits stay near unanimous. ``adaptive`` splits at
    the image's mean share instead, which separates the two groups; on an unmarked image it
    still yields chance-level bits, so the false-positive bound only doubles.
    """
    return dict(zip(DECISION_RULES, (127 / 255, float(share_of_ones.mean())), strict=True))


def decode(rgb: np.ndarray) -> list[Decoded]:
    """The best reading of every known message in an H x W x 3 uint8 RGB image."""
    best: dict[str, Decoded] = {}
    extremes = {swapped: block_extremes(band) for swapped, band in chroma_bands(rgb).items()}
    for reading in READINGS:
        bits_per_block = bits_from_extremes(*extremes[reading.swapped], 2.0 * reading.offset)
        for message in MESSAGES:
            share_of_ones = vote(bits_per_block, len(message.bits))
            for rule, threshold in decision_thresholds(share_of_ones).items():
                bits = (share_of_ones > threshold).astype(np.uint8)
                errors = int(np.count_nonzero(bits != message.bits))
                current = best.get(message.name)
                if current is None or errors < current.bit_errors:
                    best[message.name] = Decoded(message, reading.name, rule, errors)
    return list(best.values())
