"""Generated sets of the ``synthetic`` detector, registered with :func:`train.manifest.generator`.

Each function rebuilds every file of its set from other manifest rows, deterministically
(fixed seeds, one thread), so ``python -m train.manifest rebuild`` reproduces the sha256s:

- ``synth-aligned`` (train/calibration): 128 px crops of the training photos and the same
  crops reconstructed through the tiny FLUX.2 autoencoder. Real and fake share content,
  size and framing; only the decoder's traces differ.
- ``synth-upsampler-ae`` (train/calibration): the same real crops through three small
  autoencoders of ours (nearest, bilinear, transposed-convolution up-sampling).
- ``synth-dev-dcgan``, ``synth-dev-taef2``, ``synth-dev-video`` (dev-eval): DCGAN faces,
  tiny-FLUX.2 reconstructions of development photos (a generator seen in training, reported
  apart), frames of the real videos in ``../shared/data/video-real``.
- ``synth-eval-q90`` (dev-eval): every development image after the common re-encoding
  (decoded, metadata dropped, at most 1024 px, JPEG quality 90) as ``real/SET/...`` and
  ``fake/SET/...``, the folder ``deepscreen eval`` reads.
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from train import manifest

from .autoencoders import UPSAMPLERS, DCGANGenerator, TinyAutoencoderF2, UpsamplerAutoencoder

TRAIN_REAL_SETS = ("synth-coco128", "synth-facemask-real", "synth-aaf-real")
CROP = 128
ALIGNED_COUNT = 600
CALIBRATION_EVERY = 10  # every 10th crop is held out for calibration
DERIVED = "derived from {sources} (their terms); reconstructions by {how}"
TAEF2_LICENCE = "the tiny FLUX.2 autoencoder of madebyollin/taesd (MIT)"


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def _to_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def _to_image(tensor: torch.Tensor) -> Image.Image:
    array = (tensor[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array)


def _save_png(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", optimize=False)
    return path


def _aligned_crop(image: Image.Image, rng: np.random.Generator, size: int = CROP) -> Image.Image:
    """A crop at a multiple of 8, half the time from a down-scaled copy (which also removes
    the source's own JPEG block grid, a trace only real photos would otherwise carry)."""
    if rng.random() < 0.5:
        factor = rng.uniform(0.5, 0.8)
        w, h = image.size
        if min(w, h) * factor >= 64:
            image = image.resize(
                (max(8, round(w * factor)), max(8, round(h * factor))), Image.Resampling.LANCZOS
            )
    w, h = image.size
    side = max(64, min(size, (min(w, h) // 8) * 8))
    x = int(rng.integers(0, (w - side) // 8 + 1)) * 8
    y = int(rng.integers(0, (h - side) // 8 + 1)) * 8
    return image.crop((x, y, x + side, y + side))


def _taef2(data_root: Path) -> TinyAutoencoderF2:
    weights = data_root / "synth-taesd"
    return TinyAutoencoderF2.load(weights / "taef2_encoder.pth", weights / "taef2_decoder.pth")


def _role(index: int) -> str:
    return "calibration" if index % CALIBRATION_EVERY == CALIBRATION_EVERY - 1 else "train"


def _rows(set_name: str, root: Path, files: Iterable[tuple[Path, str]], licence: str) -> list[manifest.Row]:
    rows = []
    for path, role in files:
        rows += manifest.rows_for_files(set_name, role, f"generated:{set_name}", "", root, [path], licence)
    return rows


@manifest.generator("synth-aligned")
def make_aligned(data_root: Path) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(19)
    # Only the training rows: the sets' calibration rows stay unseen, for the threshold.
    sources = [p for s in TRAIN_REAL_SETS for p in manifest.files_of(s, data_root, role="train")]
    picks = rng.choice(len(sources), size=min(ALIGNED_COUNT, len(sources)), replace=False)
    model = _taef2(data_root)
    root = data_root / "synth-aligned"
    out = []
    for i, k in enumerate(picks):
        crop = _aligned_crop(_rgb(sources[int(k)]), rng)
        name = f"{i:05d}.png"
        out.append((_save_png(crop, root / "real" / name), _role(i)))
        out.append(
            (_save_png(_to_image(model.reconstruct(_to_tensor(crop))), root / "taef2" / name), _role(i))
        )
    manifest.replace_set(
        "synth-aligned",
        _rows(
            "synth-aligned", root, out, DERIVED.format(sources=", ".join(TRAIN_REAL_SETS), how=TAEF2_LICENCE)
        ),
    )


def _train_autoencoder(upsampler: str, crops: list[torch.Tensor], steps: int = 800) -> UpsamplerAutoencoder:
    torch.manual_seed(UPSAMPLERS.index(upsampler))
    rng = np.random.default_rng(UPSAMPLERS.index(upsampler))
    model = UpsamplerAutoencoder(upsampler)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        batch = []
        for k in rng.integers(0, len(crops), 8):
            crop = crops[int(k)]
            y, x = (int(v) * 4 for v in rng.integers(0, (crop.shape[-1] - 64) // 4 + 1, 2))
            batch.append(crop[:, :, y : y + 64, x : x + 64])
        x = torch.cat(batch)
        loss = (model(x) - x).abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


@manifest.generator("synth-upsampler-ae")
def make_upsampler_ae(data_root: Path) -> None:
    torch.set_num_threads(1)
    real = sorted((data_root / "synth-aligned" / "real").glob("*.png"))
    train_crops = [
        _to_tensor(_rgb(p)) for p, i in zip(real, range(len(real)), strict=False) if _role(i) == "train"
    ][:400]
    root = data_root / "synth-upsampler-ae"
    out = []
    for upsampler in UPSAMPLERS:
        model = _train_autoencoder(upsampler, train_crops)
        with torch.no_grad():
            # Each autoencoder reconstructs a different third of the crops, so every real crop
            # has at most one fake twin here and the three up-samplers stay balanced.
            for i, path in enumerate(real):
                if i % len(UPSAMPLERS) != UPSAMPLERS.index(upsampler):
                    continue
                recon = model(_to_tensor(_rgb(path)))
                out.append((_save_png(_to_image(recon), root / upsampler / path.name), _role(i)))
    manifest.replace_set(
        "synth-upsampler-ae",
        _rows(
            "synth-upsampler-ae",
            root,
            out,
            DERIVED.format(
                sources="synth-aligned real crops",
                how="autoencoders trained by train/synthetic/generators.py",
            ),
        ),
    )


def _gan_face_weights() -> Path:
    # find_spec does not import the package (its modules import torchvision, which is not installed).
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pip install --no-deps gan-face-generate==1.1.1 (the train extra) first")
    return Path(next(iter(spec.submodule_search_locations))) / "weights.tar"


@manifest.generator("synth-dev-dcgan")
def make_dcgan(data_root: Path, count: int = 200) -> None:
    torch.manual_seed(0)
    generator = DCGANGenerator()
    state = torch.load(_gan_face_weights(), map_location="cpu", weights_only=True)
    generator.load_state_dict(state["netG_state_dict"])
    generator.eval()
    root = data_root / "synth-dev-dcgan"
    out = []
    with torch.no_grad():
        faces = generator(torch.randn(count, 100, 1, 1))
    for i, face in enumerate(faces):
        out.append((_save_png(_to_image((face[None] + 1) / 2), root / f"dcgan_{i:04d}.png"), "dev-eval"))
    manifest.replace_set(
        "synth-dev-dcgan",
        _rows(
            "synth-dev-dcgan",
            root,
            out,
            "DCGAN weights of the gan-face-generate package (MIT, trained on DigiFace1M): evaluation only",
        ),
    )


DEV_REAL_SETS = ("synth-dev-ffdnet-real", "synth-dev-utk-real")


@manifest.generator("synth-dev-taef2")
def make_dev_taef2(data_root: Path, count: int = 150) -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(7)
    sources = [p for s in DEV_REAL_SETS for p in manifest.files_of(s, data_root)]
    picks = rng.choice(len(sources), size=min(count, len(sources)), replace=False)
    model = _taef2(data_root)
    root = data_root / "synth-dev-taef2"
    out = []
    for i, k in enumerate(picks):
        crop = _aligned_crop(_rgb(sources[int(k)]), rng, size=256)
        out.append(
            (_save_png(_to_image(model.reconstruct(_to_tensor(crop))), root / f"{i:04d}.png"), "dev-eval")
        )
    manifest.replace_set(
        "synth-dev-taef2",
        _rows(
            "synth-dev-taef2", root, out, DERIVED.format(sources=", ".join(DEV_REAL_SETS), how=TAEF2_LICENCE)
        ),
    )


@manifest.generator("synth-dev-video")
def make_dev_video(data_root: Path, per_clip: int = 10, every_s: float = 1.5) -> None:
    import av

    root = data_root / "synth-dev-video"
    out = []
    for clip in sorted((manifest.DEFAULT_SHARED / "video-real").glob("*.mp4")):
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            next_time, taken = 0.0, 0
            for frame in container.decode(stream):
                if frame.time is None or frame.time < next_time:
                    continue
                image = frame.to_image()
                out.append((_save_png(image, root / f"{clip.stem}_{taken:02d}.png"), "dev-eval"))
                taken += 1
                next_time += every_s
                if taken >= per_clip:
                    break
    manifest.replace_set(
        "synth-dev-video",
        _rows(
            "synth-dev-video",
            root,
            out,
            "frames of ../shared/data/video-real (LivePortrait and MuseTalk example clips, MIT repositories)",
        ),
    )


# Development sets and their class; ML72's folder says which of its images are generated.
DEV_SETS = {
    "synth-dev-ffdnet-real": "real",
    "synth-dev-utk-real": "real",
    "synth-dev-video": "real",
    "synth-dev-ml72": "by-folder",
    "synth-dev-stylegan3": "fake",
    "synth-dev-sd1": "fake",
    "synth-dev-sd2": "fake",
    "synth-dev-comfyui": "fake",
    "synth-dev-dcgan": "fake",
    "synth-dev-taef2": "fake",
}
MAX_SIDE = 1024
GRID_SIDE = 1536  # sample grids larger than this are cut into 512 px tiles, one generated image each
TILE = 512


def common_reencode(image: Image.Image, quality: int = 90, max_side: int = MAX_SIDE) -> bytes:
    """What an upload pipeline does to both classes: decoded RGB, no metadata, <= max_side, JPEG."""
    image = image.convert("RGB")
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def dev_pieces(image: Image.Image) -> list[Image.Image]:
    """A sample grid becomes its tiles (at most 4, spread over the grid); any other image stays whole."""
    if max(image.size) <= GRID_SIDE:
        return [image]
    cols, rows = image.width // TILE, image.height // TILE
    cells = [(c, r) for r in range(rows) for c in range(cols)]
    chosen = cells[:: max(1, len(cells) // 4)][:4]
    return [image.crop((c * TILE, r * TILE, (c + 1) * TILE, (r + 1) * TILE)) for c, r in chosen]


@manifest.generator("synth-eval-q90")
def make_eval_q90(data_root: Path) -> None:
    root = data_root / "synth-eval-q90"
    out = []
    for set_name, label in DEV_SETS.items():
        for path in manifest.files_of(set_name, data_root, role="dev-eval"):
            cls = label if label != "by-folder" else ("fake" if "/ai/" in str(path) else "real")
            for k, piece in enumerate(dev_pieces(_rgb(path))):
                # The path inside the set, flattened: two sample folders may hold the same file name.
                flat = "__".join(path.relative_to(data_root / set_name).with_suffix("").parts)
                target = root / cls / set_name / f"{flat}_{k}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(common_reencode(piece))
                out.append((target, "dev-eval"))
    manifest.replace_set(
        "synth-eval-q90",
        _rows("synth-eval-q90", root, out, "the development sets above (their terms), re-encoded"),
    )
