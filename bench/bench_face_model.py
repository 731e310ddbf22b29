"""Benchmark the face-manipulation model: one aligned face crop per call on one core.

    python bench/bench_face_model.py [--model-dir src/deepscreen/models] [--runs 200]

Target: at most 15 ms per face crop with onnxruntime on one core (intra-op threads = 1),
the way the ``faces`` signal runs it in each worker process. Also reports a batch of 16.
Results are recorded by hand in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from deepscreen.faces.model import MODELS_DIR, FaceModel

TARGET_MS = 15.0


def median_ms(model: FaceModel, crops: np.ndarray, runs: int) -> float:
    model.predict(crops)  # warm-up: first run allocates and plans
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(crops)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    model = FaceModel(args.model_dir, threads=1, batch_size=16)
    size = model.info.input_size
    rng = np.random.default_rng(0)
    one = rng.integers(0, 256, size=(1, size, size, 3), dtype=np.uint8)
    batch = rng.integers(0, 256, size=(16, size, size, 3), dtype=np.uint8)
    single = median_ms(model, one, args.runs)
    batched = median_ms(model, batch, max(10, args.runs // 10)) / 16
    print(f"model {model.info.name} {model.info.version}, input {size} px, 1 thread")
    print(f"one crop per call: median {single:.2f} ms "
          f"({single / TARGET_MS:.0%} of the {TARGET_MS:.0f} ms target)")
    print(f"batch of 16: median {batched:.2f} ms per crop")


if __name__ == "__main__":
    main()
