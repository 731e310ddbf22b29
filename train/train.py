"""The SBI training loop: paired batches, BCE on logit and mask, cosine LR, checkpoints.

Resumable: ``last.pt`` holds model, optimiser, epoch and batch position; batch contents
depend only on (seed, epoch, batch), so a resumed run sees the same data it would have.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from tqdm import tqdm

from .batches import BatchSource
from .data import CropCache, build_crop_cache, make_pair_batch, read_split
from .metrics import roc_auc
from .model import FaceSBINet
from .video_frames import build_video_cache, concat_caches, mean_shape

log = logging.getLogger("deepscreen.train")


@dataclass
class Split:
    train: CropCache
    train_index: np.ndarray
    holdout_index: np.ndarray


def load_config(path: Path) -> dict[str, Any]:
    config = yaml.safe_load(Path(path).read_text())
    for section in ("data", "model", "train"):
        if section not in config:
            raise ValueError(f"{path}: missing section '{section}'")
    return config


def prepare_data(config: dict[str, Any]) -> Split:
    """Build (or reuse) the crop cache of the train split and carve out the holdout slice."""
    data, model = config["data"], config["model"]
    for key in ("image_dir", "landmarks", "train_split"):
        if not Path(data[key]).exists():
            raise FileNotFoundError(
                f"data.{key} = {data[key]} not found (relative paths are taken from the "
                f"working directory {Path.cwd()})"
            )
    size, margin = int(model["input_size"]), float(model["align_margin"])
    names = read_split(Path(data["train_split"]))
    cache = build_crop_cache(
        Path(data["image_dir"]), Path(data["landmarks"]), names,
        Path(data["cache_dir"]) / f"aaf-train-{size}", size, margin,
    )
    order = np.random.default_rng(int(config["train"]["seed"])).permutation(len(cache))
    holdout = round(len(cache) * float(data["holdout_fraction"]))
    train_index, holdout_index = np.sort(order[holdout:]), np.sort(order[:holdout])
    clips = video_training_clips(data)
    if clips:
        # The holdout slice stays photos only, so its AUC is comparable across runs.
        video = build_video_cache(clips, Path(data["cache_dir"]) / f"video-train-{size}",
                                  size, margin, mean_shape(cache), float(data["video_fps"]))
        train_index = np.concatenate([train_index, len(cache) + np.arange(len(video))])
        cache = concat_caches(cache, video)
        log.info("video-real: %d clips, %d face frames added to training", len(clips),
                 len(video))
    return Split(cache, train_index, holdout_index)


def video_training_clips(data: dict[str, Any]) -> list[Path]:
    """The ``video_dir`` clips used for training: all but the calibration clips.

    The clips named in ``video_calibration_clips`` are never trained on; `train.package`
    calibrates the threshold on them (held-out real video).
    """
    if not data.get("video_dir"):
        return []
    folder = Path(data["video_dir"])
    if not folder.is_dir():
        raise FileNotFoundError(f"data.video_dir = {folder} not found")
    held_out = set(data.get("video_calibration_clips") or [])
    return sorted(p for p in folder.glob("*.mp4") if p.name not in held_out)


def lr_at(progress: float, base: float, warmup_fraction: float) -> float:
    """Linear warmup, then cosine decay to zero, over training progress in [0, 1]."""
    if progress < warmup_fraction:
        return base * max(progress, 1e-3) / warmup_fraction
    rest = min(1.0, (progress - warmup_fraction) / max(1e-9, 1.0 - warmup_fraction))
    return base * 0.5 * (1.0 + math.cos(math.pi * rest))


def run_progress(step: int, total_steps: int, seconds: float, budget_s: float | None) -> float:
    """How far training is, by steps or by the time budget, whichever is further.

    On a shared CPU the step rate is unpredictable; with a budget the cosine schedule still
    reaches zero when the time is up, instead of being cut off at a high learning rate.
    """
    by_steps = step / max(1, total_steps)
    return max(by_steps, seconds / budget_s) if budget_s else by_steps


def resolve_device(name: str | None) -> torch.device:
    """``auto`` (the default): the GPU when torch sees one, else the CPU; or ``cpu``/``cuda``."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"train.device = {name}, but torch sees no CUDA GPU "
                         f"(torch {torch.__version__}); use 'auto' or 'cpu'")
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda[:N], got {name!r}")
    return torch.device(name)


