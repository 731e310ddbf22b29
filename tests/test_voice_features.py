"""The voice detector's preprocessing and features (deepscreen.voice.features)."""

from __future__ import annotations

import numpy as np
import pytest

from deepscreen.voice import features
from voice_fixtures import speechlike


def test_loudness_is_normalised_whatever_the_gain() -> None:
    x = speechlike(6.0)
    levels = []
    for gain in (0.05, 0.3, 1.0):
        y, mask = features.normalise(gain * x)
        frames = np.lib.stride_tricks.sliding_window_view(y, features.FRAME)[:: features.HOP][mask]
        levels.append(10 * np.log10(np.mean(frames.astype(np.float64) ** 2)))
    assert np.allclose(levels, features.TARGET_DBFS, atol=0.5)
    seg = features.Segment(0.0, 3.0, 1.0)
    a = features.log_bands(features.window_samples(features.normalise(0.05 * x)[0], seg))
    b = features.log_bands(features.window_samples(features.normalise(x)[0], seg))
    assert np.allclose(a, b, atol=0.2)  # so the features do not see the recording's gain


def test_segments_cover_the_speech_with_half_overlap() -> None:
    prepared = features.prepare(speechlike(10.0))
    starts = [s.start_s for s in prepared.segments]
    assert starts[:5] == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert prepared.segments[-1].end_s == pytest.approx(10.0)  # the tail is not lost
    bands = prepared.band_windows()
    assert bands.shape == (len(prepared.segments), features.N_BANDS, features.WINDOW_FRAMES)
    assert bands.dtype == np.float32 and np.isfinite(bands).all()


def test_windows_of_silence_are_not_scored() -> None:
    speech = speechlike(4.0)
    x = np.concatenate([speech, np.zeros(16_000 * 6, np.float32), speech])
    prepared = features.prepare(x)
    assert prepared.segments
    for s in prepared.segments:
        assert not (s.start_s >= 4.5 and s.end_s <= 9.5), f"silent window scored: {s}"


def test_short_item_is_one_looped_window() -> None:
    x = speechlike(1.8)
    prepared = features.prepare(x)
    assert len(prepared.segments) == 1
    window = features.window_samples(prepared.samples, prepared.segments[0])
    assert window.size == features.WINDOW_SAMPLES
    assert np.allclose(window[x.size: 2 * x.size], prepared.samples[: window.size - x.size][: x.size])


def test_silence_has_no_speech_and_a_tone_has_no_level_spread() -> None:
    assert not features.prepare(np.zeros(48_000, np.float32)).mask.any()
    t = np.arange(48_000) / 16_000
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert features.level_spread_db(tone) < features.MIN_LEVEL_SPREAD_DB
    assert features.level_spread_db(speechlike(5.0)) > features.MIN_LEVEL_SPREAD_DB


def test_other_sample_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="16000 Hz"):
        features.prepare(np.zeros(100, np.float32), 22_050)


def test_lfcc_and_subband_shapes() -> None:
    bands = features.log_bands(features.window_samples(features.normalise(speechlike(3.0))[0],
                                                       features.Segment(0.0, 3.0, 1.0)))
    assert features.lfcc(bands).shape == (60, features.WINDOW_FRAMES)
    high = int((features.BAND_CENTRES_HZ >= 4000).sum())
    assert features.subband_stats(bands).shape == (3 * high,)


def test_high_band_energy_moves_the_high_band_features() -> None:
    rng = np.random.default_rng(0)
    x = features.normalise(speechlike(3.0))[0]
    hiss = x + 0.05 * rng.normal(size=x.size).astype(np.float32)
    seg = features.Segment(0.0, 3.0, 1.0)
    a = features.log_bands(features.window_samples(x, seg))
    b = features.log_bands(features.window_samples(hiss, seg))
    assert b[-8:].mean() - b.mean() > a[-8:].mean() - a.mean() + 0.5
