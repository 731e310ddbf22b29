"""Speed of the synthetic-voice signal on one core: real-time factor (audio seconds per second).

Times ``VoiceSignal.inspect`` on decoded audio (the scan-time work after decoding: loudness
normalisation, speech mask, window features, the shipped ONNX model, evidence), and
separately the decode of the same audio as a 64 kb/s MP3, so the report says where time goes.
The audio is real speech from the dev data when present (``--audio FILE``), else synthetic
speech-like sound of the same length. Writes its section of BENCHMARKS.md with ``--write``.

    OMP_NUM_THREADS=1 python bench/bench_voice.py --seconds 60 --repeat 15 --write
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from benchmarks_file import write_section
from deepscreen import ScanConfig
from deepscreen.media import decode, open_media
from deepscreen.signals.voice import VoiceSignal

TITLE = "## Synthetic-voice signal speed (voice, issue #14)"


def _audio(seconds: float, path: Path | None) -> tuple[np.ndarray, str]:
    if path is not None:
        item = decode(open_media(path))
        if item.audio is None:
            raise SystemExit(f"{path}: {item.decode_error}")
        x = np.resize(item.audio.samples, int(seconds * 16_000))  # loop a short file to length
        return x.astype(np.float32), f"{path.name} looped to {seconds:.0f} s"
    from voice_fixtures import speechlike

    return speechlike(seconds, seed=0), f"synthetic speech-like sound, {seconds:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--write", action="store_true", help="write the BENCHMARKS.md section")
    args = parser.parse_args()
    from voice_fixtures import encode_audio

    samples, what = _audio(args.seconds, args.audio)
    mp3 = encode_audio(samples, container="mp3", codec="libmp3lame", bit_rate=64_000)
    signal = VoiceSignal(ScanConfig(signals=("voice",)))
    item = decode(open_media(mp3, name="bench.mp3"))
    assert item.audio is not None
    first = signal.inspect(item)
    if first.abstained:
        raise SystemExit(f"signal abstained: {first.abstained}")
    inspect_s, decode_s = [], []
    for _ in range(args.repeat):
        start = time.perf_counter()
        signal.inspect(item)
        inspect_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        decode(open_media(mp3, name="bench.mp3"))
        decode_s.append(time.perf_counter() - start)
    med_inspect, med_decode = statistics.median(inspect_s), statistics.median(decode_s)
    load = os.getloadavg()[0]
    lines = [
        TITLE, "",
        f"`OMP_NUM_THREADS=1 python bench/bench_voice.py --seconds {args.seconds:.0f} "
        f"--repeat {args.repeat}` on {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"cores, load average {load:.1f} while measuring (other agents' jobs were running), "
        f"onnxruntime on 1 thread; audio: {what}, {first.evidence['segments_scored']} windows of 3 s.", "",
        "| stage | median s | range s | real-time factor |", "|---|---|---|---|",
        f"| signal (normalise, windows, features, ONNX, evidence) | {med_inspect:.3f} | "
        f"{min(inspect_s):.3f}-{max(inspect_s):.3f} | {args.seconds / med_inspect:.0f}x |",
        f"| decode 64 kb/s MP3 to 16 kHz mono (media layer) | {med_decode:.3f} | "
        f"{min(decode_s):.3f}-{max(decode_s):.3f} | {args.seconds / med_decode:.0f}x |",
        f"| both | {med_inspect + med_decode:.3f} | | {args.seconds / (med_inspect + med_decode):.0f}x |",
        "", "Target: at least 100x real time on one core (issue #14).", "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(TITLE, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
