"""Speech preprocessing and features for the synthetic-voice detector (numpy only).

The same functions run in training (``train/voice``) and at scan time, so the model never
sees features computed differently from the ones it learned on. Every input is first brought
to one form, whatever it was recorded or encoded with:

1. mono float32 at 16 kHz (the media layer's audio decoder already does this);
2. DC removed and loudness normalised: the mean power of the speech frames is set to
   ``TARGET_DBFS``, so gain says nothing about the class;
3. cut into windows of ``WINDOW_S`` seconds that hold enough speech (an energy voice-activity
   mask), so the length of leading, trailing or inner silence says nothing either.

Per window the detector reads log energies of ``N_BANDS`` linear-frequency bands over 0-8 kHz
(linear rather than mel: vocoders leave their traces in the upper bands, where mel spacing is
coarse). :func:`lfcc` (their cepstrum, the ASVspoof baseline feature) and
:func:`subband_stats` (statistics of the bands above 4 kHz) feed the baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000
FRAME = 400  # 25 ms analysis window
HOP = 160  # 10 ms
N_FFT = 512
N_BANDS = 64
WINDOW_S = 3.0  # one scored segment
HOP_S = 1.5  # segments overlap by half
MIN_SPEECH_S = 1.0  # less speech than this in the whole item: abstain
MIN_WINDOW_SPEECH = 0.35  # a window needs this fraction of speech frames to be scored
TARGET_DBFS = -26.0
VAD_FLOOR_DBFS = -70.0  # frames quieter than this are never speech (near digital silence)
VAD_RANGE_DB = 35.0  # ... nor frames this far below the item's loud frames

WINDOW_SAMPLES = int(WINDOW_S * SAMPLE_RATE)
WINDOW_FRAMES = 1 + (WINDOW_SAMPLES - FRAME) // HOP


@dataclass(frozen=True)
class Segment:
    """One scored window of the item: [start_s, end_s) and its share of speech frames."""

    start_s: float
    end_s: float
    speech: float


def frame_power_db(samples: np.ndarray) -> np.ndarray:
    """Mean power (dBFS) of each 25 ms frame, 10 ms apart."""
    if samples.size < FRAME:
        return np.zeros(0, np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(samples, FRAME)[::HOP]
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    decibels: np.ndarray = (10.0 * np.log10(power + 1e-12)).astype(np.float32)
    return decibels


def speech_mask(power_db: np.ndarray) -> np.ndarray:
    """Frames that carry speech energy: above an absolute floor and within a range of the loud ones."""
    if power_db.size == 0:
        return np.zeros(0, bool)
    loud = float(np.percentile(power_db, 95))
    return (power_db > VAD_FLOOR_DBFS) & (power_db > loud - VAD_RANGE_DB)


def normalise(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(samples at the target loudness, per-frame speech mask). DC is removed first."""
    x = np.asarray(samples, np.float32)
    x = x - np.float32(x.mean()) if x.size else x
    mask = speech_mask(frame_power_db(x))
    if not mask.any():
        return x, mask
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP][mask]
    speech_db = 10.0 * np.log10(float(np.mean(frames.astype(np.float64) ** 2)) + 1e-12)
    gain = np.float32(10.0 ** ((TARGET_DBFS - speech_db) / 20.0))
    return np.clip(x * gain, -1.0, 1.0), mask


MIN_LEVEL_SPREAD_DB = 2.0  # speech rises and falls with its syllables; a tone or hiss stays within ~0.5 dB


def level_spread_db(samples: np.ndarray) -> float:
    """Spread (std, dB) of the frame levels above the silence floor.

    Speech is modulated at the syllable rate, so its frame levels spread over 8-15 dB; a
    steady tone, hum or noise stays within a dB or two. Used to abstain on audio that holds
    sound but no speech; music is not told apart (see the model card).
    """
    db = frame_power_db(samples)
    active = db[db > VAD_FLOOR_DBFS]
    return float(active.std()) if active.size > 10 else 0.0


def speech_seconds(mask: np.ndarray) -> float:
    return float(mask.sum()) * HOP / SAMPLE_RATE


