"""Export the trained patch model to ONNX and calibrate its threshold on held-out real photos.

    python -m train.synthetic.export                       # -> src/deepscreen/models/synthetic_npr.*
    python -m train.synthetic.export --checkpoint X.ckpt --out-dir /tmp/model

The threshold is set on the calibration rows of the training sources (real photos training
never saw), after the common re-encoding (<= 1024 px, JPEG q90): the lowest score at which
at most ``--max-fpr`` of them are flagged. The development sets play no part in it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from deepscreen.evaluate import roc_auc
from deepscreen.synthetic import SyntheticDetector, SyntheticModel
from train import manifest

from .generators import TRAIN_REAL_SETS, common_reencode
from .model import CLASSES, PATCH, NPRPatchNet
from .train import DEFAULT_CHECKPOINT

MODELS_DIR = Path(__file__).resolve().parents[2] / "src" / "deepscreen" / "models"
GRID = 4


def export_onnx(model: NPRPatchNet, path: Path) -> None:
    model.eval()
    dummy = torch.rand(2, 3, PATCH, PATCH)
    torch.onnx.export(
        model,
        (dummy,),
        str(path),
        input_names=["patches"],
        output_names=["logits"],
        dynamic_axes={"patches": {0: "n"}, "logits": {0: "n"}},
        opset_version=17,
        dynamo=False,
    )


def decoded_q90(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        data = common_reencode(im)
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def calibrate(detector: SyntheticDetector, data_root: Path, max_fpr: float) -> dict[str, object]:
    reals = [p for s in TRAIN_REAL_SETS for p in manifest.files_of(s, data_root, role="calibration")]
    scores = []
    for path in reals:
        rgb = decoded_q90(path)
        if min(rgb.shape[:2]) >= detector.min_side:
            scores.append(detector.score(rgb).score)
    values = np.sort(np.asarray(scores))
    allowed = int(np.floor(max_fpr * len(values)))  # reals allowed at or above the threshold
    threshold = float(np.nextafter(values[len(values) - allowed - 1], 1.0)) if allowed < len(values) else 0.5
    threshold = min(max(threshold, 0.5), 0.999)  # never below even odds
    fakes = [
        p
        for p in manifest.files_of("synth-aligned", data_root, role="calibration")
        if p.parent.name == "taef2"
    ]
    fake_scores = [detector.score(decoded_q90(p)).score for p in fakes]
    labels = [0] * len(scores) + [1] * len(fake_scores)
    return {
        "threshold": threshold,
        "reals": len(scores),
        "max_fpr": max_fpr,
        "real_flagged": float(np.mean(values >= threshold)),
        "aligned_fakes": len(fake_scores),
        "aligned_fakes_flagged": float(np.mean(np.asarray(fake_scores) >= threshold)),
        "auc_reals_vs_aligned_fakes": roc_auc(labels, scores + fake_scores),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.synthetic.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--max-fpr", type=float, default=0.01)
    parser.add_argument("--version", default="1")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    model = NPRPatchNet(use_npr=state.get("use_npr", True))
    model.load_state_dict(state["model"])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = args.out_dir / "synthetic_npr.onnx", args.out_dir / "synthetic_npr.json"
    export_onnx(model, onnx_path)
    meta = {
        "name": "synthetic_npr",
        "version": args.version,
        "patch": PATCH,
        "grid": GRID,
        "classes": list(CLASSES),
        "input_name": "patches",
        "output_name": "logits",
        "input": "N x 3 x 64 x 64 RGB in [0, 1] (the NPR residual is computed inside the graph)",
        "threshold": 0.5,
        "attribution_min_share": 0.7,
        "trained": {
            "steps": state["step"],
            "npr": state.get("use_npr", True),
            "log_tail": state["log"][-3:],
            "date": datetime.now(UTC).date().isoformat(),
        },
    }
    json_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    detector = SyntheticDetector(SyntheticModel(args.out_dir))
    meta["calibration"] = calibrate(detector, args.data_root, args.max_fpr)
    meta["threshold"] = round(float(meta["calibration"]["threshold"]), 4)  # type: ignore[index]
    json_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(meta["calibration"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
