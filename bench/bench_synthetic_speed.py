"""Speed of the ``synthetic`` detector on a 1-MP image, one core, onnxruntime (issue #19).

Target: at most 20 ms per 1-MP image on one core. Measures the detector alone (patch grid,
ONNX run, aggregation) on an already decoded 1152x864 photo-like image, and for reference
decoding the same image from JPEG with Pillow, which every scan pays anyway.

    OMP_NUM_THREADS=1 python bench/bench_synthetic_speed.py [--runs 200] [--write]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepscreen.synthetic import SyntheticDetector, SyntheticModel

TARGET_MS = 20.0


def photo_like(width: int = 1152, height: int = 864, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 24, width // 24, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    noisy = (smooth + rng.normal(0, 4, smooth.shape)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def median_ms(fn: object, runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[len(times) // 10], times[-len(times) // 10 - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    args = parser.parse_args(argv)
    data = photo_like()
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    detector = SyntheticDetector(SyntheticModel(args.model_dir, threads=1))
    detector.score(rgb)  # warm-up: session allocation
    detect = median_ms(lambda: detector.score(rgb), args.runs)
    decode = median_ms(lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), args.runs)
    load = os.getloadavg()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (
        "## Generated-image detector speed (synthetic, issue #19)\n\n"
        f"Target: <= {TARGET_MS:.0f} ms per 1-MP image on one core with onnxruntime. Measured {when}, "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (other agents' jobs on the 2 cores), "
        f"one onnxruntime thread, {args.runs} runs on a 1152x864 image, "
        f"{detector.grid ** 2} patches of "
        f"{detector.model.info.patch} px.\n\n"
        f"Command: `OMP_NUM_THREADS=1 python bench/bench_synthetic_speed.py --runs {args.runs}`\n\n"
        "| measurement | median | 10th-90th percentile | target | ratio to target |\n|---|---|---|---|---|\n"
        f"| detector (patch grid + ONNX + aggregation) | **{detect[0]:.2f} ms** "
        f"| {detect[1]:.2f}-{detect[2]:.2f} ms "
        f"| <= {TARGET_MS:.0f} ms | {TARGET_MS / detect[0]:.2f} "
        f"({'meets' if detect[0] <= TARGET_MS else 'misses'} the target) |\n"
        f"| reference: Pillow JPEG decode of the same image | {decode[0]:.2f} ms "
        f"| {decode[1]:.2f}-{decode[2]:.2f} ms "
        f"| | detector = {detect[0] / decode[0]:.2f}x a decode |\n"
    )
    print(text)
    if args.write:
        from bench.benchmarks_file import write_section

        write_section("## Generated-image detector speed (synthetic, issue #19)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
