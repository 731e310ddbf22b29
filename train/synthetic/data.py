"""Training patches: both classes through the same decode / resize / blur / noise / JPEG path.

Two measured shortcuts are closed before that:

- *Smoothness.* Our small up-sampling autoencoders lose detail (their NPR residual energy
  is 0.78-0.91 of the real crop's, median), so a model trained on them learns "smooth =
  generated" and flags smooth real photos (video frames, web thumbnails). Only
  reconstructions whose residual energy is within 10% of their real twin's are kept
  (514 of 600 TAEF2 ones, 176 of 400 nearest/bilinear ones, 15 of 200 transposed ones, so
  the GAN-like class is dropped: the shipped model has one "generated" class).
- *JPEG history.* Half of the real crops keep their source's 8x8 JPEG grid (COCO, the face
  sets are JPEG); reconstructions have none. So half of the fakes get one JPEG pass
  (quality 70-95) on the same grid before the common chain, as the reals had.

Every sample, real or fake, is an aligned 128 px crop (``synth-aligned`` and
``synth-upsampler-ae``) that goes through the same random chain: optional up-scaling
(``upscale_p``, factor 1.2-2, interpolation: up-scaled photos are real photos; off for the
shipped model, 0.25 in the v3 ablation), optional down-scaling
(factor 0.55-0.95, random filter), blur, noise, JPEG at quality 60-100 (80% of samples),
then a 64 px crop at an even offset and a random flip. So neither format, size nor
quality can tell the classes apart; only the pixels' generation traces can.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from train import manifest

from .model import PATCH

LABEL_OF_FOLDER = {"real": 0, "taef2": 1, "nearest": 1, "bilinear": 1}
MAX_ENERGY_GAP = 0.10  # |residual energy of a fake / its real twin - 1| allowed
_FILTERS = (
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
    Image.Resampling.BOX,
)


@dataclass
class CropPool:
    crops: list[np.ndarray]  # H x W x 3 uint8
    labels: np.ndarray  # 0 real, 1 generated
    sources: list[str]


def residual_energy(rgb: np.ndarray) -> float:
    """Mean absolute NPR residual (grey levels): how much within-2x2 detail a crop has."""
    x = rgb.astype(np.float32)
    return float(np.abs(x - np.repeat(np.repeat(x[::2, ::2], 2, 0), 2, 1)[: x.shape[0], : x.shape[1]]).mean())


def load_pool(data_root: Path, role: str) -> CropPool:
    crops, labels, sources = [], [], []
    real_energy: dict[str, float] = {}
    for set_name in ("synth-aligned", "synth-upsampler-ae"):
        for path in manifest.files_of(set_name, data_root, role=role):
            folder = path.parent.name
            if folder not in LABEL_OF_FOLDER:
                continue
            with Image.open(path) as im:
                rgb = np.asarray(im.convert("RGB"))
            if folder == "real":
                real_energy[path.name] = residual_energy(rgb)
            elif abs(residual_energy(rgb) / max(real_energy[path.name], 1e-6) - 1) > MAX_ENERGY_GAP:
                continue  # a reconstruction visibly smoother (or noisier) than its twin
            crops.append(rgb)
            labels.append(LABEL_OF_FOLDER[folder])
            sources.append(folder)
    return CropPool(crops, np.asarray(labels, np.int64), sources)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def augment(
    crop: np.ndarray, rng: np.random.Generator, fake: bool = False, upscale_p: float = 0.0
) -> np.ndarray:
    """One training patch (64 x 64 x 3 uint8) from one crop; the same chain for every class
    (after a fake's JPEG history pass, see the module's docstring)."""
    image = Image.fromarray(crop)
    if fake and rng.random() < 0.5:
        image = jpeg(image, int(rng.integers(70, 96)))
    if upscale_p and rng.random() < upscale_p:
        # Up-scaled photos (digital zoom, enlarged thumbnails) are real too: interpolation
        # alone must not read as generation. Both classes, so size carries no label.
        factor = rng.uniform(1.2, 2.0)
        size = (round(image.width * factor), round(image.height * factor))
        image = image.resize(size, _FILTERS[int(rng.integers(3))])  # bilinear, bicubic, lanczos
    if rng.random() < 0.3:
        factor = rng.uniform(0.55, 0.95)
        size = (max(PATCH, round(image.width * factor)), max(PATCH, round(image.height * factor)))
        image = image.resize(size, _FILTERS[int(rng.integers(len(_FILTERS)))])
    if rng.random() < 0.1:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.1:
        noisy = np.asarray(image, np.float32) + rng.normal(
            0, rng.uniform(1, 4), (image.height, image.width, 3)
        )
        image = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
    if rng.random() < 0.8:
        image = jpeg(image, int(rng.integers(60, 101)))
    array = np.asarray(image)
    h, w = array.shape[:2]
    y = int(rng.integers(0, (h - PATCH) // 2 + 1)) * 2
    x = int(rng.integers(0, (w - PATCH) // 2 + 1)) * 2
    patch = array[y : y + PATCH, x : x + PATCH]
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return np.ascontiguousarray(patch)


def sample_batch(
    pool: CropPool, rng: np.random.Generator, size: int, upscale_p: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Half real crops, half generated ones (uniformly over every kept reconstruction)."""
    real = np.flatnonzero(pool.labels == 0)
    fake = np.flatnonzero(pool.labels != 0)
    picks = np.concatenate([rng.choice(real, size // 2), rng.choice(fake, size - size // 2)])
    patches = np.stack(
        [augment(pool.crops[int(i)], rng, bool(pool.labels[int(i)]), upscale_p) for i in picks]
    )
    return patches, pool.labels[picks]


def fixed_patches(pool: CropPool, quality: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic patch per crop (centre, JPEG ``quality``) for validation."""
    out = []
    for crop in pool.crops:
        image = jpeg(Image.fromarray(crop), quality)
        array = np.asarray(image)
        h, w = array.shape[:2]
        y, x = ((h - PATCH) // 4) * 2, ((w - PATCH) // 4) * 2
        out.append(array[y : y + PATCH, x : x + PATCH])
    return np.stack(out), pool.labels
