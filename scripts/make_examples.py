"""Recreate the example files used in the README (all synthetic, made here)."""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import PngImagePlugin

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_scan import natural_image

HERE = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    natural_image(1, 640, 480).save(HERE / "photo.jpg", "JPEG", quality=88)
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
                  "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x384, "
                  "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly")
    natural_image(2, 512, 384).save(HERE / "generated.png", "PNG", pnginfo=info)
    data = (HERE / "photo.jpg").read_bytes()
    (HERE / "truncated.jpg").write_bytes(data[: len(data) // 3])


if __name__ == "__main__":
    main()
