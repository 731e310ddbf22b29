"""Signal ``voice``: does the speech in an audio file or a video's sound track sound synthetic?

The decoded track (mono 16 kHz, from the media layer) is loudness-normalised and cut into
3 s windows, 1.5 s apart, that hold speech; the ``voice_detector.onnx`` model scores each
window. The item's score is the sigmoid of the mean window logit; the evidence holds the
per-window timeline, the windows that drove the score and a waveform envelope for the report.
The signal abstains when there is no audio track, the track is silent, it holds sound but no
speech, or it has less than a second of speech.

Options (``signal_options['voice']``):
  model_dir     folder holding voice_detector.onnx/.json [package models/]
  threads       onnxruntime intra-op threads [1]
  max_segments  windows scored per item; longer items are sampled evenly [2400, one hour]
  top_segments  windows listed as the ones that drove the score [3]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ..errors import DeepscreenError
from ..findings import Finding
from ..media import Item
from ..voice import features
from ..voice.detector import VoiceModel, VoiceModelNotInstalled, VoiceResult, waveform_envelope
from .base import Signal
from .registry import register

_OPTIONS = {"model_dir": None, "threads": (1, 1, 64), "max_segments": (2400, 1, 100_000),
            "top_segments": (3, 1, 50)}


@register
class VoiceSignal(Signal):
    name: ClassVar[str] = "voice"
    version: ClassVar[str] = "1"
    kinds = frozenset({"audio", "video"})
    needs_pixels = True
    description = ("Synthetic speech (TTS, voice conversion, vocoder re-synthesis): a small CNN over "
                   "linear-band energies per 3 s window, with a timeline.")
    enabled_by_default = False
    opt_in_reason = ("on text-to-speech systems it never saw in training it ranks fakes below "
                     "chance (development AUC 0.43), so its score is no evidence either way "
                     "there; at its threshold it flags 0.4% of real recordings and few neural "
                     "fakes (VOICE_MODEL_CARD.md)")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        unknown = set(self.options) - set(_OPTIONS)
        if unknown:
            raise DeepscreenError(f"signal_options.voice: unknown option(s) {', '.join(sorted(unknown))}; "
                                  f"known: {', '.join(sorted(_OPTIONS))}")
        folder = self.options.get("model_dir")
        self._model_dir = Path(folder).expanduser() if folder else None
        self._threads = _integer(self.options, "threads")
        self._max_segments = _integer(self.options, "max_segments")
        self._top = _integer(self.options, "top_segments")
        self._model: VoiceModel | None = None
        self._unavailable: str | None = None

    def _load(self) -> str | None:
        if self._model is None and self._unavailable is None:
            try:
                self._model = VoiceModel(self._model_dir, self._threads,
                                         providers=self.config.onnx_providers)
            except VoiceModelNotInstalled:
                self._unavailable = "voice model not installed"
            except (ValueError, OSError) as exc:
                self._unavailable = f"voice model unusable: {exc}"
        return self._unavailable

    def inspect(self, item: Item) -> Finding:
        track = item.audio
        if track is None or track.samples.size == 0:
            why = item.decode_info.get("audio")
            known = why and why != "no audio stream"
            return self.abstain(f"no audio track ({why})" if known else "no audio track")
        common = {"duration_s": round(track.duration_s, 3), "codec": track.codec, "channels": track.channels}
        prepared = features.prepare(track.samples, track.sample_rate)
        if not prepared.mask.any():
            return self.abstain("the audio is silent", **common)
        spread = features.level_spread_db(prepared.samples)
        if spread < features.MIN_LEVEL_SPREAD_DB:
            return self.abstain(f"no speech found (a steady sound: level spread {spread:.1f} dB)", **common)
        if prepared.speech_s < features.MIN_SPEECH_S or not prepared.segments:
            return self.abstain(f"too little speech to judge ({prepared.speech_s:.1f} s, need "
                                f"{features.MIN_SPEECH_S:.1f} s)", **common,
                                speech_s=round(prepared.speech_s, 2))
        reason = self._load()
        if reason is not None:
            return self.abstain(reason, **common)
        assert self._model is not None
        result = self._model.score(prepared, self._max_segments)
        return self._finding(result, prepared, common)

    def _finding(self, result: VoiceResult, prepared: features.PreparedAudio,
                 common: dict[str, Any]) -> Finding:
        assert self._model is not None
        info = self._model.info
        threshold = info.threshold
        timeline = [{"time_s": round((s.start_s + s.end_s) / 2, 2), "start_s": round(s.start_s, 2),
                     "end_s": round(s.end_s, 2), "score": round(s.score, 4), "speech": round(s.speech, 2)}
                    for s in result.segments]
        drivers = sorted(timeline, key=lambda s: -s["score"])[: self._top]
        above = sum(1 for s in result.segments if s.score > threshold)
        evidence = {
            **common,
            "model": {"name": info.name, "version": info.version, "threshold": threshold},
            "item_score_rule": "sigmoid of the mean window logit over the scored 3 s windows",
            "speech_s": round(result.speech_s, 2),
            "segments_scored": len(timeline),
            "segments_above_threshold": above,
            "sampled": result.sampled,
            "timeline": timeline,
            "top_segments": drivers,
            "waveform": {"points": waveform_envelope(prepared.samples),
                         "duration_s": round(prepared.samples.size / features.SAMPLE_RATE, 3),
                         "normalised": True},
        }
        worst = drivers[0]
        summary = (f"speech scored {result.score:.3f} over {len(timeline)} window(s) "
                   f"({above} above the threshold {threshold:.3f}); most synthetic-sounding: "
                   f"{worst['start_s']:.1f}-{worst['end_s']:.1f} s ({worst['score']:.3f})")
        return Finding(signal=self.name, version=f"{self.version}+{info.name}-{info.version}",
                       score=min(1.0, max(0.0, result.score)), labels=("speech",), summary=summary,
                       evidence=evidence)


def _integer(options: dict[str, Any], key: str) -> int:
    default, low, high = _OPTIONS[key]  # type: ignore[misc]
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeepscreenError(f"signal_options.voice.{key} must be an integer in [{low}, {high}], "
                              f"got {value!r}")
    return value
