"""The real and generated images the ``synthetic`` detector is trained and evaluated on.

Every set comes from a named public source at a fixed commit (or ``../shared/data``), is
copied under ``$DEEPSCREEN_DATA/SET/`` and listed in ``train/data-manifest.csv`` with its
licence. Roles are fixed here, per source, so no evaluation source can drift into training:
training uses real photos (COCO, a face-mask photo collection, All-Age-Faces' train split)
and their *reconstructions* (generators.py); the development evaluation uses other real
sources and generators never seen in training (StyleGAN3, DCGAN, Stable Diffusion 1/2,
the images of ML72's playground).

    python -m train.synthetic.sources            # copy every set, rewrite its manifest rows
    python -m train.synthetic.sources --set synth-coco128
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from train import manifest

MIRROR = manifest.DEFAULT_MIRROR
SHARED = manifest.DEFAULT_SHARED
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class GitSet:
    """Files of one repository at one commit, selected by path prefix and filter."""

    name: str
    role: str
    repo: str
    commit: str
    prefixes: tuple[str, ...]
    licence: str
    keep: Callable[[str], bool] = lambda path: True
    limit: int | None = None  # every k-th file so that at most `limit` remain (spread, not the first ones)
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES
    calibration_every: int = 0  # >0: every k-th file gets the role "calibration" (held out of training)


@dataclass(frozen=True)
class SharedSet:
    name: str
    role: str
    folder: str  # under ../shared/data
    files: Callable[[Path], list[str]]
    licence: str
    calibration_every: int = 0


def _aaf_split(split: str, every: int) -> Callable[[Path], list[str]]:
    def pick(root: Path) -> list[str]:
        names = [
            line.split()[0]
            for line in (root / "splits" / f"{split}.txt").read_text().splitlines()
            if line.strip()
        ]
        return [f"images/{name}" for name in names[::every]]

    return pick


def _generator_metadata_full(root: Path) -> list[str]:
    # Only the full-size generator outputs; the cropped ones are a few hundred pixels of metadata tests.
    return sorted(
        f"generator-metadata/{p.name}"
        for p in (root / "generator-metadata").glob("ComfyUI_full_*")
        if p.suffix in (".png",)
    )


_SD1_OUTPUTS = (
    "assets/a-painting-of-a-fire.png",
    "assets/a-photograph-of-a-fire.png",
    "assets/a-shirt-with-a-fire-printed-on-it.png",
    "assets/a-shirt-with-the-inscription-'fire'.png",
    "assets/a-watercolor-painting-of-a-fire.png",
    "assets/birdhouse.png",
    "assets/fire.png",
    "assets/the-earth-is-on-fire,-oil-on-canvas.png",
    "assets/txt2img-preview.png",
    "assets/stable-samples/txt2img/",
    "assets/stable-samples/img2img/mountains-",
)
_SD2_OUTPUTS = (
    "assets/stable-samples/txt2img/",
    "assets/stable-samples/depth2img/depth2img0",
    "assets/stable-samples/depth2img/merged-",
    "assets/stable-samples/stable-unclip/houses_out",
    "assets/stable-samples/stable-unclip/oldcar",
    "assets/stable-samples/stable-unclip/plates_out",
    "assets/stable-samples/stable-unclip/unclip-variations",
    "assets/stable-samples/upscaling/sampled-bear-x4",
    "assets/stable-samples/upscaling/snow-leopard-x4",
)

SETS: tuple[GitSet | SharedSet, ...] = (
    # --- the tiny FLUX.2 autoencoder whose reconstructions are the "aligned" training fakes -----
    GitSet(
        "synth-taesd",
        "train",
        "madebyollin/taesd",
        "5cccb12dc72074a4be35680c3b108548a7c69978",
        ("taef2_encoder.pth", "taef2_decoder.pth"),
        "MIT",
        suffixes=(".pth",),
    ),
    # --- training: real photos (their reconstructions are the training fakes) -------------------
    GitSet(
        "synth-coco128",
        "train",
        "lightly-ai/coco128_yolo",
        "6d6f7a059ea63efffdbe48aca2d52c04d4c510e9",
        ("images/train2017/", "images/val2017/"),
        "COCO 2017 images: Flickr photos under their owners' Creative Commons licences (per image, "
        "see COCO); annotations CC BY 4.0",
        calibration_every=3,
    ),
    GitSet(
        "synth-facemask-real",
        "train",
        "chandrikadeb7/Face-Mask-Detection",
        "7e500749401bad4bb338790fbdb89b58e41ef2d9",
        ("dataset/without_mask/",),
        "MIT (repository); photos of people without masks gathered by the author from public web "
        "datasets, per-image terms not stated",
        limit=1200,
        calibration_every=3,
    ),
    SharedSet(
        "synth-aaf-real",
        "train",
        "faces-aaf",
        _aaf_split("train", 4),
        "All-Age-Faces (Cheng et al.), research use, cite the dataset",
        calibration_every=3,
    ),
    # --- development evaluation: real photos from sources never trained on ----------------------
    GitSet(
        "synth-dev-ffdnet-real",
        "dev-eval",
        "cszn/FFDNet",
        "e787f46df2f374ff3591186706229cb9a0591fea",
        ("testsets/CBSD68/", "testsets/Kodak24/"),
        "CBSD68: Berkeley Segmentation Dataset (non-commercial research); Kodak24: Kodak test images "
        "released for unrestricted use",
    ),
    GitSet(
        "synth-dev-utk-real",
        "dev-eval",
        "Mohanish-5744/Major_Ensemble_Gender",
        "2f8aa4a5932c395d465f4f58d864b6a17a1b03f6",
        ("crop_part1/",),
        "UTKFace cropped faces (non-commercial research only): evaluation only",
        limit=300,
    ),
    GitSet(
        "synth-dev-ml72",
        "dev-eval",
        "ML72/AI-Image-Classifier-Playground",
        "ea2c9f30f2bf2110b1882c4508bab0cbd6f13c02",
        ("data/images/real/", "data/images/ai/"),
        "MIT (repository); the author states the images were chosen to be free of copyright "
        "restrictions (real: nature, animals, people, food, city; ai: GANs and diffusion models)",
    ),
    # --- development evaluation: generated images of generators never trained on ----------------
    GitSet(
        "synth-dev-stylegan3",
        "dev-eval",
        "sklinderton/vit-real-vs-fake-faces",
        "22d99a04bf2599878981459a48b1cfbac1b8a527",
        ("dashboard/assets/stylegan3_pool/",),
        "no licence stated by the repository; StyleGAN3-R FFHQ outputs (NVIDIA Source Code License, "
        "non-commercial): evaluation only",
        keep=lambda p: p.endswith(".png"),
    ),
    GitSet(
        "synth-dev-sd1",
        "dev-eval",
        "CompVis/stable-diffusion",
        "21f890f9da3cfbeaba8e2ac3c425ee9e998d5229",
        _SD1_OUTPUTS,
        "MIT (repository code); samples of Latent/Stable Diffusion v1 (CreativeML OpenRAIL-M model)",
    ),
    GitSet(
        "synth-dev-sd2",
        "dev-eval",
        "Stability-AI/stablediffusion",
        "cf1d67a6fd5ea1aa600c4df58e5b47da45f6bdbf",
        _SD2_OUTPUTS,
        "MIT (repository code); samples of Stable Diffusion 2.x (CreativeML OpenRAIL++-M model)",
    ),
    SharedSet(
        "synth-dev-comfyui",
        "dev-eval",
        "provenance",
        _generator_metadata_full,
        "sd-parsers test resources (MIT) and ComfyUI_examples: full ComfyUI outputs (SDXL-Turbo, "
        "SD1 LoRA, Flux depth LoRA, hypernetwork, img2img)",
    ),
)


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def _git_dir(repo: str) -> Path:
    local = MIRROR / repo.replace("/", "+") / "repo"
    if not (local / "HEAD").exists():
        raise SystemExit(f"{repo}: no mirror at {local}; fetch it first")
    return local


def copy_git_set(spec: GitSet, data_root: Path) -> list[manifest.Row]:
    git_dir = _git_dir(spec.repo)
    listing = _git(git_dir, "ls-tree", "-r", "-l", spec.commit, "--").decode().splitlines()
    paths = []
    for line in listing:
        meta, path = line.split("\t", 1)
        size = meta.split()[3]
        if not size.isdigit():  # "BAD" or "-": content absent from the snapshot
            continue
        if path.lower().endswith(spec.suffixes) and path.startswith(spec.prefixes) and spec.keep(path):
            paths.append(path)
    paths.sort()
    if spec.limit and len(paths) > spec.limit:
        step = len(paths) / spec.limit
        paths = [paths[int(i * step)] for i in range(spec.limit)]
    root = data_root / spec.name
    files = []
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(_git(git_dir, "show", f"{spec.commit}:{path}"))
        files.append(target)
    rows = manifest.rows_for_files(
        spec.name, spec.role, f"github:{spec.repo}", spec.commit, root, files, spec.licence
    )
    return _hold_out(rows, spec.calibration_every)


def _hold_out(rows: list[manifest.Row], every: int) -> list[manifest.Row]:
    """Every ``every``-th row (in path order) becomes a calibration row: real photos of the
    training sources that training never sees, on which the threshold is set."""
    if not every:
        return rows
    return [
        manifest.Row(r.set, "calibration", r.source, r.commit, r.path, r.sha256, r.licence)
        if i % every == every - 1
        else r
        for i, r in enumerate(sorted(rows, key=lambda r: r.path))
    ]


def copy_shared_set(spec: SharedSet, data_root: Path) -> list[manifest.Row]:
    origin = SHARED / spec.folder
    root = data_root / spec.name
    files = []
    for rel in spec.files(origin):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes((origin / rel).read_bytes())
        files.append(target)
    rows = manifest.rows_for_files(
        spec.name, spec.role, f"shared:{spec.folder}", "", root, files, spec.licence
    )
    return _hold_out(rows, spec.calibration_every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.synthetic.sources",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--set", action="append", dest="sets")
    args = parser.parse_args(argv)
    for spec in SETS:
        if args.sets and spec.name not in args.sets:
            continue
        rows = (
            copy_git_set(spec, args.data_root)
            if isinstance(spec, GitSet)
            else copy_shared_set(spec, args.data_root)
        )
        # Byte-identical files (the same sample in two folders) are kept once.
        unique = list({row.sha256: row for row in rows}.values())
        manifest.replace_set(spec.name, unique)
        print(f"{spec.name}: {len(unique)} files ({spec.role})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
