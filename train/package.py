"""Turn a training run into the shipped model: export, check, calibrate, evaluate, install.

Steps (``python -m train.package --run runs/NAME [--install]``):

1. export the best checkpoint to ONNX and check onnxruntime against torch on real crops;
2. score held-out real faces: the aligned All-Age-Faces ``val.txt`` crops (never trained on)
   and every face the runtime pipeline finds in the ``video-real`` clips the run did not
   train on (its ``video_calibration_clips``);
3. set the threshold so at most 1% of the faces of each real set score above it;
4. evaluate on the FF++ c23 development videos through the runtime pipeline (``faces``
   signal: MTCNN, alignment, tracks) at video and frame level;
5. write ``face_sbi.json`` (the runtime contract) with calibration and metrics, and with
   ``--install`` copy both files into ``src/deepscreen/models``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deepscreen.config import ScanConfig
from deepscreen.evaluate import (
    FAKE,
    REAL,
    FileResult,
    LabelledFile,
    auc_confidence_interval,
    evaluate_files,
)
from deepscreen.faces.model import FaceModel

from .data import build_crop_cache, read_split, to_input
from .export import (
    export_onnx,
    fold_padding_into_convs,
    model_from_checkpoint,
    model_metadata,
    store_weights_as_fp16,
    torch_onnx_max_diff,
    write_metadata,
)
from .metrics import roc_auc, threshold_at_fpr
from .train import video_training_clips

log = logging.getLogger("deepscreen.train.package")
MODELS_DIR = Path(__file__).resolve().parents[1] / "src" / "deepscreen" / "models"
MAX_FPR = 0.01


def score_crops(model_dir: Path, crops: np.ndarray) -> np.ndarray:
    """Scores of aligned crops through the runtime's own ONNX wrapper."""
    model = FaceModel(model_dir, threads=2, batch_size=64)
    return np.concatenate([model.predict(np.asarray(crops[i : i + 512])).scores
                           for i in range(0, len(crops), 512)])


def screen_videos(model_dir: Path, files: list[LabelledFile]) -> list[FileResult]:
    """Run videos through the runtime pipeline with the candidate model."""
    config = ScanConfig(signals=("faces",),
                        signal_options={"faces": {"model_dir": str(model_dir), "threads": 2}})
    return list(evaluate_files(files, config, signal="faces", workers=1))


def _fpr(scores: np.ndarray, threshold: float) -> float:
    return float((scores > threshold).mean()) if len(scores) else float("nan")


