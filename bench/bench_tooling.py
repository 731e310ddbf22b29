"""Cost of the ``tooling`` signal per item: ordinary uploads, tool files, a 50 MB ONNX model.

Run: ``python bench/bench_tooling.py [--runs 200] [--write]``. Prints a Markdown table of the
median (and 90th percentile) milliseconds of ``ToolingSignal.inspect`` per item, for items held
in memory and for items read from disk (memory-mapped), and, for the 50 MB ONNX and the
50 MB weights pickle, the time ``onnx.load(..., load_external_data=False)`` / ``pickle.loads``
take on the same file as the reference. ``--write`` puts the table in BENCHMARKS.md.
Every sample is built here (tests/tooling_samples.py); no third-party weights are used.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from bench.benchmarks_file import write_section  # noqa: E402

import tooling_samples as samples  # noqa: E402
from deepscreen.config import ScanConfig  # noqa: E402
from deepscreen.media import open_media  # noqa: E402
from deepscreen.signals.tooling import ToolingSignal  # noqa: E402


def photo(width: int, height: int, fmt: str, **save: object) -> bytes:
    rng = np.random.default_rng(width)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([90 + 80 * np.sin(x / 97), 120 + 60 * np.cos(y / 71),
                       100 + 50 * np.sin((x + y) / 53)], axis=-1) + rng.normal(0, 6, (height, width, 3))
    out = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, fmt, **save)
    return out.getvalue()


def exif_photo() -> bytes:
    image = Image.open(io.BytesIO(photo(4000, 3000, "JPEG", quality=90)))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Phone maker", "Phone model 12", "Camera app 1.0"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def onnx_50mb() -> bytes:
    """An inswapper-shaped graph padded with 48 x 1 MiB conv weights: about 50 MB."""
    from onnx import TensorProto, helper, numpy_helper
    target = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, 128, 128])
    source = helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 128, 128])
    weights = [numpy_helper.from_array(np.full((256, 256, 2, 2), i, np.float32), f"layer{i}.weight")
               for i in range(48)]
    nodes = [helper.make_node("Identity", ["target"], ["output"])]
    nodes += [helper.make_node("Identity", [w.name], [f"out{i}"]) for i, w in enumerate(weights)]
    emap = numpy_helper.from_array(np.zeros((512, 512), np.float32), "emap")
    graph = helper.make_graph(nodes, "big", [target, source], [output], [*weights, emap])
    return helper.make_model(graph).SerializeToString()


def weights_50mb() -> bytes:
    return pickle.dumps({f"dec{i}/conv/weight:0": np.zeros((256, 256, 2, 2), np.float32)
                         for i in range(48)}, 4)


def timed(run: Callable[[], object], runs: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args()
    signal = ToolingSignal(ScanConfig())
    big_onnx, big_pickle = onnx_50mb(), weights_50mb()
    cases: list[tuple[str, bytes, int]] = [
        ("ordinary JPEG 640x480 q85", photo(640, 480, "JPEG", quality=85), args.runs),
        ("ordinary JPEG 1 MP q90", photo(1000, 1000, "JPEG", quality=90), args.runs),
        ("ordinary JPEG 12 MP q90 with EXIF", exif_photo(), args.runs),
        ("ordinary PNG 640x480", photo(640, 480, "PNG"), args.runs),
        ("ordinary PNG 1 MP", photo(1000, 1000, "PNG"), args.runs),
        ("DeepFaceLab aligned JPEG 256 px (match)", samples.dfl_jpeg(size=256), args.runs),
        ("faceswap aligned PNG (match)", samples.faceswap_png(), args.runs),
        ("inswapper-shaped ONNX, 50 MB (match)", big_onnx, max(10, args.runs // 10)),
        ("DFL weights pickle, 50 MB (match)", big_pickle, max(10, args.runs // 10)),
        ("DFL workspace ZIP, 17 members (match)",
         samples.zip_of({n: b"x" for n in samples.workspace_names()}), args.runs),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, runs in cases:
            path = Path(tmp) / "item"
            path.write_bytes(data)
            in_memory, on_disk = open_media(data), open_media(path)
            memory = timed(lambda item=in_memory: signal.inspect(item), runs)
            disk = timed(lambda item=on_disk: signal.inspect(item), runs)
            labels = signal.inspect(in_memory).labels
            rows.append((name, len(data), memory, disk, ", ".join(labels) or "none"))
        import onnx
        onnx_path = Path(tmp) / "big.onnx"
        onnx_path.write_bytes(big_onnx)
        onnx_ref = timed(lambda: onnx.load(str(onnx_path), load_external_data=False), 10)
        pickle_ref = timed(lambda: pickle.loads(big_pickle), 10)
    load = os.getloadavg()
    cpu = platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    lines = ["## Tooling signal", "",
             f"`python bench/bench_tooling.py --runs {args.runs}`, {cpu}, "
             f"{os.cpu_count()} cores shared with other agents (load average {load[0]:.1f} / {load[1]:.1f} "
             f"/ {load[2]:.1f} at the end of the run), {time.strftime('%Y-%m-%d')}. "
             "`ToolingSignal.inspect` per item: median and 90th percentile ms, item in memory and "
             "read from disk (memory-mapped).", "",
             "| item | bytes | in memory: median / p90 ms | from disk: median / p90 ms | labels |",
             "|---|---|---|---|---|"]
    for name, size, memory, disk, labels in rows:
        lines.append(f"| {name} | {size:,} | {memory[0]:.3f} / {memory[1]:.3f} | "
                     f"{disk[0]:.3f} / {disk[1]:.3f} | {labels} |")
    onnx_row = next(r for r in rows if r[0].startswith("inswapper"))
    pickle_row = next(r for r in rows if r[0].startswith("DFL weights"))
    lines += ["", "References on the same 50 MB files (what the readers avoid):", "",
              f"- `onnx.load(path, load_external_data=False)`: median {onnx_ref[0]:.1f} ms; the wire "
              f"reader from disk: {onnx_row[3][0]:.2f} ms ({onnx_ref[0] / onnx_row[3][0]:.0f}x less).",
              f"- `pickle.loads` (which would also run any callable the file names): median "
              f"{pickle_ref[0]:.1f} ms; the opcode reader: {pickle_row[2][0]:.2f} ms "
              f"({pickle_ref[0] / pickle_row[2][0]:.0f}x less).", ""]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("## Tooling signal", text)


if __name__ == "__main__":
    main()
