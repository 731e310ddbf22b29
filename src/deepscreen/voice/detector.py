"""The synthetic-voice model at run time: ``voice_detector.onnx`` driven by ``voice_detector.json``.

The ONNX graph takes log band energies (``N x N_BANDS x frames``, from
:mod:`deepscreen.voice.features`) and holds its own per-band normalisation, so the numbers
fed to it are exactly those computed in training. It returns one logit per window. The JSON
file says which feature version the graph expects, the calibrated threshold and the
measured metrics; a retrained model ships as the two files and no code changes.

An item's score is the sigmoid of the mean window logit (the rule the threshold was
calibrated on); the timeline is each window's own probability.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..inference import DEFAULT_PROVIDERS, open_session
from . import features

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MODEL_STEM = "voice_detector"
FEATURE_VERSION = "lfb64-16k-w3-v1"  # bump when features.py changes what it computes
_BATCH = 32


class VoiceModelNotInstalled(FileNotFoundError):
    """The model files are absent."""


@dataclass(frozen=True)
class VoiceModelInfo:
    name: str
    version: str
    feature_version: str
    input_name: str
    output_name: str
    threshold: float  # on the item score (a probability)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Any, source: str = "voice_detector.json") -> VoiceModelInfo:
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a JSON object")
        try:
            info = cls(name=str(data["name"]), version=str(data["version"]),
                       feature_version=str(data["feature_version"]),
                       input_name=str(data.get("input_name", "bands")),
                       output_name=str(data.get("output_name", "logit")),
                       threshold=float(data["threshold"]),
                       extra={k: data[k] for k in ("trained", "calibration", "metrics") if k in data})
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: missing or malformed field: {exc}") from exc
        if not 0.0 < info.threshold < 1.0:
            raise ValueError(f"{source}: threshold must be in (0, 1), got {info.threshold}")
        if info.feature_version != FEATURE_VERSION:
            raise ValueError(f"{source}: model expects features {info.feature_version!r}, this build "
                             f"computes {FEATURE_VERSION!r}")
        return info


@dataclass(frozen=True)
class SegmentScore:
    start_s: float
    end_s: float
    speech: float  # share of the window's frames that carry speech
    score: float  # probability that this window is synthetic


@dataclass(frozen=True)
class VoiceResult:
    score: float  # item score: sigmoid of the mean window logit
    segments: list[SegmentScore]
    speech_s: float
    sampled: bool  # True when only an even sample of the windows was scored (very long items)


def _sigmoid(x: np.ndarray | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


class VoiceModel:
    """Score prepared audio with the shipped (or a given) model."""

    def __init__(self, model_dir: Path | None = None, threads: int = 1,
                 providers: Sequence[str] = DEFAULT_PROVIDERS) -> None:
        folder = model_dir or MODELS_DIR
        onnx_path, json_path = folder / f"{MODEL_STEM}.onnx", folder / f"{MODEL_STEM}.json"
        if not onnx_path.is_file() or not json_path.is_file():
            raise VoiceModelNotInstalled(f"no {MODEL_STEM}.onnx/.json in {folder}")
        try:
            meta = json.loads(json_path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{json_path}: not JSON: {exc}") from exc
        self.info = VoiceModelInfo.from_mapping(meta, str(json_path))
        self._session = open_session(onnx_path, threads, providers)

    def window_logits(self, bands: np.ndarray) -> np.ndarray:
        """One logit per window of ``bands`` (``N x N_BANDS x frames`` float32)."""
        out = [self._session.run([self.info.output_name], {self.info.input_name: bands[a: a + _BATCH]})[0]
               for a in range(0, len(bands), _BATCH)]
        return np.concatenate(out).reshape(-1).astype(np.float64) if out else np.zeros(0)

    def score(self, prepared: features.PreparedAudio, max_segments: int) -> VoiceResult:
        """Score the prepared item's segments (an even sample of ``max_segments`` when there are more)."""
        segs = prepared.segments
        sampled = len(segs) > max_segments
        if sampled:
            picks = np.linspace(0, len(segs) - 1, max_segments).round().astype(int)
            segs = [segs[i] for i in picks]
        logits = np.zeros(0)
        for a in range(0, len(segs), _BATCH):
            chunk = np.stack([features.log_bands(features.window_samples(prepared.samples, s))
                              for s in segs[a: a + _BATCH]])
            logits = np.concatenate([logits, self.window_logits(chunk)])
        probabilities = _sigmoid(logits)
        scored = [SegmentScore(s.start_s, s.end_s, s.speech, float(p))
                  for s, p in zip(segs, probabilities, strict=True)]
        item = float(_sigmoid(logits.mean())) if logits.size else 0.0
        return VoiceResult(item, scored, prepared.speech_s, sampled)


def waveform_envelope(samples: np.ndarray, points: int = 480) -> list[float]:
    """Peak absolute amplitude in ``points`` equal slices: enough to draw the waveform."""
    if samples.size == 0:
        return []
    points = min(points, samples.size)
    edges = np.linspace(0, samples.size, points + 1).astype(int)
    peaks = np.maximum.reduceat(np.abs(samples), edges[:-1])
    return [round(float(v), 3) for v in peaks]
