"""Names of generative-AI tools as they appear in software and creator-tool metadata fields.

A tool name in ``EXIF Software`` or ``xmp:CreatorTool`` is a declaration by whoever wrote the
file, exactly like a C2PA action: evidence of origin, not proof. The patterns are anchored on
word boundaries so that e.g. "Imagenomic" or "Fluxus" do not match.
"""

from __future__ import annotations

import re

# (display name, pattern). Kept specific: a false "ai-declared" label on a camera photo is
# worse than a missed tool name, which other signals may still catch.
_AI_TOOLS: tuple[tuple[str, str], ...] = (
    ("Adobe Firefly", r"adobe[\s_-]*firefly|\bfirefly\s+(?:image|v?\d)"),
    ("DALL-E", r"\bdall[\s·._-]?e\b"),
    ("Midjourney", r"\bmid[\s_-]?journey\b"),
    ("Stable Diffusion", r"\bstable[\s_-]*diffusion\b|\bsdxl\b"),
    ("Stability AI", r"\bstability[\s_.-]*ai\b|\bdreamstudio\b"),
    ("Imagen", r"\bimagen\b"),
    ("Google AI", r"\bgoogle[\s_-]*(?:ai|gemini|imagen)\b|\bmade with google ai\b"),
    ("Gemini", r"\bgemini\s+(?:\d|image|flash|pro)"),
    ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-image\b|\bsora\b"),
    ("Bing Image Creator", r"\bbing\s+image\s+creator\b|\bmicrosoft\s+designer\b"),
    ("Leonardo.Ai", r"\bleonardo[\s.]?ai\b"),
    ("Ideogram", r"\bideogram\b"),
    ("NovelAI", r"\bnovel[\s_-]?ai\b"),
    ("Flux", r"\bflux\.1\b|\bblack forest labs\b"),
    ("Automatic1111", r"\bautomatic1111\b|\bstable-diffusion-webui\b"),
    ("ComfyUI", r"\bcomfyui\b"),
    ("InvokeAI", r"\binvoke[\s_-]?ai\b"),
    ("Fooocus", r"\bfooocus\b"),
    ("Runway", r"\brunway(?:ml|\s+gen-?\d)\b"),
    ("Kling", r"\bkling\s*ai\b"),
)

_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in _AI_TOOLS)

# Metadata fields are short; a huge value is either abuse or a prompt dump, and scanning its
# head is enough to find a tool name.
_MAX_SCAN_CHARS = 4096


def find_ai_tool(text: str) -> str | None:
    """The name of the first known generative-AI tool mentioned in ``text``, else ``None``."""
    head = text[:_MAX_SCAN_CHARS]
    for name, pattern in _COMPILED:
        if pattern.search(head):
            return name
    return None


def known_ai_tools() -> tuple[str, ...]:
    """Display names of the tools :func:`find_ai_tool` recognises (for docs and reports)."""
    return tuple(name for name, _ in _AI_TOOLS)
