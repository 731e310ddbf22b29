"""Aligned face-crop cache and the paired real / self-blended batches built from it.

Decoding ~6,600 JPEGs and aligning them every epoch would cost more than the training step on
a 2-core machine, so :func:`build_crop_cache` does it once and stores uint8 crops in a numpy
memmap next to the 49 landmarks transformed into crop coordinates.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepscreen.faces.align import align_face, landmarks5_from_49, transform_points

from .sbi import self_blend

MEAN, STD = 0.5, 0.5  # the Lite0 ImageNet weights expect (x/255 - 0.5) / 0.5
MASK_STRIDE = 8
# Degradations applied to both faces of a pair (see shared_augment).
PAIR_DOWNSCALE_PROBABILITY = 0.5
PAIR_DOWNSCALE_RANGE = (0.4, 0.9)  # fraction of the crop size kept before upscaling
PAIR_JPEG_QUALITY = (40, 96)


def read_landmarks49(csv_path: Path) -> dict[str, np.ndarray]:
    """Map image name -> 49 x 2 landmarks from the All-Age-Faces CSV."""
    out: dict[str, np.ndarray] = {}
    with open(csv_path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if len(header) != 99 or header[0] != "image":
            raise ValueError(f"{csv_path}: expected 'image' + 98 coordinate columns")
        for row in reader:
            out[row[0]] = np.asarray(row[1:], dtype=np.float32).reshape(49, 2)
    return out


def read_split(path: Path) -> list[str]:
    """Image names of a split file (``name label`` per line)."""
    return [line.split()[0] for line in Path(path).read_text().splitlines() if line.strip()]


@dataclass
class CropCache:
    """Aligned crops (N x S x S x 3 uint8, RGB) and landmarks (N x 49 x 2, crop coords)."""

    crops: np.ndarray
    landmarks: np.ndarray
    names: list[str]
    size: int
    margin: float

    def __len__(self) -> int:
        return len(self.names)


def build_crop_cache(
    image_dir: Path,
    landmarks_csv: Path,
    names: list[str],
    out_dir: Path,
    size: int,
    margin: float,
) -> CropCache:
    """Align every named image once and store the crops as a memmap in ``out_dir``.

    Reuses an existing cache when its metadata (names, size, margin) matches.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out_dir / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("size") == size and meta.get("margin") == margin and meta.get(
            "requested"
        ) == len(names):
            return load_crop_cache(out_dir)
    table = read_landmarks49(landmarks_csv)
    crops = np.lib.format.open_memmap(
        out_dir / "crops.npy", mode="w+", dtype=np.uint8, shape=(len(names), size, size, 3)
    )
    landmarks = np.zeros((len(names), 49, 2), np.float32)
    kept: list[str] = []
    for name in names:
        bgr = cv2.imread(str(image_dir / name), cv2.IMREAD_COLOR)
        if bgr is None or name not in table:
            continue  # unreadable image or no landmarks: skipped, counted in meta
        points = table[name]
        aligned = align_face(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), landmarks5_from_49(points),
                             size, margin)
        crops[len(kept)] = aligned.crop
        landmarks[len(kept)] = transform_points(points, aligned.matrix)
        kept.append(name)
    crops.flush()
    np.save(out_dir / "landmarks.npy", landmarks[: len(kept)])
    meta = {"size": size, "margin": margin, "requested": len(names), "names": kept}
    meta_path.write_text(json.dumps(meta))
    return load_crop_cache(out_dir)


def load_crop_cache(out_dir: Path) -> CropCache:
    meta = json.loads((out_dir / "meta.json").read_text())
    count = len(meta["names"])
    crops = np.load(out_dir / "crops.npy", mmap_mode="r")[:count]
    landmarks = np.load(out_dir / "landmarks.npy")
    return CropCache(crops, landmarks, meta["names"], meta["size"], meta["margin"])


# ---------------------------------------------------------------------------- augmentation


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return image
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def downscale_roundtrip(image: np.ndarray, factor: float) -> np.ndarray:
    """Lose resolution the way a small or compressed video face does: down, then up again."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(8, round(w * factor)), max(8, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shared_augment(
    real: np.ndarray, fake: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment a real/fake pair identically (flip, resolution loss, compression) so only the
    blend differs.

    Video faces are often small and re-encoded, so a whole face can be soft. Blur inside the
    mask is a fake cue; degrading both images of a pair the same way teaches the model that
    softness of the whole crop is not.
    """
    if rng.random() < 0.5:
        real, fake, mask = real[:, ::-1], fake[:, ::-1], mask[:, ::-1]
    real, fake = np.ascontiguousarray(real), np.ascontiguousarray(fake)
    if rng.random() < PAIR_DOWNSCALE_PROBABILITY:
        factor = rng.uniform(*PAIR_DOWNSCALE_RANGE)
        real, fake = downscale_roundtrip(real, factor), downscale_roundtrip(fake, factor)
    if rng.random() < 0.5:
        quality = int(rng.integers(*PAIR_JPEG_QUALITY))
        real, fake = jpeg_roundtrip(real, quality), jpeg_roundtrip(fake, quality)
    return np.ascontiguousarray(real), np.ascontiguousarray(fake), np.ascontiguousarray(mask)


def to_input(images: np.ndarray) -> np.ndarray:
    """N x S x S x 3 uint8 RGB -> N x 3 x S x S float32 normalised as the model expects."""
    x = images.astype(np.float32) / 255.0
    return ((x - MEAN) / STD).transpose(0, 3, 1, 2).copy()


def mask_target(mask: np.ndarray) -> np.ndarray:
    """The blend mask reduced to the mask head's resolution (S / 8)."""
    h, w = mask.shape
    return cv2.resize(mask, (w // MASK_STRIDE, h // MASK_STRIDE), interpolation=cv2.INTER_AREA)


def make_pair_batch(
    cache: CropCache, indices: np.ndarray, rng: np.random.Generator, augment: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, labels and mask targets for each real face followed by its self-blend.

    Keeping a face and its own blend in one batch is what makes the model look at the
    blending, not at identity or background.
    """
    size = cache.size
    m = size // MASK_STRIDE
    n = len(indices)
    images = np.empty((2 * n, size, size, 3), np.uint8)
    masks = np.zeros((2 * n, m, m), np.float32)
    labels = np.tile(np.array([0.0, 1.0], np.float32), n)
    for j, index in enumerate(indices):
        real = np.asarray(cache.crops[index])
        blended = self_blend(real, cache.landmarks[index], rng)
        fake, mask = blended.image, blended.mask
        if augment:
            real, fake, mask = shared_augment(real, fake, mask, rng)
        images[2 * j], images[2 * j + 1] = real, fake
        masks[2 * j + 1] = mask_target(mask)
    return to_input(images), labels, masks
