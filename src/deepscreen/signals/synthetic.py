"""Signal ``synthetic``: do the pixels look generated (GAN, diffusion), metadata aside?

Reads a grid of native-resolution patches through the NPR patch model
(``synthetic_npr.onnx``, see ``deepscreen.synthetic``). Independent of declared provenance:
it looks only at pixels, so it still works on a re-saved, screenshotted or stripped file.

Video: up to ``max_frames`` sampled frames, spread over the clip, are scored; the item's
score is the sigmoid of the mean frame log-odds, and the evidence has a per-frame timeline.

Options (``signal_options['synthetic']``):
  model_dir   folder holding synthetic_npr.onnx/.json [package models/]
  threads     onnxruntime intra-op threads [1]
  grid        patches per side of the grid (cost grows with its square) [model's, 4]
  max_frames  video frames scored, evenly spread [8]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DeepscreenError
from ..findings import Finding
from ..media import Item
from ..synthetic import ModelNotInstalled, SyntheticDetector, SyntheticModel, SyntheticResult
from ..synthetic.detector import attribute
from .base import Signal
from .registry import register

_OPTIONS = frozenset({"model_dir", "threads", "grid", "max_frames"})
LABEL = "pixels-generated"


@register
class SyntheticSignal(Signal):
    name: ClassVar[str] = "synthetic"
    version: ClassVar[str] = "1"
    kinds = frozenset({"image", "video"})
    needs_pixels = True
    description = (
        "Fully generated images (GAN, diffusion) from pixels alone: neighbouring-pixel "
        "residuals of native-resolution patches through a small CNN, with a patch map."
    )
    enabled_by_default = False
    opt_in_reason = ("on generators it never saw in training it scores at or below chance "
                     "(development AUC 0.20 on StyleGAN faces, 0.32 on diffusion images) and "
                     "catches almost nothing at its threshold, which flags none of 688 "
                     "development real photos (MODEL_CARD_synthetic.md)")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        opts = self.options
        unknown = set(opts) - _OPTIONS
        if unknown:
            raise DeepscreenError(
                f"signal_options.synthetic: unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_OPTIONS))}"
            )
        self._model_dir = Path(opts["model_dir"]).expanduser() if opts.get("model_dir") else None
        self._threads = _integer(opts, "threads", 1, 1, 64)
        self._grid = _integer(opts, "grid", 0, 0, 16) or None
        self._max_frames = _integer(opts, "max_frames", 8, 1, 600)
        self._detector: SyntheticDetector | None = None
        self._unavailable: str | None = None

    def _load(self) -> str | None:
        if self._detector is None and self._unavailable is None:
            try:
                model = SyntheticModel(self._model_dir, self._threads,
                                       providers=self.config.onnx_providers)
                self._detector = SyntheticDetector(model, self._grid)
            except ModelNotInstalled:
                self._unavailable = "synthetic-image model not installed"
            except (ValueError, OSError) as exc:
                self._unavailable = f"synthetic-image model unusable: {exc}"
        return self._unavailable

    def inspect(self, item: Item) -> Finding:
        reason = self._load()
        if reason is not None:
            return self.abstain(reason)
        assert self._detector is not None
        frames = item.frames
        if not frames:
            return self.abstain("no decoded frames")
        picked = _spread(len(frames), self._max_frames) if item.kind == "video" else [0]
        side = self._detector.min_side
        scored = [
            (frames[i], self._detector.score(frames[i].rgb))
            for i in picked
            if min(frames[i].rgb.shape[:2]) >= side
        ]
        if not scored:
            h, w = frames[picked[0]].rgb.shape[:2]
            return self.abstain(f"image too small to judge ({w}x{h}, at least {side}x{side} px needed)")
        return self._finding(item, scored)

    def _finding(self, item: Item, scored: list[tuple[Any, SyntheticResult]]) -> Finding:
        assert self._detector is not None
        info = self._detector.model.info
        mean_odds = float(np.mean([r.log_odds for _, r in scored]))
        score = float(1.0 / (1.0 + np.exp(-np.clip(mean_odds, -60, 60))))
        shares = {
            k: round(float(np.mean([r.family_shares[k] for _, r in scored])), 4)
            for k in scored[0][1].family_shares
        }
        flagged = score >= info.threshold
        family = attribute(shares, score, info.threshold, info.attribution_min_share)
        key_frame, key = max(scored, key=lambda fr: fr[1].score)
        evidence: dict[str, Any] = {
            "model": {"name": info.name, "version": info.version, "threshold": info.threshold},
            # A learned detector on pixels alone: evidence for a reviewer, not proof.
            "confidence": "medium",
            "score_rule": "sigmoid of the mean patch log-odds (fake vs real) over the patch grid"
            + (", averaged over the scored frames" if item.kind == "video" else ""),
            "attribution": {
                "family": family,
                "shares": shares,
                "available": len(shares) > 1,
                "min_share": info.attribution_min_share,
                "meaning": "share of the fake evidence on each generator family the model knows"
                if len(shares) > 1
                else "this model has one generated class: it detects, it does not attribute",
            },
            "patch_map": {**key.patch_map(), "frame": key_frame.index, "time_s": round(key_frame.time_s, 3)},
        }
        if item.kind == "video":
            evidence["frames_scored"] = len(scored)
            evidence["timeline"] = [
                {"time_s": round(f.time_s, 3), "score": round(r.score, 4)} for f, r in scored
            ]
        labels = (LABEL, f"synthetic:{family}") if flagged else ()
        verdict = "look generated" if flagged else "are not judged generated"
        attribution = f"; most like {family}" if family != "undetermined" else ""
        return Finding(
            signal=self.name,
            version=f"{self.version}+{info.name}-{info.version}",
            score=min(1.0, max(0.0, score)),
            labels=labels,
            summary=f"pixels {verdict} (score {score:.3f}, threshold {info.threshold:.3f}{attribution})",
            evidence=evidence,
        )


def _spread(count: int, most: int) -> list[int]:
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)}) if most > 1 else [count // 2]


def _integer(options: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeepscreenError(
            f"signal_options.synthetic.{key} must be an integer in [{low}, {high}], got {value!r}"
        )
    return value
