"""Audio decoding to one mono track at a fixed sample rate, within the duration limit."""

from __future__ import annotations

import time

import av
import numpy as np

from ..errors import MediaError
from .item import AudioTrack, Item

MAX_SAMPLE_RATE = 768_000  # the highest rate real audio formats use (DXD, 32-bit PCM at 768 kHz)


def decode_audio(item: Item, timeout_s: float | None = None) -> None:
    """Decode the first audio stream into ``item.audio`` (mono float32).

    Bounded by ``limits.max_duration_s`` of sound and ``timeout_s`` of wall time (default
    ``limits.decode_timeout_s``); raises :class:`MediaError` past either.
    """
    limits = item.limits
    deadline = time.monotonic() + (limits.decode_timeout_s if timeout_s is None else timeout_s)
    max_samples = int(limits.max_duration_s * limits.audio_sample_rate)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with item.open_stream() as raw, av.open(raw, mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise MediaError("no-audio-stream", "the file holds no audio stream")
            stream = container.streams.audio[0]
            if stream.codec_context is None:
                raise MediaError("decode-failed", "the audio codec is unknown or unsupported")
            codec, channels = stream.codec_context.name, stream.codec_context.channels
            rate = stream.codec_context.sample_rate or 0
            if not 0 < rate <= MAX_SAMPLE_RATE:
                # A header claiming 268 MHz (one flipped bit, bench/fuzz.py) made the resampler
                # spend seconds building its filter for a file of three kilobytes.
                raise MediaError("decode-failed", f"the audio declares a sample rate of {rate:,} Hz, "
                                                  f"outside 1 Hz to {MAX_SAMPLE_RATE:,} Hz")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=limits.audio_sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if total > max_samples:
                    raise MediaError("too-long",
                                     f"audio runs past the {limits.max_duration_s:.0f} s limit")
                if time.monotonic() > deadline:
                    raise MediaError("decode-timeout", "decoding the audio took too long")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError, EOFError) as exc:
        raise MediaError("decode-failed", f"cannot decode audio: {exc}") from exc
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise MediaError("decode-failed", "no decodable audio found")
    duration = samples.size / limits.audio_sample_rate
    item.duration_s = duration
    item.audio = AudioTrack(sample_rate=limits.audio_sample_rate, samples=samples,
                            duration_s=duration, codec=codec or "unknown", channels=channels or 0)


def decode_soundtrack(item: Item, timeout_s: float) -> None:
    """Decode a video's first audio stream into ``item.audio``, if it has one.

    The pictures are what make a video screenable, so a sound track that is missing, broken or
    over a limit does not fail the item: ``item.audio`` stays None and the reason is kept in
    ``item.decode_info['audio']`` for the signals' evidence.
    """
    if timeout_s <= 0:
        item.decode_info["audio"] = "not decoded: no time left after the video frames"
        return
    duration = item.duration_s
    try:
        decode_audio(item, timeout_s)
    except MediaError as exc:
        item.audio = None
        item.decode_info["audio"] = "no audio stream" if exc.code == "no-audio-stream" else str(exc)
    finally:
        item.duration_s = duration  # the video's duration, not the sound track's
