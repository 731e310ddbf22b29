"""Archive layouts as pure functions over member names: what a tool's working folder looks like.

DeepFaceLab's builds create ``workspace/data_src/aligned``, ``data_dst/aligned``, ``model``
and write ``data_dst/merged`` and ``result.mp4``; faceswap keeps ``alignments.fsa`` beside
its frames and ``<plugin>_state.json`` beside its model. A layout rule lists path patterns
(matched at any depth, case-insensitively; see :func:`pattern_regex`) with how many members
each needs; the archive matches when enough of them do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# "<source stem>_<face index>.<ext>": DeepFaceLab's Extractor.py and faceswap's extract.py
# both name an extracted face after its frame and the face's index in it.
ALIGNED_NAME = re.compile(r"^.+_\d{1,2}\.(jpg|jpeg|png)$", re.IGNORECASE)


def normalise(name: str) -> str:
    """Forward slashes, no leading ``./`` or ``/``: how patterns expect member names."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def basename(name: str) -> str:
    return normalise(name).rstrip("/").rsplit("/", 1)[-1]


def is_image_name(name: str) -> bool:
    return basename(name).lower().endswith(IMAGE_SUFFIXES)


@lru_cache(maxsize=512)
def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A path pattern as a regex anchored at a component boundary and at the end.

    ``*`` stays within one component, ``**`` crosses them, ``?`` is one character and
    ``{a|b}`` is either literal.
    """
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "{" and "}" in pattern[i:]:
            close = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:close].split("|")) + ")")
            i = close + 1
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile(r"(?:^|/)" + "".join(out) + r"$", re.IGNORECASE)


@dataclass(frozen=True)
class GroupMatch:
    pattern: str
    count: int
    examples: tuple[str, ...]


def match_groups(names: Iterable[str], patterns: Sequence[str]) -> list[GroupMatch]:
    """How many members match each pattern, with a few examples of each."""
    regexes = [pattern_regex(p) for p in patterns]
    counts = [0] * len(patterns)
    examples: list[list[str]] = [[] for _ in patterns]
    for raw in names:
        name = normalise(raw)
        for index, regex in enumerate(regexes):
            if regex.search(name):
                counts[index] += 1
                if len(examples[index]) < 3:
                    examples[index].append(name[:200])
    return [GroupMatch(p, c, tuple(e)) for p, c, e in zip(patterns, counts, examples, strict=True)]


def layout_match(names: Sequence[str], groups: Sequence[dict[str, Any]], min_groups: int,
                 required_any: Sequence[str] = ()) -> dict[str, Any] | None:
    """Evidence when at least ``min_groups`` groups have their ``min`` members (and at least
    one of the ``required_any`` group names is among them), else None.

    ``groups`` are ``{"name": ..., "pattern": ..., "min": n}`` as written in rules.yaml.
    """
    found = match_groups(names, [g["pattern"] for g in groups])
    hits = [(g, m) for g, m in zip(groups, found, strict=True) if m.count >= int(g.get("min", 1))]
    hit_names = {g["name"] for g, _ in hits}
    if len(hits) < min_groups or (required_any and not hit_names & set(required_any)):
        return None
    return {"groups": {g["name"]: {"members": m.count, "examples": list(m.examples)}
                       for g, m in hits},
            "groups_needed": min_groups}


def aligned_naming(names: Sequence[str]) -> tuple[int, int]:
    """(image members, of which named like extracted faces ``<frame>_<index>.<ext>``)."""
    images = [n for n in names if is_image_name(n)]
    return len(images), sum(1 for n in images if ALIGNED_NAME.match(basename(n)))
