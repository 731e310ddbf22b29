"""Cost of the ``generator`` and ``watermark`` signals per already decoded item.

Run: ``.venv/bin/python bench/bench_generator_watermark.py [--runs 50]``. Prints a Markdown
table of median milliseconds of ``Signal.inspect`` and the share of the whole-scan budget of
20 ms per 1-MP image (50 images/s). Uses synthetic 1-MP images and, when ``../shared/data`` is
present, the real generator-metadata samples.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from deepscreen.config import ScanConfig
from deepscreen.media import Item, decode, open_media
from deepscreen.signals.generator import GeneratorSignal
from deepscreen.signals.watermark import WatermarkSignal

BUDGET_MS = 20.0
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
INFOTEXT = ("a lighthouse at dusk\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
            "CFG scale: 7, Seed: 1, Size: 1000x1000, Model hash: c0d1994c73, Model: sd15")


def photo_like(height: int = 1000, width: int = 1000) -> np.ndarray:
    """Gradients, soft blobs and grain, so JPEG sizes and chroma resemble a photo."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 80 * np.sin(x / 97), 120 + 60 * np.cos(y / 71),
                     100 + 50 * np.sin((x + y) / 53)], axis=-1)
    blobs = cv2.GaussianBlur(rng.normal(0, 60, (height, width, 3)).astype(np.float32), (0, 0), 9)
    return np.clip(base + blobs + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)


def item_from(data: bytes | Path) -> Item:
    item = open_media(data)
    decode(item)
    return item


def median_ms(run: Callable[[], object], runs: int) -> float:
    run()  # warm caches and lazy imports
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def samples() -> dict[str, Item]:
    pixels = photo_like()
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(jpeg, "JPEG", quality=90)
    info = PngInfo()
    info.add_text("parameters", INFOTEXT)
    Image.fromarray(pixels).save(png, "PNG", pnginfo=info)
    found = {"1-MP JPEG, no metadata": item_from(jpeg.getvalue()),
             "1-MP PNG with A1111 parameters": item_from(png.getvalue())}
    real = SHARED / "provenance" / "generator-metadata"
    for name in ("ComfyUI_full_sdturbo_sdxlturbo_example.png",
                 "AUTOMATIC1111_automatic1111_stealth.png"):
        if (real / name).is_file():
            found[f"`{name}`"] = item_from(real / name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    config = ScanConfig()
    generator, watermark = GeneratorSignal(config), WatermarkSignal(config)
    print("| sample | generator median ms | watermark median ms | both, share of 20 ms |")
    print("|---|---|---|---|")
    for name, item in samples().items():
        g = median_ms(lambda item=item: generator.inspect(item), args.runs)
        w = median_ms(lambda item=item: watermark.inspect(item), args.runs)
        print(f"| {name} | {g:.2f} | {w:.2f} | {100 * (g + w) / BUDGET_MS:.0f}% |")


if __name__ == "__main__":
    main()