def segments(mask: np.ndarray, n_samples: int) -> list[Segment]:
    """The windows to score: every ``HOP_S`` step whose window holds enough speech.

    An item shorter than one window gives one window (it is looped to full length by
    :func:`window_samples`); the last window is aligned to the item's end so no tail is lost.
    """
    duration = n_samples / SAMPLE_RATE
    if duration <= WINDOW_S:
        return [Segment(0.0, duration, float(mask.mean()) if mask.size else 0.0)]
    starts = list(np.arange(0.0, duration - WINDOW_S + 1e-9, HOP_S))
    if duration - (starts[-1] + WINDOW_S) > 0.25 * HOP_S:
        starts.append(duration - WINDOW_S)
    out = []
    for start in starts:
        a = int(start * SAMPLE_RATE / HOP)
        b = a + WINDOW_FRAMES
        share = float(mask[a:b].mean()) if mask[a:b].size else 0.0
        if share >= MIN_WINDOW_SPEECH:
            out.append(Segment(float(start), float(start + WINDOW_S), share))
    return out


def window_samples(samples: np.ndarray, segment: Segment) -> np.ndarray:
    """The segment's samples, exactly ``WINDOW_SAMPLES`` long (a short item is looped)."""
    a = round(segment.start_s * SAMPLE_RATE)
    piece = samples[a: a + WINDOW_SAMPLES]
    if piece.size < WINDOW_SAMPLES:
        piece = np.resize(piece, WINDOW_SAMPLES) if piece.size else np.zeros(WINDOW_SAMPLES, np.float32)
    return piece.astype(np.float32, copy=False)


def _linear_filterbank() -> np.ndarray:
    """N_BANDS triangular filters, evenly spaced over 0-8 kHz, on the N_FFT // 2 + 1 bins."""
    bins = np.arange(N_FFT // 2 + 1, dtype=np.float64)
    edges = np.linspace(0, N_FFT // 2, N_BANDS + 2)
    bank = np.zeros((N_BANDS, bins.size))
    for i in range(N_BANDS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        bank[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank.astype(np.float32)


_BANK = _linear_filterbank()
_HANN = np.hanning(FRAME + 1)[:-1].astype(np.float32)
BAND_CENTRES_HZ = np.linspace(0, SAMPLE_RATE / 2, N_BANDS + 2)[1:-1]


def log_bands(window: np.ndarray) -> np.ndarray:
    """Log band energies, ``N_BANDS x frames`` float32, less their mean over the window.

    Subtracting the window's mean makes the features blind to a constant gain that survived
    normalisation; the spectral shape and its movement over time remain.
    """
    frames = np.lib.stride_tricks.sliding_window_view(window, FRAME)[::HOP] * _HANN
    spectrum = np.fft.rfft(frames, n=N_FFT, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    bands = np.log(power @ _BANK.T + 1e-8).T
    centred: np.ndarray = (bands - bands.mean()).astype(np.float32)
    return centred


def lfcc(bands: np.ndarray, n: int = 20) -> np.ndarray:
    """Linear-frequency cepstral coefficients with deltas and delta-deltas: ``3n x frames``."""
    k = np.arange(N_BANDS)
    dct = np.cos(np.pi / N_BANDS * (k[None, :] + 0.5) * np.arange(n)[:, None]).astype(np.float32)
    ceps = dct @ bands
    delta = np.gradient(ceps, axis=1)
    return np.concatenate([ceps, delta, np.gradient(delta, axis=1)]).astype(np.float32)


def subband_stats(bands: np.ndarray, above_hz: float = 4000.0) -> np.ndarray:
    """Per band above ``above_hz``: mean level relative to the bands below, spread over time, and
    frame-to-frame change; vocoders smooth or alias exactly these bands."""
    high = above_hz <= BAND_CENTRES_HZ
    level = bands[high].mean(axis=1) - bands[~high].mean()
    spread = bands[high].std(axis=1)
    change = np.abs(np.diff(bands[high], axis=1)).mean(axis=1)
    return np.concatenate([level, spread, change]).astype(np.float32)


@dataclass
class PreparedAudio:
    """An item brought to the detector's common form, with the segments to score."""

    samples: np.ndarray  # normalised, 16 kHz
    mask: np.ndarray  # speech per 10 ms frame
    segments: list[Segment]

    @property
    def speech_s(self) -> float:
        return speech_seconds(self.mask)

    def band_windows(self) -> np.ndarray:
        """``len(segments) x N_BANDS x WINDOW_FRAMES`` log-band features, the model's input."""
        if not self.segments:
            return np.zeros((0, N_BANDS, WINDOW_FRAMES), np.float32)
        return np.stack([log_bands(window_samples(self.samples, s)) for s in self.segments])


def prepare(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> PreparedAudio:
    """Normalise mono 16 kHz samples and pick the segments to score."""
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"expected {SAMPLE_RATE} Hz audio, got {sample_rate} Hz (resample first)")
    x, mask = normalise(samples)
    segs = segments(mask, x.size) if mask.any() else []
    return PreparedAudio(x, mask, segs)
