"""Recording and transmission conditions applied alike to both classes.

A detector trained on clean WAV fakes and MP3 reals would learn the codec; one trained on
24 kHz fakes and 8 kHz reals would learn the bandwidth. Every clip of either class is therefore
seen under the same conditions: lossy codecs (MP3, Opus, AAC round-trips at several bit
rates, in memory with PyAV), a telephone band (8 kHz and back), random gain and random
trimming of leading and trailing silence. Development numbers are reported per condition.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

from deepscreen.voice.features import HOP, SAMPLE_RATE, frame_power_db, speech_mask

# container, encoder and the sample rate the encoder runs at
_CODECS = {"mp3": ("mp3", "libmp3lame", 16_000), "opus": ("ogg", "libopus", 16_000),
           "aac": ("adts", "aac", 16_000)}


@dataclass(frozen=True)
class Condition:
    name: str  # clean, mp3, opus, aac, tel, tel+mp3
    bitrate: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}@{self.bitrate // 1000}k" if self.bitrate else self.name


# The fixed conditions every development clip is scored under (AAC and telephone + MP3 are
# trained on but, to fit the CPU budget, not part of the development table).
EVAL_CONDITIONS = (Condition("clean"), Condition("mp3", 64_000), Condition("opus", 24_000), Condition("tel"))


def _resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono float32 with FFmpeg's resampler (the one the decoder uses)."""
    if rate_in == rate_out:
        return samples
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_out)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = rate_in
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def codec_roundtrip(samples: np.ndarray, codec: str, bitrate: int) -> np.ndarray:
    """Encode 16 kHz mono float32 with ``codec`` at ``bitrate`` and decode it back to 16 kHz."""
    container_format, encoder, rate = _CODECS[codec]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as out:
        stream = out.add_stream(encoder, rate=rate, layout="mono")
        stream.bit_rate = bitrate
        fifo = av.AudioFifo()
        pcm = np.clip(samples, -1, 1).reshape(1, -1).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(pcm, format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            fifo.write(converted)
        size = stream.codec_context.frame_size or 1024
        while fifo.samples >= size:
            for packet in stream.encode(fifo.read(size)):
                out.mux(packet)
        tail = fifo.read()
        if tail is not None:
            for packet in stream.encode(tail):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    chunks = []
    with av.open(buffer, "r") as inp:
        back = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        for decoded in inp.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in back.resample(decoded)]
        chunks += [f.to_ndarray().reshape(-1) for f in back.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def apply(samples: np.ndarray, condition: Condition) -> np.ndarray:
    x = samples
    if condition.name.startswith("tel"):
        x = _resample(_resample(x, SAMPLE_RATE, 8_000), 8_000, SAMPLE_RATE)
    codec = condition.name.split("+")[-1]
    if codec in _CODECS:
        x = codec_roundtrip(x, codec, condition.bitrate)
    return x


def random_condition(rng: np.random.Generator) -> Condition:
    choice = rng.choice(["mp3", "opus", "aac", "tel", "tel+mp3", "clean"],
                        p=[0.25, 0.2, 0.15, 0.15, 0.1, 0.15])
    bitrates = {"mp3": (32_000, 48_000, 64_000, 96_000, 128_000),
                "opus": (12_000, 16_000, 24_000, 32_000, 48_000),
                "aac": (32_000, 48_000, 64_000, 96_000), "tel+mp3": (16_000, 24_000, 32_000)}
    if choice in bitrates:
        return Condition(str(choice), int(rng.choice(bitrates[choice])))
    return Condition(str(choice))


def random_gain_and_trim(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random gain (-20..+6 dB) and a random part of the leading and trailing silence cut."""
    mask = speech_mask(frame_power_db(samples))
    x = samples
    if mask.any():
        first, last = int(np.argmax(mask)) * HOP, (len(mask) - int(np.argmax(mask[::-1]))) * HOP
        lead = int(rng.uniform(0, 1) * first)
        tail = int(rng.uniform(0, 1) * max(0, samples.size - last))
        x = samples[lead: samples.size - tail]
    gain = 10 ** (rng.uniform(-20, 6) / 20)
    return np.clip(x * gain, -1, 1).astype(np.float32)
