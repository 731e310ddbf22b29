"""Signal ``watermark``: the invisible ``dwtDct`` mark of the Stable Diffusion reference code.

The decoder is :mod:`deepscreen.watermarks.dwtdct`; this adapter picks the pixels as stored,
decides and explains. The mark survives lossless saving and light JPEG without chroma
subsampling, but not resizing, cropping, 4:2:0 chroma (most JPEGs) or strong compression:
its absence proves nothing.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import JpegImagePlugin

from ..findings import Finding
from ..media import Item
from ..watermarks.dwtdct import HYPOTHESES, MIN_PIXELS, Decoded, decode
from .base import Signal
from .registry import register


@register
class WatermarkSignal(Signal):
    """Reads the Stable Diffusion ``dwtDct`` invisible watermark from an image's pixels."""

    name: ClassVar[str] = "watermark"
    version: ClassVar[str] = "1"
    kinds = frozenset({"image"})
    needs_pixels: ClassVar[bool] = True
    description: ClassVar[str] = (
        "Invisible dwtDct watermark of Stable Diffusion 1.x/2.x and SDXL reference code"
    )

    CAVEAT: ClassVar[str] = ("the dwtDct mark does not survive resizing, cropping, JPEG chroma "
                             "subsampling or strong compression, and most generators do not "
                             "embed it: its absence proves nothing")

    def inspect(self, item: Item) -> Finding:
        rgb = self._pixels_as_stored(item)
        if rgb is None:
            return self.abstain("no decoded pixels")
        height, width = rgb.shape[:2]
        if height * width < MIN_PIXELS:
            return self.abstain(f"image {width}x{height} is under 256x256 pixels, too small "
                                "to carry the mark", caveat=self.CAVEAT)
        results = sorted(decode(rgb), key=lambda d: d.bit_errors / len(d.message.bits))
        evidence: dict[str, object] = {
            "scheme": "invisible-watermark dwtDct (U plane, Haar DWT, 4x4 blocks, step 36)",
            "messages": [_describe(d) for d in results],
            "caveat": self.CAVEAT,
        }
        subsampling = _jpeg_chroma_subsampling(item)
        if subsampling is not None:
            evidence["jpeg_chroma_subsampling"] = subsampling
            if subsampling != "4:4:4":
                evidence["note"] = ("this JPEG subsamples chroma; in our measurements a dwtDct "
                                    "mark did not survive that even at quality 95")
        found = [d for d in results if d.detected]
        if not found:
            best = results[0]
            return self.finding(
                score=0.0, evidence=evidence,
                summary=(f"no known watermark (closest: {best.message.name} with "
                         f"{best.bit_errors} of {len(best.message.bits)} bits wrong, detection "
                         f"needs at most {best.message.max_errors})"))
        top = found[0]
        return self.finding(
            score=top.match_rate,
            labels=("ai-watermark", *(d.message.label for d in found)),
            evidence=evidence,
            summary=(f"invisible {top.message.name} watermark decoded with {top.bit_errors} "
                     f"of {len(top.message.bits)} bit errors ({top.message.origin})"))

    @staticmethod
    def _pixels_as_stored(item: Item) -> np.ndarray | None:
        """Pixels in stored orientation: the mark's block grid does not survive a rotation."""
        if not item.frames:
            return None
        image = item.image
        try:
            rotated = image is not None and image.getexif().get(0x0112, 1) not in (1, None)
        except Exception:  # corrupt EXIF: Pillow raises many types; the frame is still good
            rotated = False
        if rotated and image is not None:  # rotated implies an image; restated for the checker
            return np.asarray(image.convert("RGB"))
        return item.frames[0].rgb


def _jpeg_chroma_subsampling(item: Item) -> str | None:
    """The JPEG's chroma subsampling ("4:4:4", "4:2:2", "4:2:0"), None for other files."""
    if item.media_type.format != "jpeg" or item.image is None:
        return None
    sampling = JpegImagePlugin.get_sampling(item.image)
    return {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(sampling)


def _describe(result: Decoded) -> dict[str, object]:
    message = result.message
    return {
        "message": message.name,
        "origin": message.origin,
        "bits": len(message.bits),
        "bit_errors": result.bit_errors,
        "max_errors": message.max_errors,
        "detected": result.detected,
        "colour_reading": result.reading,
        "decision_rule": result.rule,
        # Each image is tried under every colour reading and decision rule.
        "false_positive_rate": message.false_positive_rate() * HYPOTHESES,
    }
