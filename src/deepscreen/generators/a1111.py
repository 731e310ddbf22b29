"""AUTOMATIC1111 "infotext": the ``parameters`` text its web UI (and Forge, SD.Next) writes.

Layout: the prompt (any number of lines), optionally ``Negative prompt: ...`` lines, and a last
line of ``Key: value`` pairs separated by commas, values with commas in double quotes::

    photo of a duck
    Negative prompt: monochrome
    Steps: 15, Sampler: UniPC, CFG scale: 5, Seed: 235284042, Model hash: c0d1994c73, Model: x
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from .declaration import Declaration

_PAIR = re.compile(r"\s*([\w][\w \-/().]*?):\s*(\"(?:\\.|[^\\\"])*\"|[^,]*)(?:,|$)")
_EXTRA_NETWORK = re.compile(r"<(lora|lyco|hypernet):([^:>]+)(?::([-\d.]+))?[^>]*>")
_NEGATIVE = "Negative prompt:"
_SETTINGS = {
    "Steps": "steps",
    "Sampler": "sampler",
    "Schedule type": "scheduler",
    "CFG scale": "cfg_scale",
    "Seed": "seed",
    "Size": "size",
    "Denoising strength": "denoising_strength",
    "Clip skip": "clip_skip",
    "Version": "version",
}


def parse(fields: Mapping[str, str]) -> Declaration | None:
    """The A1111 declaration in PNG ``parameters`` or a JPEG/WebP EXIF UserComment."""
    if "fooocus_scheme" in fields:  # Fooocus writes the same key; its parser owns it
        return None
    text = fields.get("parameters")
    if text is not None and not _is_json_object(text):
        return parse_infotext(text, "parameters")
    comment = fields.get("exif:UserComment")
    if comment is not None and _settings_line(comment.strip().splitlines()[-1:]):
        return parse_infotext(comment, "exif:UserComment")
    return None


def parse_infotext(text: str, key: str, tool: str = "automatic1111") -> Declaration:
    """Parse infotext into a declaration; text without a settings line keeps only its prompt."""
    lines = text.strip().splitlines()
    pairs = _settings_line(lines[-1:])
    body = lines[:-1] if pairs else lines
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in body:
        if line.startswith(_NEGATIVE):
            in_negative, line = True, line[len(_NEGATIVE):]
        (negative if in_negative else prompt).append(line)
    version = pairs.get("Version", "")
    if version.startswith("Fooocus"):
        tool = "fooocus"
    declaration = Declaration(tool=tool, keys=[key])
    declaration.set_prompt("\n".join(prompt))
    if not pairs:
        declaration.problems.append("no settings line (Steps, Sampler, Seed ...) was found")
    for name, setting in _SETTINGS.items():
        declaration.setting(setting, _number(pairs.get(name)))
    if version.startswith("f"):  # Forge numbers its builds f<forge>v<a1111>
        declaration.settings["variant"] = "forge"
    declaration.model("checkpoint", pairs.get("Model"), pairs.get("Model hash"))
    declaration.model("vae", pairs.get("VAE"), pairs.get("VAE hash"))
    _add_extra_networks(declaration, pairs, "\n".join(prompt))
    return declaration


def _settings_line(lines: list[str]) -> dict[str, str]:
    """The key/value pairs of a settings line; empty when the line is not one."""
    if not lines:
        return {}
    pairs = {key.strip(): _unquote(value.strip()) for key, value in _PAIR.findall(lines[0])}
    # A prompt line can contain a colon or two; a settings line has several pairs and Steps.
    return pairs if len(pairs) >= 3 and "Steps" in pairs else {}


def _add_extra_networks(declaration: Declaration, pairs: dict[str, str], prompt: str) -> None:
    hashes: dict[str, str] = {}
    for entry in pairs.get("Lora hashes", "").split(","):
        name, _, digest = entry.partition(":")
        if name.strip() and digest.strip():
            hashes[name.strip()] = digest.strip()
    seen = set()
    for kind, name, weight in _EXTRA_NETWORK.findall(prompt):
        role = "hypernetwork" if kind == "hypernet" else "lora"
        declaration.model(role, name, hashes.get(name), _number(weight))
        seen.add(name)
    for name, digest in hashes.items():
        if name not in seen:
            declaration.model("lora", name, digest)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except json.JSONDecodeError:
            return value[1:-1]
    return value


def _number(value: str | None) -> int | float | str | None:
    if value is None or value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _is_json_object(text: str) -> bool:
    return text.lstrip().startswith("{")
