"""Export the trained voice CNN to ``src/deepscreen/models/voice_detector.onnx`` (+ ``.json``).

The graph includes the per-band normalisation learned from the training windows, so the
run time feeds it the raw output of :func:`deepscreen.voice.features.log_bands`. The time
axis is dynamic (the network pools over time). The export is checked against PyTorch on real
cached windows, and the JSON carries the threshold (an item probability), calibration and
development metrics from the training report.

``python -m train.voice.export [--checkpoint train/checkpoints/voice_cnn.pt]``
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscreen.voice.detector import FEATURE_VERSION, MODEL_STEM, MODELS_DIR
from deepscreen.voice.features import N_BANDS, WINDOW_FRAMES

from .model import BandCNN, parameter_count
from .train import CHECKPOINT, REPORTS

INPUT, OUTPUT = "bands", "logit"


class _Normalised(nn.Module):
    def __init__(self, model: BandCNN, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.model = model.eval()
        self.register_buffer("mean", torch.from_numpy(mean.astype(np.float32))[None, :, None])
        self.register_buffer("std", torch.from_numpy(std.astype(np.float32))[None, :, None])

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        return self.model((bands - self.mean) / self.std)


def load_checkpoint(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    saved = torch.load(path, weights_only=False)
    model = BandCNN(tuple(saved["widths"]))
    best = saved["state"].get("best_state") or saved["model"]
    model.load_state_dict(best)
    return _Normalised(model, saved["mean"], saved["std"]).eval(), saved


def export(module: nn.Module, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, N_BANDS, WINDOW_FRAMES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (dummy,), str(path), input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch", 2: "frames"}, OUTPUT: {0: "batch"}},
                          opset_version=17, dynamo=False)
    return path


def max_difference(module: nn.Module, path: Path, bands: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = module(torch.from_numpy(bands)).numpy()
    got = session.run([OUTPUT], {INPUT: bands})[0]
    return float(np.abs(expected - got).max())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.export", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--report", type=Path, default=REPORTS / "voice_cnn_report.json")
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--version", default="cnn-lfb64-v1")
    args = parser.parse_args(argv)
    module, saved = load_checkpoint(args.checkpoint)
    report = json.loads(args.report.read_text())
    onnx_path = export(module, args.out / f"{MODEL_STEM}.onnx")
    probe = np.random.default_rng(0).normal(0, 2, size=(4, N_BANDS, WINDOW_FRAMES)).astype(np.float32)
    diff = max_difference(module, onnx_path, probe)
    if diff > 1e-3:
        raise SystemExit(f"ONNX and PyTorch disagree by {diff:.2e}")
    threshold_logit = float(report["threshold"])
    metadata = {
        "name": "voice-cnn", "version": args.version, "feature_version": FEATURE_VERSION,
        "input_name": INPUT, "output_name": OUTPUT,
        "threshold": round(float(1 / (1 + np.exp(-threshold_logit))), 6),
        "threshold_logit": round(threshold_logit, 5),
        "trained": {"steps": saved["state"]["step"], "parameters": parameter_count(module.model),
                    "best_calibration_auc": saved["state"]["best"], "onnx_max_abs_diff": diff},
        "calibration": {"rule": "at most 1% of the calibration reals (all conditions) score above",
                        "auc": report["calibration"]},
        "metrics": {k: report[k] for k in ("dev_overall_neural", "dev_with_classical", "real_flagged_dev",
                                           "real_flagged_dev_clean", "per_condition", "per_fake_set",
                                           "per_real_set")},
    }
    (args.out / f"{MODEL_STEM}.json").write_text(json.dumps(metadata, indent=1) + "\n")
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1024:.0f} KiB), max |diff| {diff:.2e}, "
          f"threshold {metadata['threshold']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
