"""Generator metadata: what AI image tools write into the files they produce.

:func:`read_declarations` returns one :class:`Declaration` per tool whose metadata an image
carries, read by one small parser per format. Presence is a declaration, not proof (anyone can
write these fields) and absence proves nothing (they are stripped by most re-encoders).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import a1111, comfyui, fooocus, invokeai, named, novelai, swarmui
from .declaration import PROMPT_LIMIT, Declaration, Model, truncate
from .sources import collect_fields
from .stealth import StealthPayload, read_stealth

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["PROMPT_LIMIT", "Declaration", "GeneratorMetadata", "Model", "read_declarations",
           "truncate"]

# Structured parsers. Fooocus, SwarmUI and A1111 all use "parameters": the JSON formats check
# for their own markers and A1111 takes only text that is not a JSON object.
PARSERS: tuple[Callable[[Mapping[str, str]], Declaration | None], ...] = (
    fooocus.parse, swarmui.parse, a1111.parse, comfyui.parse, invokeai.parse, novelai.parse,
)


@dataclass
class GeneratorMetadata:
    """Every declaration found in one image, and what could not be read at all."""

    declarations: list[Declaration] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def tools(self) -> list[str]:
        return list(dict.fromkeys(d.tool for d in self.declarations))


def read_declarations(image: Image.Image) -> GeneratorMetadata:
    """Read every generator declaration from a decoded image (metadata and hidden LSB data)."""
    fields, problems = collect_fields(image)
    result = GeneratorMetadata(problems=problems)
    for parser in PARSERS:
        declaration = parser(fields)
        if declaration is not None:
            result.declarations.append(declaration)
    try:
        stealth = read_stealth(image)
    except (OSError, ValueError) as exc:  # truncated pixel data; the text metadata still counts
        result.problems.append(f"hidden LSB metadata could not be read: {exc}")
        stealth = None
    if stealth is not None:
        result.declarations.append(_from_stealth(stealth))
    consumed = [key for declaration in result.declarations for key in declaration.keys]
    result.declarations.extend(named.parse(fields, consumed, result.tools))
    return result


def _from_stealth(payload: StealthPayload) -> Declaration:
    """A stealth record holds A1111 infotext, or NovelAI's text fields as a JSON object."""
    origin = f"lsb:{payload.signature}"
    if payload.text is None:
        # The signature is the A1111 extension's; NovelAI's records read as JSON, so an
        # unreadable one is attributed to the format's origin.
        declaration = Declaration(tool="automatic1111", keys=[origin])
        declaration.problems.append(payload.problem or "payload unreadable")
        return declaration
    try:
        data = json.loads(payload.text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        text_fields = {key: value if isinstance(value, str) else json.dumps(value)
                       for key, value in data.items()}
        from_novelai = novelai.parse(text_fields, origin=origin)
        if from_novelai is not None:
            return from_novelai
    return a1111.parse_infotext(payload.text, origin)
