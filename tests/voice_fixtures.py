"""Speech-like audio, encoded audio files and videos with sound, made at test time."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnx
from onnx import TensorProto, helper

from deepscreen.voice.detector import FEATURE_VERSION


def speechlike(seconds: float, rate: int = 16_000, seed: int = 0, pause_every_s: float = 1.2) -> np.ndarray:
    """Voiced 'syllables' (a harmonic series with a moving pitch and formant-like weights) at
    about 4 per second, with short pauses: enough level modulation to pass as speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum((1.0 / k) * np.sin(k * phase) * (1 + 0.5 * np.sin(2 * np.pi * (0.3 + 0.1 * k) * t))
                 for k in range(1, 25))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    pauses = (np.mod(t, pause_every_s) < pause_every_s * 0.8).astype(float)
    noise = rng.normal(0, 0.01, t.size)
    x = 0.25 * voiced / np.abs(voiced).max() * syllables * pauses + noise * syllables
    return x.astype(np.float32)


def encode_audio(samples: np.ndarray, rate: int = 16_000, container: str = "wav", codec: str = "pcm_s16le",
                 bit_rate: int | None = None) -> bytes:
    """Encode mono float samples with PyAV (WAV, MP3, ...)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        _write_audio(out, stream, samples, rate)
    return buf.getvalue()


def _write_audio(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, samples: np.ndarray,
                 rate: int) -> None:
    fmt = stream.codec_context.format.name
    size = stream.codec_context.frame_size or 1024
    for start in range(0, samples.size, size):
        chunk = samples[start:start + size]
        base = fmt.rstrip("p")
        data = ((chunk * 32767).astype(np.int16) if base == "s16" else
                (chunk * 2**31 * 0.99).astype(np.int32) if base == "s32" else chunk.astype(np.float32))
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def video_with_sound(samples: np.ndarray | None, seconds: float = 3.0, rate: int = 16_000) -> bytes:
    """A small MP4 (H.264 grey frames) with an AAC sound track of ``samples`` (None: no sound)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        video = out.add_stream("libx264", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="mono") if samples is not None else None
        for i in range(int(seconds * 10)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 + i, np.uint8), format="rgb24")
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None and samples is not None:
            _write_audio(out, audio, samples, rate)
    return buf.getvalue()


def tiny_voice_model(folder: Path, weight: float = 1.0, bias: float = 0.0, threshold: float = 0.5) -> Path:
    """A stand-in model with the shipped model's contract: ``bands`` (N x 64 x T) -> ``logit`` (N),
    the logit being ``weight * mean(bands[:, 48:, :]) + bias`` (the level of the top 2 kHz)."""
    folder.mkdir(parents=True, exist_ok=True)
    def constant(name: str, kind: int, dims: list[int], values: list[float]) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, kind, dims, values))

    nodes = [
        constant("starts", TensorProto.INT64, [1], [48]),
        constant("ends", TensorProto.INT64, [1], [64]),
        constant("axis", TensorProto.INT64, [1], [1]),
        helper.make_node("Slice", ["bands", "starts", "ends", "axis"], ["top"]),
        helper.make_node("ReduceMean", ["top"], ["mean"], axes=[1, 2], keepdims=0),
        constant("w", TensorProto.FLOAT, [], [weight]),
        constant("b", TensorProto.FLOAT, [], [bias]),
        helper.make_node("Mul", ["mean", "w"], ["scaled"]),
        helper.make_node("Add", ["scaled", "b"], ["logit"]),
    ]
    graph = helper.make_graph(nodes, "tiny-voice",
                              [helper.make_tensor_value_info("bands", TensorProto.FLOAT, ["n", 64, "t"])],
                              [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["n"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(folder / "voice_detector.onnx"))
    (folder / "voice_detector.json").write_text(json.dumps({
        "name": "tiny-voice", "version": "test", "feature_version": FEATURE_VERSION, "input_name": "bands",
        "output_name": "logit", "threshold": threshold}))
    return folder
