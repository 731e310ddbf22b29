"""The face-manipulation model at run time: ``face_sbi.onnx`` driven by ``face_sbi.json``.

The JSON file is the single source of truth for how to feed the network (input size,
normalisation, alignment margin) and how to read it (output names, calibrated threshold),
so a retrained model ships as two files and no code changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..inference import DEFAULT_PROVIDERS, open_session

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_STEM = "face_sbi"


class ModelNotInstalled(FileNotFoundError):
    """The model files are absent (a build without the trained model)."""


@dataclass(frozen=True)
class FaceModelInfo:
    """What ``face_sbi.json`` says about the network."""

    name: str
    version: str
    input_size: int
    input_name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    logit_output: str
    mask_output: str
    align_margin: float
    threshold: float | None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "face_sbi.json") -> FaceModelInfo:
        """Validate the JSON contract; a malformed file raises ``ValueError`` naming the key."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        try:
            outputs = data.get("outputs", {"logit": "logit", "mask": "mask"})
            size = int(data["input_size"])
            mean = tuple(float(v) for v in data.get("mean", (0.5, 0.5, 0.5)))
            std = tuple(float(v) for v in data.get("std", (0.5, 0.5, 0.5)))
            threshold = data.get("threshold")
            info = cls(
                name=str(data.get("name", MODEL_STEM)),
                version=str(data.get("version", "unknown")),
                input_size=size,
                input_name=str(data.get("input_name", "input")),
                # Their length (3) is checked below, after every field has been converted.
                mean=mean,  # type: ignore[arg-type]
                std=std,  # type: ignore[arg-type]
                logit_output=str(outputs["logit"]),
                mask_output=str(outputs.get("mask", "")),
                align_margin=float(data["align_margin"]),
                threshold=None if threshold is None else float(threshold),
                extra={k: v for k, v in data.items()
                       if k in ("trained", "calibration", "metrics")},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: missing or malformed field: {exc}") from exc
        if size < 16 or len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"{source}: input_size, mean or std out of range")
        return info


@dataclass(frozen=True)
class FacePrediction:
    """Scores for a batch of aligned crops."""

    scores: np.ndarray  # N, probability that the face is manipulated
    heatmaps: np.ndarray  # N x h x w in [0, 1]: where the model sees a blending boundary


class FaceModel:
    """Run aligned face crops through the ONNX model, in batches."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1,
                 batch_size: int = 16, providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        directory = model_dir or MODELS_DIR
        onnx_path = directory / f"{MODEL_STEM}.onnx"
        json_path = directory / f"{MODEL_STEM}.json"
        if not onnx_path.is_file() or not json_path.is_file():
            raise ModelNotInstalled(f"face model not installed ({onnx_path.name} and "
                                    f"{json_path.name} are expected in {directory})")
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{json_path}: unreadable: {exc}") from exc
        self.info = FaceModelInfo.from_mapping(data, str(json_path))
        self.batch_size = max(1, batch_size)
        self._session = open_session(onnx_path, threads, providers)
        outputs = {o.name for o in self._session.get_outputs()}
        wanted = {self.info.logit_output} | ({self.info.mask_output} - {""})
        if not wanted <= outputs:
            raise ValueError(f"{onnx_path.name} lacks output(s) {sorted(wanted - outputs)}; "
                             f"it has {sorted(outputs)}")
        self._outputs = [self.info.logit_output] + (
            [self.info.mask_output] if self.info.mask_output else [])
        scale = 1.0 / (255.0 * np.asarray(self.info.std, np.float32))
        self._scale: np.ndarray = scale.reshape(1, 3, 1, 1)
        self._shift = (np.asarray(self.info.mean, np.float32) / np.asarray(self.info.std, np.float32)
                       ).reshape(1, 3, 1, 1)

    def predict(self, crops: np.ndarray) -> FacePrediction:
        """Score N x S x S x 3 uint8 RGB crops aligned with ``info.align_margin``."""
        size = self.info.input_size
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
            raise ValueError(f"expected N x {size} x {size} x 3 uint8 crops, got "
                             f"{crops.shape} {crops.dtype}")
        scores, heatmaps = [], []
        for start in range(0, len(crops), self.batch_size):
            batch = crops[start:start + self.batch_size].transpose(0, 3, 1, 2).astype(np.float32)
            batch = batch * self._scale - self._shift  # (x / 255 - mean) / std
            results = self._session.run(self._outputs, {self.info.input_name: batch})
            logits = np.asarray(results[0], np.float32).reshape(len(batch))
            scores.append(_sigmoid(logits))
            if len(results) > 1:
                mask = np.asarray(results[1], np.float32)
                heatmaps.append(_sigmoid(mask.reshape(len(batch), *mask.shape[-2:])))
        if not scores:
            return FacePrediction(np.empty(0, np.float32), np.empty((0, 1, 1), np.float32))
        heat = np.concatenate(heatmaps) if heatmaps else np.zeros((len(crops), 1, 1), np.float32)
        return FacePrediction(np.concatenate(scores), heat)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Clipped so a huge logit cannot overflow exp (a warning, then exactly 0 or 1 anyway).
    probability: np.ndarray = (1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))).astype(np.float32)
    return probability
