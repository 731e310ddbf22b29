"""Decompression bombs refused fast: time from bytes to verdict for each kind of bomb.

    python bench/bench_bombs.py [--repeat 7] [--write]

Every case is built in memory first (not timed), then scanned ``--repeat`` times by the real
Scanner with every built-in signal and the default limits; the median and the slowest of
the scans are reported with the refusal code. The target is under 100 ms each (issue 13).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepscreen import ScanConfig, Scanner

import media_factory as mf

CASES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "pixel flood PNG 100000x100000": ("png", lambda: mf.png_declaring(100_000, 100_000)),
    "PNG 65535x65535 (64k x 64k)": ("png", lambda: mf.png_declaring(65_535, 65_535)),
    "GIF canvas 65535x65535": ("gif", lambda: mf.gif_declaring(65_535, 65_535)),
    "GIF of 20,000 one-pixel frames": ("gif", lambda: mf.gif_frame_flood(20_000)),
    "ZIP bomb, 200 MiB member (1000:1)": ("zip", lambda: mf.zip_bomb(200 << 20)),
    "overlapping ZIP bomb, 1000 x 1 MiB": ("zip", lambda: mf.overlapping_zip_bomb(1000, 1 << 20)),
    "ZIPs nested 10 deep": ("zip", lambda: mf.nested_zips(10)),
    "GZ bomb, 200 MiB of zeros": ("gz", lambda: mf.gzip_bomb(200 << 20)),
    "TAR.GZ bomb, 200 MiB member": ("tar.gz", lambda: mf.tar_gz_bomb(200 << 20)),
    "MP4 with 20,000 nested boxes": ("mp4", lambda: mf.nested_mp4(20_000)),
    "PNG with a 5 MiB XMP packet": ("png", lambda: mf.png_with_xmp(5 << 20)),
}


def outcome(report) -> str:  # type: ignore[no-untyped-def]
    """The refusal as a report shows it: its error code, or the deepest member's."""
    for r in report.walk():
        if r.error:
            return r.error["code"]
    xmp = report.finding("xmp")
    return f"{report.action} (xmp: {xmp.abstained or xmp.summary})" if xmp else report.action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="write the section of BENCHMARKS.md")
    args = parser.parse_args()
    rows = []
    with Scanner(ScanConfig(home=Path(tempfile.mkdtemp()))) as scanner:
        scanner.scan(mf.image_bytes("JPEG"), name="warm-up.jpg")  # models loaded before timing
        for name, (ext, build) in CASES.items():
            data = build()
            times, result = [], ""
            for _ in range(args.repeat):
                started = time.perf_counter()
                report = scanner.scan(data, name=f"bomb.{ext}")
                times.append((time.perf_counter() - started) * 1000)
                result = f"{report.action}: {outcome(report)}"
            rows.append((name, len(data), statistics.median(times), max(times), result))
            print(f"{name:40s} {len(data):>10,} B  median {rows[-1][2]:7.1f} ms  max {rows[-1][3]:7.1f} ms"
                  f"  {result}", flush=True)
    if args.write:
        from benchmarks_file import write_section

        load = os.getloadavg()[0]
        table = ["| bomb | file size | median | max | verdict: refusal |", "|---|---:|---:|---:|---|"]
        table += [f"| {n} | {size:,} B | {med:.1f} ms | {mx:.1f} ms | {res} |"
                  for n, size, med, mx, res in rows]
        write_section("## Decompression bombs (issue #13)", "\n".join([
            "## Decompression bombs (issue #13)", "",
            f"`python bench/bench_bombs.py --repeat {args.repeat} --write`: the real Scanner, every "
            "built-in signal, default limits, each bomb scanned from bytes in memory "
            f"{args.repeat} times after a warm-up scan. Machine: the 2-core workplace box, shared "
            f"with other agents (1-minute load {load:.1f} when written). Target: under 100 ms each.",
            "", *table, ""]))


if __name__ == "__main__":
    main()
