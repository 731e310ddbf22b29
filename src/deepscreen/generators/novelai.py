"""NovelAI: PNG text ``Software: NovelAI`` with the prompt in ``Description``, the model in
``Source`` and the settings as JSON in ``Comment``; the same fields as a JSON object when
written into the alpha channel (``stealth_pngcomp``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .declaration import Declaration

_KEYS = ("Software", "Title", "Description", "Source", "Comment")


def parse(fields: Mapping[str, str], origin: str | None = None) -> Declaration | None:
    """The NovelAI declaration from text fields, or None when Software is not NovelAI."""
    if fields.get("Software", "").strip() != "NovelAI":
        return None
    keys = [origin] if origin else [key for key in _KEYS if key in fields]
    declaration = Declaration(tool="novelai", keys=keys)
    declaration.model("model", fields.get("Source"))
    comment: Any = fields.get("Comment")
    if isinstance(comment, str):
        try:
            comment = json.loads(comment)
        except json.JSONDecodeError as exc:
            declaration.problems.append(f"Comment: invalid JSON: {exc}")
    if isinstance(comment, dict):
        declaration.set_prompt(comment.get("prompt"))
        for key, setting in (("seed", "seed"), ("steps", "steps"), ("sampler", "sampler"),
                             ("scale", "cfg_scale"), ("strength", "strength")):
            declaration.setting(setting, comment.get(key))
    declaration.set_prompt(fields.get("Description"))
    return declaration
