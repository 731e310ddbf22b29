"""The ``watermark`` signal: the Stable Diffusion dwtDct mark, embedded here by our own encoder."""

from __future__ import annotations

import io
from math import comb

import cv2
import numpy as np
import pytest
import pywt
from PIL import Image

from deepscreen.config import ScanConfig
from deepscreen.media import decode as decode_media
from deepscreen.media import open_media
from deepscreen.scan import Scanner
from deepscreen.signals.watermark import WatermarkSignal
from deepscreen.watermarks.dwtdct import (
    MESSAGES,
    QUANT_STEP,
    approximation_bands,
    block_bits,
    decode,
)

SD_V1, SDXL = MESSAGES


# --- an encoder matching invisible-watermark's EmbedMaxDct, written from its description ------

def _quantise_blocks(band: np.ndarray, bits: np.ndarray) -> None:
    """Move each 4x4 block's strongest coefficient (first excluded) to its bit's quarter step."""
    rows, cols = band.shape[0] // 4, band.shape[1] // 4
    blocks = band[:rows * 4, :cols * 4].reshape(rows, 4, cols, 4).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(rows * cols, 16).copy()
    index = np.abs(blocks[:, 1:]).argmax(axis=1) + 1
    value = blocks[np.arange(len(blocks)), index]
    wanted = np.resize(bits, len(blocks))
    level = (np.abs(value) // QUANT_STEP + 0.25 + 0.5 * wanted) * QUANT_STEP
    blocks[np.arange(len(blocks)), index] = np.where(value >= 0, level, -level)
    band[:rows * 4, :cols * 4] = (blocks.reshape(rows, cols, 4, 4).transpose(0, 2, 1, 3)
                                  .reshape(rows * 4, cols * 4))


def embed_dwtdct(bgr: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """Embed ``bits`` the way ``WatermarkEncoder().encode(bgr, 'dwtDct')`` does.

    Works for uint8 input (SD 1.x/2.x scripts) and float32 input in [0, 255] (SDXL pipelines).
    Checked once to give bit-identical output to invisible-watermark 0.2.0 on both paths
    (docs/generator-and-watermark.md).
    Like the library, it writes the detail bands back with horizontal and vertical swapped, and
    for uint8 the float result is truncated into the uint8 plane.
    """
    rows, cols = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
    approx, (horizontal, vertical, diagonal) = pywt.dwt2(yuv[:rows, :cols, 1], "haar")
    _quantise_blocks(approx, bits)
    restored = pywt.idwt2((approx, (vertical, horizontal, diagonal)), "haar")
    if yuv.dtype == np.uint8:
        restored = np.clip(restored, 0, 255)
    yuv[:rows, :cols, 1] = restored.astype(yuv.dtype)
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)


def mark_like_sd_v1(rgb: np.ndarray) -> np.ndarray:
    """The SD 1.x/2.x scripts: RGB -> BGR uint8 -> encode -> back to RGB."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(embed_dwtdct(bgr, SD_V1.bits), cv2.COLOR_BGR2RGB)


def mark_like_diffusers_sdxl(rgb: np.ndarray) -> np.ndarray:
    """diffusers' SDXL watermarker: float RGB passed as if BGR, then rounded to uint8 on save."""
    marked = embed_dwtdct(rgb.astype(np.float32), SDXL.bits)
    return np.clip(np.round(marked), 0, 255).astype(np.uint8)


def mark_like_generative_models_sdxl(rgb: np.ndarray) -> np.ndarray:
    """Stability's generative-models: float BGR (channels reversed correctly), rounded on save."""
    marked = embed_dwtdct(rgb[:, :, ::-1].astype(np.float32), SDXL.bits)[:, :, ::-1]
    return np.clip(np.round(marked), 0, 255).astype(np.uint8)


def natural_ish(height: int = 512, width: int = 512, seed: int = 7) -> np.ndarray:
    """Smooth colour gradients, soft blobs and fine grain: textured like a photo, not like noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([90 + 80 * np.sin(x / 97.0), 120 + 60 * np.cos(y / 71.0),
                      100 + 50 * np.sin((x + y) / 53.0)], axis=-1)
    blobs = cv2.GaussianBlur(rng.normal(0, 60, (height, width, 3)).astype(np.float32), (0, 0), 9)
    grain = rng.normal(0, 4, (height, width, 3))
    return np.clip(image + blobs + grain, 0, 255).astype(np.uint8)


def encode_image(rgb: np.ndarray, fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def screen(data: bytes):
    item = open_media(data)
    decode_media(item)
    return WatermarkSignal(ScanConfig()).inspect(item)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return natural_ish()


# --- the decoder itself ---------------------------------------------------------------------

def test_vectorised_decoder_matches_a_block_by_block_reference(photo: np.ndarray) -> None:
    bgr = cv2.cvtColor(photo[:128, :160], cv2.COLOR_RGB2BGR)
    u_plane = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:, :, 1]
    approx = pywt.dwt2(u_plane, "haar")[0]
    expected = []
    for i in range(approx.shape[0] // 4):
        for j in range(approx.shape[1] // 4):
            block = approx[i * 4:i * 4 + 4, j * 4:j * 4 + 4].flatten()
            strongest = abs(block[np.argmax(abs(block[1:])) + 1])
            expected.append(int(strongest % QUANT_STEP > QUANT_STEP / 2))
    got = block_bits(approximation_bands(photo[:128, :160])["bgr-uint8"])
    # Our band skips OpenCV's per-pixel rounding; a block on a cell edge may read differently.
    assert np.mean(got == np.array(expected)) > 0.97


def test_messages_are_the_published_payloads() -> None:
    assert np.packbits(SD_V1.bits).tobytes() == b"StableDiffusionV1"
    assert "".join(map(str, SDXL.bits)) == "101100111110110010010000011110111011000110011110"


def test_false_positive_rates_are_negligible() -> None:
    assert SD_V1.false_positive_rate() == sum(comb(136, k) for k in range(7)) / 2**136
    assert SD_V1.false_positive_rate() < 1e-25
    assert SDXL.false_positive_rate() < 1e-11


# --- end to end through the signal ----------------------------------------------------------

def test_sd_v1_mark_decodes_exactly_from_png(photo: np.ndarray) -> None:
    finding = screen(encode_image(mark_like_sd_v1(photo), "PNG"))
    assert set(finding.labels) == {"ai-watermark", "watermark:stable-diffusion-v1"}
    assert finding.score == 1.0
    result = next(m for m in finding.evidence["messages"] if m["message"] == "stable-diffusion-v1")
    assert result["bit_errors"] == 0 and result["colour_reading"] == "bgr-uint8"
    assert "proves nothing" in finding.evidence["caveat"]


@pytest.mark.parametrize(("mark", "reading"), [
    (mark_like_diffusers_sdxl, "rgb-as-bgr-float"),
    (mark_like_generative_models_sdxl, "bgr-float"),
])
def test_sdxl_marks_decode_exactly_from_png(photo: np.ndarray, mark, reading: str) -> None:
    finding = screen(encode_image(mark(photo), "PNG"))
    assert set(finding.labels) == {"ai-watermark", "watermark:sdxl"}
    result = next(m for m in finding.evidence["messages"] if m["message"] == "sdxl")
    assert result["bit_errors"] == 0 and result["colour_reading"] == reading


@pytest.mark.parametrize("mark", [mark_like_sd_v1, mark_like_diffusers_sdxl])
def test_mark_survives_jpeg_quality_95_with_full_chroma(photo: np.ndarray, mark) -> None:
    finding = screen(encode_image(mark(photo), "JPEG", quality=95, subsampling=0))
    assert "ai-watermark" in finding.labels
    assert finding.score == 1.0


def test_mark_does_not_survive_jpeg_chroma_subsampling(photo: np.ndarray) -> None:
    # Measured, not wished for: 4:2:0 chroma (Pillow's and most encoders' default) loses the
    # mark even at quality 95, because the decoder's chroma upsampling mixes neighbouring blocks.
    finding = screen(encode_image(mark_like_sd_v1(photo), "JPEG", quality=95, subsampling=2))
    assert finding.labels == () and finding.score == 0.0
    assert finding.evidence["jpeg_chroma_subsampling"] == "4:2:0"
    assert "did not survive" in finding.evidence["note"]


def test_mark_is_read_in_stored_orientation(photo: np.ndarray) -> None:
    # An EXIF orientation rotates the displayed frame, not the stored block grid of the mark.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode_image(mark_like_sd_v1(photo), "PNG", exif=exif)
    item = open_media(data)
    decode_media(item)
    assert not np.array_equal(item.frames[0].rgb, np.asarray(item.image.convert("RGB")))
    finding = WatermarkSignal(ScanConfig()).inspect(item)
    assert "watermark:stable-diffusion-v1" in finding.labels


def test_scanner_labels_a_watermarked_image(photo: np.ndarray, home) -> None:
    with Scanner(ScanConfig(signals=("watermark",))) as scanner:
        report = scanner.scan(encode_image(mark_like_sd_v1(photo), "PNG"))
    assert report.verdict.action == "label"


def test_mark_does_not_survive_resizing(photo: np.ndarray) -> None:
    marked = mark_like_sd_v1(photo)
    smaller = cv2.resize(marked, (400, 400), interpolation=cv2.INTER_AREA)
    finding = screen(encode_image(smaller, "PNG"))
    assert finding.labels == ()
    assert finding.score == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unmarked_images_score_zero_without_labels(seed: int) -> None:
    finding = screen(encode_image(natural_ish(seed=seed), "PNG"))
    assert finding.labels == () and finding.score == 0.0
    for result in finding.evidence["messages"]:
        # Chance level: far from the acceptance threshold, not just under it.
        assert result["bit_errors"] > 4 * result["max_errors"]


def test_flat_image_is_not_mistaken_for_a_mark() -> None:
    finding = screen(encode_image(np.full((300, 300, 3), 128, np.uint8), "PNG"))
    assert finding.labels == () and finding.score == 0.0


def test_small_image_abstains() -> None:
    finding = screen(encode_image(natural_ish(200, 200), "PNG"))
    assert finding.score is None and "too small" in (finding.abstained or "")


def test_decode_reports_every_message(photo: np.ndarray) -> None:
    names = {result.message.name for result in decode(photo)}
    assert names == {"stable-diffusion-v1", "sdxl"}