def predict(model: FaceSBINet, inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """Sigmoid scores of the logit head for N x 3 x S x S normalised inputs."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(inputs), batch):
            x = torch.from_numpy(inputs[i : i + batch]).to(device)
            x = x.to(memory_format=torch.channels_last)
            out.append(torch.sigmoid(model(x)[0]).float().cpu().numpy())
    return np.concatenate(out)


def holdout_auc(model: FaceSBINet, split: Split, seed: int) -> tuple[float, float]:
    """AUC of real vs self-blended holdout faces (same fixed blends every epoch), and the
    mean real score (a drift check)."""
    rng = np.random.default_rng([seed, 10_000])
    inputs, labels, _ = make_pair_batch(split.train, split.holdout_index, rng, augment=False)
    scores = predict(model, inputs)
    return roc_auc(labels, scores), float(scores[labels == 0].mean())


def save_checkpoint(path: Path, **state: Any) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a kill mid-write never leaves a broken checkpoint


def train(config_path: Path, resume: bool = False) -> Path:
    """Run (or resume) training; returns the path of the best checkpoint."""
    config = load_config(config_path)
    cfg = config["train"]
    out_dir = Path(config["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:
        log.removeHandler(old)  # a previous run in this process logged elsewhere
        old.close()
    handler = logging.FileHandler(out_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    torch.set_num_threads(int(cfg["threads"]))
    device = resolve_device(cfg.get("device"))
    seed = int(cfg["seed"])
    torch.manual_seed(seed)

    split = prepare_data(config)
    model = FaceSBINet(pretrained=True, dropout=float(config["model"]["dropout"]))
    model.freeze_stem(int(config["model"]["freeze_stages"]))
    model = model.to(device, memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=float(cfg["lr"]),
                                  weight_decay=float(cfg["weight_decay"]))

    pairs = int(cfg["pairs_per_batch"])
    batches_per_epoch = len(split.train_index) // pairs
    if cfg.get("limit_batches"):  # smoke runs: a few batches per epoch
        batches_per_epoch = min(batches_per_epoch, int(cfg["limit_batches"]))
    epochs = int(cfg["epochs"])
    total_steps = epochs * batches_per_epoch
    budget_s = 60.0 * float(cfg["max_minutes"]) if cfg.get("max_minutes") else None
    warmup_fraction = int(cfg["warmup_steps"]) / max(1, total_steps)
    start_epoch, start_batch, best_auc, history, seconds = 0, 0, -1.0, [], 0.0
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if resume and last_path.exists():
        state = torch.load(last_path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, start_batch = state["epoch"], state["batch"]
        best_auc, history = state["best_auc"], state["history"]
        seconds = float(state.get("seconds", 0.0))
        log.info("resumed from %s at epoch %d batch %d", last_path, start_epoch, start_batch)
    log.info("train faces %d, holdout %d, %d batches/epoch, %d epochs, size %d, device %s",
             len(split.train_index), len(split.holdout_index), batches_per_epoch, epochs,
             split.train.size, device)

    def checkpoint(epoch: int, batch: int) -> None:
        save_checkpoint(last_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                        epoch=epoch, batch=batch, best_auc=best_auc, history=history,
                        seconds=seconds, config=config)

    def evaluate(epoch: int, loss: float, partial: bool) -> None:
        nonlocal best_auc
        auc, real_mean = holdout_auc(model, split, seed)
        history.append({"epoch": epoch, "partial": partial, "holdout_auc": auc,
                        "real_mean_score": real_mean, "train_loss": loss,
                        "train_minutes": round(seconds / 60.0, 1)})
        log.info("epoch %d%s done: holdout AUC %.4f, mean real score %.3f, loss %.4f",
                 epoch, " (partial)" if partial else "", auc, real_mean, loss)
        if auc > best_auc:
            best_auc = auc
            save_checkpoint(best_path, model=model.state_dict(), epoch=epoch,
                            holdout_auc=auc, config=config)

    # Batches are made in-process, or ahead by worker processes (a GPU would otherwise wait).
    with BatchSource(split.train, seed, pairs, workers=int(cfg.get("loader_workers", 0))) as source:
        last_save = time.monotonic()
        done = run_progress(start_epoch * batches_per_epoch + start_batch, total_steps, seconds,
                            budget_s) >= 1.0
        for epoch in range(start_epoch, epochs):
            if done:
                break
            model.train()
            first = start_batch if epoch == start_epoch else 0
            batches = source.epoch(split.train_index, epoch, first, batches_per_epoch)
            bar = tqdm(range(first, batches_per_epoch), desc=f"epoch {epoch + 1}/{epochs}",
                       mininterval=30, ascii=True)
            running, seen, started, batch = 0.0, 0, time.monotonic(), first
            for batch in bar:
                step_started = time.monotonic()
                step = epoch * batches_per_epoch + batch
                progress = run_progress(step, total_steps, seconds, budget_s)
                if progress >= 1.0:
                    done = True
                    break
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(progress, float(cfg["lr"]), warmup_fraction)
                inputs, labels, masks = next(batches)
                x = torch.from_numpy(inputs).to(device).to(memory_format=torch.channels_last)
                # bfloat16 autocast on a GPU (no loss scaling needed); plain float32 on the CPU.
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    logit, mask_logit = model(x)
                cls_loss = F.binary_cross_entropy_with_logits(
                    logit.float(), torch.from_numpy(labels).to(device))
                mask_loss = F.binary_cross_entropy_with_logits(
                    mask_logit.squeeze(1).float(), torch.from_numpy(masks).to(device))
                loss = cls_loss + float(cfg["mask_loss_weight"]) * mask_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                seconds += time.monotonic() - step_started
                running += loss.item()
                seen += 1
                if seen % int(cfg["log_every"]) == 0:
                    rate = seen * len(inputs) / (time.monotonic() - started)
                    log.info("epoch %d batch %d/%d loss %.4f (cls %.4f mask %.4f) lr %.2e "
                             "%.1f img/s, progress %.1f%%", epoch + 1, batch + 1,
                             batches_per_epoch, running / seen, cls_loss.item(), mask_loss.item(),
                             optimizer.param_groups[0]["lr"], rate, 100 * progress)
                    bar.set_postfix(loss=f"{running / seen:.4f}")
                if time.monotonic() - last_save > 60 * float(cfg["checkpoint_minutes"]):
                    checkpoint(epoch, batch + 1)
                    last_save = time.monotonic()
            if done:  # the time budget ran out mid-epoch: score and keep what was learned
                if seen:
                    evaluate(epoch + 1, running / seen, partial=True)
                checkpoint(epoch, batch)
                break
            evaluate(epoch + 1, running / max(seen, 1), partial=False)
            checkpoint(epoch + 1, 0)
            last_save = time.monotonic()
    (out_dir / "history.json").write_text(json.dumps(history, indent=2))
    log.info("finished: best holdout AUC %.4f -> %s", best_auc, best_path)
    return best_path


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=Path("train/config.yaml"))
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.config, args.resume)


if __name__ == "__main__":
    main()
