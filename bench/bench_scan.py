"""Benchmark the whole scan: a folder of 1-megapixel JPEGs and a 720p 30 s video.

    python bench/bench_scan.py [--images 200] [--workers 2] [--signals hashes,c2pa,...]

Prints images per second over the folder (target >= 50 on the 2-core dev box), the median
cost of each signal per image, and how many times faster than real time the 720p video is
screened (target >= 20x). Results are recorded by hand in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageFilter

from deepscreen import Report, ScanConfig, Scanner, scan_paths


def natural_image(seed: int, width: int = 1152, height: int = 864) -> Image.Image:
    """A photo-like 1-MP picture: multi-scale noise, smooth regions and edges."""
    rng = np.random.default_rng(seed)
    layers = []
    for scale in (4, 16, 64):
        small = rng.random((height // scale + 1, width // scale + 1, 3)) * 255
        layers.append(np.asarray(Image.fromarray(small.astype(np.uint8)).resize((width, height),
                                                                                  Image.BICUBIC)))
    rgb = (0.5 * layers[0] + 0.3 * layers[1] + 0.2 * layers[2]).astype(np.uint8)
    return Image.fromarray(rgb).filter(ImageFilter.SMOOTH)


def make_jpegs(folder: Path, count: int) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"img_{i:04d}.jpg"
        natural_image(i).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


def make_video(path: Path, seconds: int = 30, fps: int = 30) -> None:
    base = natural_image(7, 1280 + seconds * fps, 720)
    rgb = np.asarray(base)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:, i:i + 1280]), "rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def per_signal_ms(reports: list[Report]) -> dict[str, float]:
    costs: dict[str, list[float]] = defaultdict(list)
    for report in reports:
        for finding in report.findings:
            costs[finding.signal].append(finding.elapsed_ms)
    return {name: statistics.median(values) for name, values in costs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--signals", default=None, help="comma-separated; default: all")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    signals = tuple(args.signals.split(",")) if args.signals else None

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        config = ScanConfig(home=tmpdir / "home", signals=signals)
        folder = tmpdir / "jpegs"
        folder.mkdir()
        paths = make_jpegs(folder, args.images)
        print(f"{len(paths)} JPEGs of {natural_image(0).size[0]}x{natural_image(0).size[1]} px, "
              f"{sum(p.stat().st_size for p in paths) / len(paths) / 1e3:.0f} kB each")

        rates = []
        reports: list[Report] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            results = list(scan_paths(paths, config, workers=args.workers))
            rates.append(len(paths) / (time.perf_counter() - t0))
            reports = [r for _, r in results if isinstance(r, Report)]
        print(f"folder scan, {args.workers} workers: median {statistics.median(rates):.1f} "
              f"images/s over {args.repeat} runs (target >= 50): {[round(r, 1) for r in rates]}")
        print("median ms per image by signal:")
        for name, ms in sorted(per_signal_ms(reports).items(), key=lambda kv: -kv[1]):
            print(f"  {name:12s} {ms:8.2f}")
        actions = defaultdict(int)
        for report in reports:
            actions[report.action] += 1
        print(f"verdicts: {dict(actions)}")

        video = tmpdir / "720p30s.mp4"
        make_video(video)
        with Scanner(config) as scanner:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                report = scanner.scan(video)
                times.append(time.perf_counter() - t0)
        duration = report.item.duration_s
        median = statistics.median(times)
        print(f"720p video of {duration:.1f} s ({video.stat().st_size / 1e6:.1f} MB, "
              f"{report.item.frames_sampled} frames sampled): median {median:.2f} s = "
              f"{duration / median:.1f}x real time (target >= 20x)")
        for finding in report.findings:
            print(f"  {finding.signal:12s} {finding.elapsed_ms:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
