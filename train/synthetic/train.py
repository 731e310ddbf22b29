"""Train the NPR patch model on aligned real/reconstruction crops, on one CPU thread.

    nice -n 10 python -m train.synthetic.train --steps 3000      # resumes if the checkpoint exists
    python -m train.synthetic.train --no-npr --checkpoint train/checkpoints/synthetic-rgb.ckpt

The checkpoint (one file, ``train/checkpoints/synthetic.ckpt`` by default) holds the model,
the optimiser, the step, the random state and the log, so a stopped run resumes where it
stopped. Every ``--eval-every`` steps the patch AUC on the calibration crops (JPEG q90) is
logged.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from deepscreen.evaluate import roc_auc
from train import manifest

from .data import fixed_patches, load_pool, sample_batch
from .model import NPRPatchNet

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "synthetic.ckpt"


def to_tensor(patches: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(patches).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def patch_auc(model: NPRPatchNet, patches: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    logits = torch.cat([model(to_tensor(patches[i : i + 256])) for i in range(0, len(patches), 256)])
    model.train()
    p_fake = 1.0 - torch.softmax(logits, 1)[:, 0]
    return roc_auc((labels != 0).astype(int), p_fake.numpy())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.synthetic.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--no-npr", action="store_true", help="ablation: the same CNN on RGB, no residual")
    parser.add_argument(
        "--upscale-p",
        type=float,
        default=0.0,
        help="share of samples up-scaled 1.2-2x, both classes (v3 ablation: 0.25)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    train_pool = load_pool(args.data_root, "train")
    val_patches, val_labels = fixed_patches(load_pool(args.data_root, "calibration"))
    print(f"train crops {len(train_pool.crops)}, calibration patches {len(val_patches)}", flush=True)

    model = NPRPatchNet(use_npr=not args.no_npr)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, log = 0, []
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    if args.checkpoint.exists():
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step, log = state["step"], state["log"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed at step {step}", flush=True)

    def save() -> None:
        args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.checkpoint.with_suffix(".tmp")
        torch.save(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "step": step,
                "log": log,
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "use_npr": not args.no_npr,
                "upscale_p": args.upscale_p,
                "steps": args.steps,
            },
            tmp,
        )
        tmp.replace(args.checkpoint)  # never a half-written checkpoint

    model.train()
    started, losses = time.time(), []
    while step < args.steps:
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in optimiser.param_groups:
            group["lr"] = lr
        patches, labels = sample_batch(train_pool, rng, args.batch, args.upscale_p)
        logits = model(to_tensor(patches))
        loss = F.cross_entropy(logits, torch.from_numpy(labels))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        step += 1
        if step % args.eval_every == 0 or step == args.steps:
            auc = patch_auc(model, val_patches, val_labels)
            entry = {
                "step": step,
                "loss": round(float(np.mean(losses)), 4),
                "calibration_patch_auc": round(auc, 4),
                "lr": round(lr, 6),
                "s_per_step": round((time.time() - started) / len(losses), 3),
            }
            log.append(entry)
            print(json.dumps(entry), flush=True)
            losses, started = [], time.time()
            save()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