def package(run_dir: Path, data_root: Path, checkpoint: str, install: bool,
            limit_val: int | None = None) -> dict[str, Any]:
    model, state = model_from_checkpoint(run_dir / checkpoint)
    config = state["config"]
    size, margin = int(config["model"]["input_size"]), float(config["model"]["align_margin"])
    out = run_dir / "model"
    out.mkdir(exist_ok=True)
    onnx_path = export_onnx(model, out / "face_sbi.onnx", size)
    log.info("folded %d Pad nodes into their convolutions", fold_padding_into_convs(onnx_path))
    version = f"sbi-lite0-{size}-e{state['epoch']}"
    trained = dt.date.today().isoformat()
    # A provisional JSON (no threshold yet) lets the runtime load the candidate for scoring.
    write_metadata(out / "face_sbi.json",
                   model_metadata(size, margin, None, version, trained, {}, {}))

    faces = data_root / "faces-aaf"
    val = build_crop_cache(faces / "images", faces / "landmarks49.csv",
                           read_split(faces / "splits" / "val.txt"),
                           Path(config["data"]["cache_dir"]) / f"aaf-val-{size}", size, margin)
    check = to_input(np.asarray(val.crops[:64]))
    max_diff = torch_onnx_max_diff(model, onnx_path, check)
    log.info("torch vs onnxruntime (float32 file) max |diff| on 64 val crops: %.2e", max_diff)
    store_weights_as_fp16(onnx_path)  # the shipped file; everything below scores this one
    with torch.inference_mode():
        torch_scores = torch.sigmoid(model(torch.from_numpy(check))[0]).numpy()
    fp16_score_diff = float(np.abs(score_crops(out, val.crops[:64]) - torch_scores).max())
    log.info("float16-weight file: max |score diff| vs torch %.2e", fp16_score_diff)
    aaf_scores = score_crops(out, val.crops[:limit_val])
    log.info("AAF val: %d faces, mean score %.4f", len(aaf_scores), aaf_scores.mean())

    # Real clips the run trained on (if any) cannot calibrate; they are reported apart.
    trained_on = {p.name for p in video_training_clips(config["data"])}
    real_videos = sorted((data_root / "video-real").glob("*.mp4"))
    real_results = screen_videos(out, [LabelledFile(p, REAL) for p in real_videos])
    held_out = [r for r in real_results if Path(r.path).name not in trained_on]
    seen = [r for r in real_results if Path(r.path).name in trained_on]
    real_frames = np.array([s for r in held_out for _, s in r.frame_scores])
    real_items = np.array([r.score for r in held_out if r.score is not None])
    seen_frames = np.array([s for r in seen for _, s in r.frame_scores])
    log.info("video-real: %d held-out clips scored, %d frames with faces (%d trained-on clips "
             "reported apart)", len(real_items), len(real_frames), len(seen))

    # Each real set on its own must stay within the FPR budget, so take the stricter one.
    threshold = max(threshold_at_fpr(aaf_scores, MAX_FPR),
                    threshold_at_fpr(real_frames, MAX_FPR) if len(real_frames) else 0.0)
    ffpp = sorted((data_root / "eval-dev" / "ffpp-c23").glob("*.mp4"))
    ffpp_results = screen_videos(
        out, [LabelledFile(p, FAKE if p.name.startswith("fake_") else REAL) for p in ffpp])
    scored = [r for r in ffpp_results if r.score is not None]
    video_labels = np.array([r.label for r in scored])
    video_scores = np.array([r.score for r in scored])
    frame_labels = np.array([r.label for r in scored for _ in r.frame_scores])
    frame_scores = np.array([s for r in scored for _, s in r.frame_scores])
    frame_videos = np.array([i for i, r in enumerate(scored) for _ in r.frame_scores])

    calibration = {
        "rule": f"at most {MAX_FPR:.0%} of the faces of each held-out real set score above",
        "real_faces": {"faces-aaf val.txt aligned crops (landmark alignment)": len(aaf_scores),
                       "video-real held-out clips' frames via the runtime pipeline (MTCNN)":
                           len(real_frames)},
        "video_real_held_out_clips": sorted(Path(r.path).name for r in held_out),
        "fpr_at_threshold": {"faces-aaf-val": _fpr(aaf_scores, threshold),
                             "video-real-frames": _fpr(real_frames, threshold),
                             "video-real-clips": _fpr(real_items, threshold)},
        "trained_on_video_real_clips": {
            "clips": len(seen), "frames": len(seen_frames),
            "fpr_at_threshold_frames": _fpr(seen_frames, threshold)},
    }
    metrics = {
        "holdout_auc_train_slice_sbi": state.get("holdout_auc"),
        "epochs": state["epoch"],
        "onnx_vs_torch_max_abs_diff_float32_file": max_diff,
        "shipped_fp16_weights_max_score_diff_vs_torch": fp16_score_diff,
        "ffpp_c23_dev": {
            "videos": {"real": int((video_labels == REAL).sum()),
                       "fake": int((video_labels == FAKE).sum()),
                       "abstained": len(ffpp_results) - len(scored)},
            "video_auc": roc_auc(video_labels, video_scores),
            "video_auc_ci95": auc_confidence_interval(video_labels, video_scores),
            "frame_auc": roc_auc(frame_labels, frame_scores),
            "frame_auc_ci95_by_video": auc_confidence_interval(frame_labels, frame_scores,
                                                               frame_videos),
            "frames": {"real": int((frame_labels == REAL).sum()),
                       "fake": int((frame_labels == FAKE).sum())},
            "video_scores": {Path(r.path).stem: round(float(r.score), 4) for r in scored},
            "fake_videos_above_threshold": int((video_scores[video_labels == FAKE]
                                                > threshold).sum()),
        },
    }
    meta = model_metadata(size, margin, round(threshold, 6), version, trained, calibration,
                          metrics)
    write_metadata(out / "face_sbi.json", meta)
    if install:
        for name in ("face_sbi.onnx", "face_sbi.json"):
            shutil.copyfile(out / name, MODELS_DIR / name)
        log.info("installed into %s", MODELS_DIR)
    return meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--checkpoint", default="best.pt")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--install", action="store_true",
                        help="copy face_sbi.onnx/.json into src/deepscreen/models")
    parser.add_argument("--limit-val", type=int, default=None,
                        help="score only the first N val faces (a quick dry run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    meta = package(args.run, args.data, args.checkpoint, args.install, args.limit_val)
    print(json.dumps({k: meta[k] for k in ("version", "threshold", "calibration", "metrics")},
                     indent=2))


if __name__ == "__main__":
    main()
