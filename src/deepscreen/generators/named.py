"""Generators known only by name: tools that write their name into EXIF or XMP fields.

Midjourney, DALL·E, Firefly and others put their name (sometimes with a job id) into
Software, ImageDescription, CreatorTool or PNG ``Description``/``Author`` fields. A name is a
weak declaration: anyone can type it, and a caption may merely mention the tool, so only the
fields that name a producing program or carry a generator's own description are searched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .declaration import Declaration

# Fields that name the producing program, or that generators fill with their own text.
SEARCHED_FIELDS = (
    "Software", "Description", "Title", "Author", "Source", "Comment", "Generator",
    "exif:Software", "exif:ImageDescription", "exif:Make", "exif:Model", "exif:Artist",
    "exif:UserComment", "exif:XPComment", "xmp:CreatorTool", "xmp:Software",
)

# tool id -> pattern; word boundaries keep "midjourneyman" or "dalle" in a word from matching.
NAMED_TOOLS: dict[str, re.Pattern[str]] = {
    "midjourney": re.compile(r"\bmidjourney\b", re.IGNORECASE),
    "dall-e": re.compile(r"\bDALL[·\-‐ ]?E\b", re.IGNORECASE),
    "stable-diffusion": re.compile(r"\bstable[\s_-]?diffusion\b", re.IGNORECASE),
    "adobe-firefly": re.compile(r"\bAdobe Firefly\b", re.IGNORECASE),
    "leonardo-ai": re.compile(r"\bLeonardo\.?Ai\b", re.IGNORECASE),
    "ideogram": re.compile(r"\bideogram(?:\.ai)?\b", re.IGNORECASE),
    "nightcafe": re.compile(r"\bNightCafe\b", re.IGNORECASE),
    "dreamstudio": re.compile(r"\bDreamStudio\b", re.IGNORECASE),
    "flux": re.compile(r"\bFLUX\.1\b", re.IGNORECASE),
    "bing-image-creator": re.compile(r"\bBing Image Creator\b", re.IGNORECASE),
    "craiyon": re.compile(r"\bCraiyon\b", re.IGNORECASE),
    "playground-ai": re.compile(r"\bPlayground ?(?:AI|v\d)\b", re.IGNORECASE),
    "draw-things": re.compile(r"\bDraw Things\b", re.IGNORECASE),
}


def parse(fields: Mapping[str, str], consumed: Iterable[str],
          known_tools: Iterable[str]) -> list[Declaration]:
    """One declaration per named tool found in fields no structured parser already read."""
    consumed, known = set(consumed), set(known_tools)
    found: dict[str, Declaration] = {}
    for key in SEARCHED_FIELDS:
        text = fields.get(key)
        if text is None or key in consumed:
            continue
        for tool, pattern in NAMED_TOOLS.items():
            match = pattern.search(text[:10_000])
            if match is None or tool in known:
                continue
            declaration = found.setdefault(tool, Declaration(tool=tool, keys=[]))
            declaration.keys.append(key)
            declaration.settings.setdefault("matched", {})[key] = _context(text, match)
    return list(found.values())


def _context(text: str, match: re.Match[str], width: int = 60) -> str:
    """The matched name with a little surrounding text, so a reviewer sees how it was used."""
    start, end = max(0, match.start() - width), min(len(text), match.end() + width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
