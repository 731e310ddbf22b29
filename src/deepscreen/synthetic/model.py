"""The generated-image patch model at run time: ``synthetic_npr.onnx`` + ``synthetic_npr.json``.

The JSON file says how to feed the network (patch size, grid) and how to read it (class
names, the calibrated threshold), so a retrained model ships as two files, no code change.
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
MODEL_STEM = "synthetic_npr"


class ModelNotInstalled(FileNotFoundError):
    """The model files are absent (a build without the trained model)."""


@dataclass(frozen=True)
class SyntheticModelInfo:
    name: str
    version: str
    patch: int
    grid: int
    classes: tuple[str, ...]
    input_name: str
    output_name: str
    threshold: float
    attribution_min_share: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> SyntheticModelInfo:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        try:
            info = cls(
                name=str(data.get("name", MODEL_STEM)),
                version=str(data["version"]),
                patch=int(data["patch"]),
                grid=int(data["grid"]),
                classes=tuple(str(c) for c in data["classes"]),
                input_name=str(data.get("input_name", "patches")),
                output_name=str(data.get("output_name", "logits")),
                threshold=float(data["threshold"]),
                attribution_min_share=float(data.get("attribution_min_share", 0.7)),
                extra={k: v for k, v in data.items() if k in ("trained", "calibration", "metrics")},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: missing or malformed field: {exc}") from exc
        if info.classes[:1] != ("real",) or len(info.classes) < 2:
            raise ValueError(f"{source}: classes must start with 'real', got {info.classes}")
        if info.patch < 16 or info.patch % 8 or not 1 <= info.grid <= 16 or not 0 < info.threshold < 1:
            raise ValueError(f"{source}: patch, grid or threshold out of range")
        return info


class SyntheticModel:
    """Patch logits from the ONNX network (N x P x P x 3 uint8 in, N x classes out)."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        directory = model_dir or MODELS_DIR
        onnx_path, json_path = directory / f"{MODEL_STEM}.onnx", directory / f"{MODEL_STEM}.json"
        if not onnx_path.is_file() or not json_path.is_file():
            raise ModelNotInstalled(
                f"synthetic-image model not installed ({onnx_path.name} and "
                f"{json_path.name} are expected in {directory})"
            )
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{json_path}: unreadable: {exc}") from exc
        self.info = SyntheticModelInfo.from_mapping(data, str(json_path))
        self._session = open_session(onnx_path, threads, providers)
        outputs = {o.name for o in self._session.get_outputs()}
        if self.info.output_name not in outputs:
            raise ValueError(
                f"{onnx_path.name} lacks output {self.info.output_name!r}; it has {sorted(outputs)}"
            )

    def logits(self, patches: np.ndarray) -> np.ndarray:
        size = self.info.patch
        if patches.ndim != 4 or patches.shape[1:] != (size, size, 3) or patches.dtype != np.uint8:
            raise ValueError(
                f"expected N x {size} x {size} x 3 uint8 patches, got {patches.shape} {patches.dtype}"
            )
        batch = patches.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1.0 / 255.0)
        (out,) = self._session.run([self.info.output_name], {self.info.input_name: batch})
        return np.asarray(out, np.float32).reshape(len(patches), len(self.info.classes))
