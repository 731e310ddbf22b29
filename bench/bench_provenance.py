"""Benchmark the provenance signals (c2pa, xmp) per item, on bytes already in memory.

    python bench/bench_provenance.py [--repeat 50]

Times ``Signal.inspect`` alone (decoding is the media layer's cost) on a 1-megapixel JPEG
without credentials, the same JPEG signed with a test-time certificate, a 720p 10 s video,
and two real signed files from ../shared/data when present. Prints the median milliseconds
per item and the share of the whole-scan budget (50 images/s = 20 ms per image for every
signal together). Record results in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from deepscreen import ScanConfig
from deepscreen.media import decode, open_media
from deepscreen.signals import available_signals

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fixtures_c2pa import make_pki, sign_media

from media_factory import image_bytes, video_bytes

IMAGE_BUDGET_MS = 1000 / 50
SHARED_C2PA = Path(__file__).resolve().parents[2] / "shared" / "data" / "provenance" / "c2pa"


def median_ms(signal: object, data: bytes, repeat: int) -> float:
    item = decode(open_media(data))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        signal.inspect(item)  # type: ignore[attr-defined]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    plain = image_bytes("JPEG", 1152, 864, seed=1, quality=90)
    samples = {
        "1-MP JPEG, no credentials": plain,
        "1-MP JPEG, signed (ES256)": sign_media(make_pki(), source=plain),
        "720p 10 s H.264 video": video_bytes(seconds=10, fps=30, width=1280, height=720),
    }
    for name in ("ocsp.jpg", "video1.mp4"):  # real Adobe Photoshop and c2patool credentials
        if (SHARED_C2PA / name).is_file():
            samples[f"shared {name}"] = (SHARED_C2PA / name).read_bytes()
    registry = available_signals()
    config = ScanConfig()
    print(f"{'sample':30s} {'signal':6s} {'median ms':>10s} {'of 20 ms budget':>16s}")
    for label, data in samples.items():
        for name in ("c2pa", "xmp"):
            signal = registry[name](config)
            ms = median_ms(signal, data, args.repeat)
            print(f"{label:30s} {name:6s} {ms:10.2f} {ms / IMAGE_BUDGET_MS:15.1%}")


if __name__ == "__main__":
    main()
