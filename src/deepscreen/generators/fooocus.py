"""Fooocus: ``fooocus_scheme`` names the format of its ``parameters`` field.

Scheme ``fooocus`` is a JSON object (prompt, base_model, base_model_hash, loras, sampler ...);
scheme ``a1111`` is A1111 infotext with ``Version: Fooocus v2...``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import a1111
from .declaration import Declaration


def parse(fields: Mapping[str, str]) -> Declaration | None:
    """The Fooocus declaration, or None when the image has no Fooocus metadata."""
    scheme = fields.get("fooocus_scheme")
    text = fields.get("parameters")
    if scheme is None:
        data = _json_object(text) if text is not None else None
        if not (data and str(data.get("version", "")).startswith("Fooocus")):
            return None
    keys = [key for key in ("parameters", "fooocus_scheme") if key in fields]
    if text is None:
        declaration = Declaration(tool="fooocus", keys=keys)
        declaration.problems.append("fooocus_scheme is present but parameters is missing")
        return declaration
    if scheme == "a1111":
        declaration = a1111.parse_infotext(text, "parameters", tool="fooocus")
        declaration.keys = keys
        return declaration
    declaration = Declaration(tool="fooocus", keys=keys)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        declaration.problems.append(f"parameters is not valid JSON: {exc}")
        return declaration
    if not isinstance(data, dict):
        declaration.problems.append("parameters JSON is not an object")
        return declaration
    _read(declaration, data)
    return declaration


def _read(declaration: Declaration, data: dict[str, Any]) -> None:
    declaration.set_prompt(data.get("prompt"))
    declaration.model("checkpoint", data.get("base_model"), data.get("base_model_hash"))
    declaration.model("refiner", data.get("refiner_model"), data.get("refiner_model_hash"))
    for lora in data.get("loras") or []:
        # Entries are [name, weight] or [name, weight, hash] depending on the version.
        if isinstance(lora, list | tuple) and lora:
            weight = lora[1] if len(lora) > 1 else None
            declaration.model("lora", lora[0], lora[2] if len(lora) > 2 else None, weight)
    for source, setting in (("seed", "seed"), ("steps", "steps"), ("sampler", "sampler"),
                            ("scheduler", "scheduler"), ("guidance_scale", "cfg_scale"),
                            ("resolution", "size"), ("version", "version")):
        declaration.setting(setting, data.get(source))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
