"""Signal ``generator``: the generation parameters AI image tools write into their files.

Reads AUTOMATIC1111 infotext (PNG text, EXIF UserComment, hidden alpha/RGB LSB "stealth"
records), ComfyUI graphs, InvokeAI, NovelAI, Fooocus and SwarmUI metadata, and generator
names in EXIF/XMP fields (see :mod:`deepscreen.generators`). A declaration is not probabilistic, so the
score stays None: the finding carries labels and evidence. C2PA and IPTC digital source types
belong to the ``c2pa`` and ``xmp`` signals.
"""

from __future__ import annotations

from typing import ClassVar

from ..findings import Finding
from ..generators import Declaration, read_declarations
from ..media import Item
from .base import Signal
from .registry import register

CAVEAT = ("generator metadata is a declaration, not proof: anyone can write or forge it, and "
          "re-encoding or upload pipelines strip it, so its absence proves nothing")


@register
class GeneratorSignal(Signal):
    """Finds generator metadata (tool, models, settings, prompt) in an image file."""

    name: ClassVar[str] = "generator"
    version: ClassVar[str] = "1"
    kinds = frozenset({"image"})
    # Reads item.image: the original PIL image with its metadata and alpha channel.
    needs_pixels: ClassVar[bool] = True
    description: ClassVar[str] = (
        "AI generator metadata: A1111 (incl. stealth LSB), ComfyUI, InvokeAI, NovelAI, Fooocus, "
        "SwarmUI, generator names in EXIF/XMP"
    )

    def inspect(self, item: Item) -> Finding:
        if item.image is None:
            return self.abstain("no decoded image to read metadata from")
        metadata = read_declarations(item.image)
        if not metadata.declarations:
            return self.abstain("no generator metadata", caveat=CAVEAT,
                                **({"problems": metadata.problems} if metadata.problems else {}))
        tools = metadata.tools
        evidence = {
            "tools": tools,
            "declarations": [d.to_evidence() for d in metadata.declarations],
            "keys_read": [key for d in metadata.declarations for key in d.keys],
            "caveat": CAVEAT,
        }
        if metadata.problems:
            evidence["problems"] = metadata.problems
        return self.finding(
            score=None,
            labels=("ai-declared", *(f"generator:{tool}" for tool in tools)),
            summary=_summary(metadata.declarations),
            evidence=evidence,
        )


def _summary(declarations: list[Declaration]) -> str:
    parts = []
    for declaration in declarations:
        text = declaration.tool
        checkpoint = next((m for m in declaration.models
                           if m.role in ("checkpoint", "diffusion-model", "model")), None)
        if checkpoint is not None:
            text += f" ({checkpoint.name})"
        if declaration.problems:
            text += " [partly unreadable]"
        parts.append(text)
    return "declares AI generation: " + "; ".join(parts)
