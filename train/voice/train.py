"""Train and measure the synthetic-voice detectors on the cached windows.

Three methods, all on the same windows and splits (``python -m train.voice.train METHOD``):

- ``cnn``: :class:`train.voice.model.BandCNN` on the 64 log band energies (PyTorch, one
  thread, checkpoints to ONE file, ``--resume`` continues from it);
- ``gmm``: the ASVspoof LFCC-GMM baseline, one diagonal GMM per class over LFCC frames,
  a window scored by its mean log-likelihood ratio;
- ``subband``: logistic regression on the statistics of the bands above 4 kHz.

A file's score under a condition is the mean of its window scores, as at scan time.
Training sets balance the classes and give every source set the same weight within its class,
so the 1,000 SpeechResearch fakes do not drown the other systems. The threshold is set on the
calibration files (15% of the training recordings and their re-syntheses, never trained on),
then the development sets, which share no system with training, are scored once; the report
(JSON) has AUC overall, per condition, per source, and the real files flagged at the threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepscreen.evaluate import auc_confidence_interval, roc_auc
from deepscreen.voice.features import lfcc, subband_stats
from train import manifest
from train.metrics import threshold_at_fpr

from .dataset import Windows, load_all, voice_rows

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "voice_cnn.pt"  # the shipped run's
REPORTS = Path(__file__).resolve().parents[1] / "checkpoints"
CALIBRATION_FPR = 0.01  # at most 1% of calibration reals above the threshold (dev target: 2%)
CROP_FRAMES = 200  # training crops: 2 s of the 3 s windows


# --- scores per file ------------------------------------------------------------------------

def file_scores(windows: Windows, window_scores: np.ndarray) -> list[dict[str, Any]]:
    """One row per (file, condition): the mean window score, class, set and system."""
    keys = np.char.add(windows.file.astype(str), np.char.add("|", windows.condition.astype(str)))
    out = []
    for key in np.unique(keys):
        sel = keys == key
        f = int(windows.file[sel][0])
        out.append({"file": f, "path": windows.paths[f], "set": windows.sets[f], "system": windows.systems[f],
                    "condition": str(windows.condition[sel][0]), "label": int(windows.label[sel][0]),
                    "score": float(np.mean(window_scores[sel]))})
    return out


def _auc(rows: list[dict[str, Any]]) -> dict[str, Any]:
    labels = [r["label"] for r in rows]
    if len(set(labels)) < 2:
        return {"n": len(rows)}
    scores = [r["score"] for r in rows]
    # A file scored under several conditions is one cluster: its rows are not independent.
    ci = auc_confidence_interval(labels, scores, clusters=[hash((r["set"], r["file"])) for r in rows],
                                 resamples=300)
    return {"auc": round(roc_auc(labels, scores), 4),
            "ci95": None if ci is None else [round(v, 4) for v in ci],
            "real": labels.count(0), "fake": labels.count(1)}


def report(calibration: list[dict[str, Any]], dev: list[dict[str, Any]]) -> dict[str, Any]:
    real_cal = np.array([r["score"] for r in calibration if r["label"] == 0])
    threshold = threshold_at_fpr(real_cal, CALIBRATION_FPR)
    conditions = sorted({r["condition"] for r in dev})
    dev_real = [r for r in dev if r["label"] == 0]
    neural = [r for r in dev if r["set"] != "voice-classical-fake"]
    out: dict[str, Any] = {
        "threshold": threshold,
        "calibration": _auc(calibration),
        "dev_overall_neural": _auc(neural),
        "dev_with_classical": _auc(dev),
        "per_condition": {c: {**_auc([r for r in neural if r["condition"] == c]),
                              "real_flagged": _rate([r for r in dev_real if r["condition"] == c], threshold),
                              "fake_caught": _rate([r for r in neural if r["condition"] == c and r["label"]],
                                                   threshold)}
                          for c in conditions},
        "real_flagged_dev": _rate(dev_real, threshold),
        "real_flagged_dev_clean": _rate([r for r in dev_real if r["condition"] == "clean"], threshold),
        "per_fake_set": {}, "per_real_set": {}, "per_fake_system": {},
    }
    for s in sorted({r["set"] for r in dev if r["label"] == 1}):
        out["per_fake_set"][s] = {**_auc(dev_real + [r for r in dev if r["set"] == s]),
                                  "caught": _rate([r for r in dev if r["set"] == s], threshold)}
    for s in sorted({r["set"] for r in dev_real}):
        out["per_real_set"][s] = {"files": len({r["file"] for r in dev_real if r["set"] == s}),
                                  "flagged": _rate([r for r in dev_real if r["set"] == s], threshold)}
    for s in sorted({r["system"] for r in dev if r["label"] == 1}):
        sel = [r for r in dev if r["system"] == s and r["label"] == 1]
        out["per_fake_system"][s] = {"files": len({r["file"] for r in sel}), "caught": _rate(sel, threshold)}
    return out


def _rate(rows: list[dict[str, Any]], threshold: float) -> float | None:
    return round(float(np.mean([r["score"] > threshold for r in rows])), 4) if rows else None


# --- balanced sampling ----------------------------------------------------------------------

def sample_weights(windows: Windows) -> np.ndarray:
    """Per window: each class half the mass, each set an equal share of its class, each file an
    equal share of its set."""
    file_set = np.array(windows.sets)[windows.file]
    weights = np.zeros(len(windows.label))
    for cls in (0, 1):
        in_cls = windows.label == cls
        sets = np.unique(file_set[in_cls])
        for s in sets:
            sel = in_cls & (file_set == s)
            files, counts = np.unique(windows.file[sel], return_counts=True)
            per_file = dict(zip(files, counts, strict=True))
            weights[sel] = 0.5 / len(sets) / len(files) / np.array([per_file[f] for f in windows.file[sel]])
    return weights / weights.sum()


# --- the CNN ------------------------------------------------------------------------------

def train_cnn(data: Windows, calibration: Windows, args: argparse.Namespace,
              checkpoint: Path = CHECKPOINT) -> tuple[Any, dict[str, Any]]:
    import torch

    from .model import BandCNN, parameter_count

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    bands = data.bands
    mean = bands[:: max(1, len(bands) // 2000)].astype(np.float32).mean(axis=(0, 2))
    std = bands[:: max(1, len(bands) // 2000)].astype(np.float32).std(axis=(0, 2)) + 1e-3
    model = BandCNN(tuple(args.widths))
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    state = {"step": 0, "best": -1.0, "best_state": None, "log": []}
    if args.resume and checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(saved["model"])
        optimiser.load_state_dict(saved["optimiser"])
        state = saved["state"]
        rng = np.random.default_rng(args.seed + state["step"])
        print(f"resumed at step {state['step']}", flush=True)
    weights = sample_weights(data)
    mean_t, std_t = torch.from_numpy(mean)[None, :, None], torch.from_numpy(std)[None, :, None]
    scheduler_total = args.steps
    model.train()
    start = time.time()
    while state["step"] < args.steps:
        lr = args.lr * 0.5 * (1 + np.cos(np.pi * state["step"] / scheduler_total))
        for group in optimiser.param_groups:
            group["lr"] = lr
        idx = rng.choice(len(weights), size=args.batch, p=weights)
        offsets = rng.integers(0, bands.shape[2] - CROP_FRAMES + 1, size=args.batch)
        x = np.stack([bands[i, :, o: o + CROP_FRAMES]
                      for i, o in zip(idx, offsets, strict=True)]).astype(np.float32)
        x += rng.normal(0, 0.05, size=(args.batch, 1, 1)).astype(np.float32)  # residual gain jitter
        xb = (torch.from_numpy(x) - mean_t) / std_t
        yb = torch.from_numpy(data.label[idx].astype(np.float32))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        state["step"] += 1
        if state["step"] % 50 == 0:
            print(f"step {state['step']} loss {loss.item():.4f} lr {lr:.2e} {time.time() - start:.0f}s",
                  flush=True)
        if state["step"] % args.eval_every == 0 or state["step"] == args.steps:
            scores = predict_cnn(model, calibration, mean, std)
            rows = file_scores(calibration, scores)
            auc = roc_auc([r["label"] for r in rows], [r["score"] for r in rows])
            state["log"].append({"step": state["step"], "calibration_auc": auc, "loss": float(loss.item())})
            print(f"step {state['step']} calibration AUC {auc:.4f}", flush=True)
            if auc > state["best"]:
                state["best"] = auc
                state["best_state"] = {k: v.clone() for k, v in model.state_dict().items()}
            model.train()
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "state": state,
                        "mean": mean, "std": std, "widths": list(args.widths),
                        "parameters": parameter_count(model)}, checkpoint)
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.eval()
    return (model, mean, std), {"parameters": parameter_count(model), "steps": state["step"],
                                "log": state["log"]}


def predict_cnn(model: Any, windows: Windows, mean: np.ndarray, std: np.ndarray,
                batch: int = 256) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(windows.bands), batch):
            x = (windows.bands[a: a + batch].astype(np.float32) - mean[None, :, None]) / std[None, :, None]
            out.append(model(torch.from_numpy(x)).numpy())
    return np.concatenate(out) if out else np.zeros(0)


# --- baselines ----------------------------------------------------------------------------

def _lfcc_frames(windows: Windows, idx: np.ndarray, step: int = 4) -> np.ndarray:
    return np.concatenate([lfcc(windows.bands[i].astype(np.float32))[:, ::step].T for i in idx])


def train_gmm(data: Windows, args: argparse.Namespace) -> Any:
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(args.seed)
    weights = sample_weights(data)
    models = {}
    for cls in (0, 1):
        p = np.where(data.label == cls, weights, 0.0)
        idx = rng.choice(len(p), size=min(1500, int((p > 0).sum())), replace=False, p=p / p.sum())
        frames = _lfcc_frames(data, idx)
        models[cls] = GaussianMixture(args.components, covariance_type="diag", max_iter=60,
                                      random_state=args.seed).fit(frames)
        print(f"GMM class {cls}: {len(frames)} frames", flush=True)
    return models


def predict_gmm(models: Any, windows: Windows) -> np.ndarray:
    out = np.zeros(len(windows.bands))
    for i in range(len(windows.bands)):
        f = lfcc(windows.bands[i].astype(np.float32)).T
        out[i] = models[1].score(f) - models[0].score(f)
    return out


def train_subband(data: Windows, args: argparse.Namespace) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(args.seed)
    weights = sample_weights(data)
    idx = rng.choice(len(weights), size=min(20000, len(weights)), replace=True, p=weights)
    x = np.stack([subband_stats(data.bands[i].astype(np.float32)) for i in idx])
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000)).fit(x, data.label[idx])


def predict_subband(model: Any, windows: Windows) -> np.ndarray:
    x = np.stack([subband_stats(b.astype(np.float32)) for b in windows.bands])
    return model.decision_function(x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.train", description=__doc__.split("\n")[0])
    parser.add_argument("method", choices=("cnn", "gmm", "subband"))
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--widths", type=int, nargs=4, default=(8, 16, 32, 48))
    parser.add_argument("--components", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--exclude-set", action="append", default=[],
                        help="leave a training set out (ablation), e.g. voice-world-fake; SET/PREFIX "
                             "leaves out the set's files whose path starts with PREFIX")
    parser.add_argument("--clean-only", action="store_true",
                        help="train on the clean windows only (ablation: no codec or band augmentation)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    rows = voice_rows()
    fitting_sets = sorted({r.set for r in rows if r.role in ("train", "calibration")})
    dev_sets = sorted({r.set for r in rows if r.role == "dev-eval"})
    fitting = load_all(args.data_root, fitting_sets)  # the development sets load after training
    data = fitting.only("train")
    if args.exclude_set:
        def excluded(set_name: str, path: str) -> bool:
            return any(set_name == rule or (rule.startswith(set_name + "/") and
                                            path.startswith(rule[len(set_name) + 1:]))
                       for rule in args.exclude_set)

        data = _files(data, [i for i, (s, p) in enumerate(zip(data.sets, data.paths, strict=True))
                             if not excluded(s, p)])
    if args.clean_only:
        clean = data.condition == "clean"
        data = Windows(data.bands[clean], data.file[clean], data.condition[clean], data.label[clean],
                       data.paths, data.systems, data.sets, data.roles)
    calibration = fitting.only("calibration")
    print(f"train {len(data.label)} windows ({int(data.label.sum())} synthetic), calibration "
          f"{len(calibration.label)}", flush=True)
    name = args.method + "".join(f"-no-{s.removeprefix('voice-').split('/')[0]}" for s in args.exclude_set
                                 if "/" not in s)
    name += "-clean-only" if args.clean_only else ""
    start = time.time()
    extra: dict[str, Any] = {}
    if args.method == "cnn":
        checkpoint = REPORTS / f"voice_{name.replace('-', '_')}.pt"
        (model, mean, std), extra = train_cnn(data, calibration, args, checkpoint)

        def predict(w: Windows) -> np.ndarray:
            return predict_cnn(model, w, mean, std)
    elif args.method == "gmm":
        gmm = train_gmm(data, args)

        def predict(w: Windows) -> np.ndarray:
            return predict_gmm(gmm, w)
    else:
        lr = train_subband(data, args)

        def predict(w: Windows) -> np.ndarray:
            return predict_subband(lr, w)
    train_s = time.time() - start
    dev = load_all(args.data_root, dev_sets).only("dev-eval")
    cal_rows, dev_rows = file_scores(calibration, predict(calibration)), file_scores(dev, predict(dev))
    result = {"method": args.method, "excluded": args.exclude_set, "clean_only": args.clean_only,
              "train_seconds": round(train_s),
              **extra, **report(cal_rows, dev_rows)}
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"voice_{name}_report.json").write_text(json.dumps(result, indent=1))
    (REPORTS / f"voice_{name}_dev_scores.json").write_text(json.dumps(dev_rows))
    print(json.dumps({k: result[k] for k in ("threshold", "calibration", "dev_overall_neural",
                                             "real_flagged_dev", "per_fake_set")}, indent=1))
    return 0


def _files(windows: Windows, keep: list[int]) -> Windows:
    new_index = np.full(len(windows.paths), -1, np.int64)
    new_index[keep] = np.arange(len(keep))
    sel = np.isin(windows.file, keep)
    return Windows(windows.bands[sel], new_index[windows.file[sel]].astype(np.int32), windows.condition[sel],
                   windows.label[sel], [windows.paths[i] for i in keep], [windows.systems[i] for i in keep],
                   [windows.sets[i] for i in keep], [windows.roles[i] for i in keep])


if __name__ == "__main__":
    raise SystemExit(main())
