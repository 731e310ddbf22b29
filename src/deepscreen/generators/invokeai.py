"""InvokeAI, in the three formats its versions wrote.

* ``invokeai_metadata`` (3.x+): JSON with ``positive_prompt``, ``model`` {``model_name`` or
  ``name``, ``hash``}, ``seed``, ``steps``, ``cfg_scale``, ``scheduler``, ``loras``, ``vae``.
* ``sd-metadata`` (2.x): JSON with ``model_weights``, ``model_hash``, ``app_version`` and an
  ``image`` object (``prompt``, ``seed``, ``steps``, ``cfg_scale``, ``sampler``).
* ``Dream`` (1.x, and alongside ``sd-metadata``): a command line,
  ``"prompt" -s 50 -S 2980747362 -W 512 -H 768 -C 5 -A k_lms``.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from .declaration import Declaration

_KEYS = ("invokeai_metadata", "invokeai_graph", "sd-metadata", "Dream")
# Dream command-line switches -> setting names.
_DREAM_SWITCHES = {"-s": "steps", "-S": "seed", "-C": "cfg_scale", "-A": "sampler",
                   "-W": "width", "-H": "height"}


def parse(fields: Mapping[str, str]) -> Declaration | None:
    """The InvokeAI declaration, read from the richest format present."""
    keys = [key for key in _KEYS if key in fields]
    if not keys:
        return None
    declaration = Declaration(tool="invokeai", keys=keys)
    if "invokeai_metadata" in fields:
        data = _json(declaration, fields, "invokeai_metadata")
        if data is not None:
            _read_v3(declaration, data)
    if "sd-metadata" in fields and not declaration.settings:
        data = _json(declaration, fields, "sd-metadata")
        if data is not None:
            _read_v2(declaration, data)
    if "Dream" in fields and not declaration.settings:
        _read_dream(declaration, fields["Dream"])
    return declaration


def _json(declaration: Declaration, fields: Mapping[str, str], key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(fields[key])
    except json.JSONDecodeError as exc:
        declaration.problems.append(f"{key}: invalid JSON: {exc}")
        return None
    if not isinstance(data, dict):
        declaration.problems.append(f"{key}: JSON is not an object")
        return None
    return data


def _model_name(model: Any) -> str | None:
    if isinstance(model, dict):
        return model.get("model_name") or model.get("name")
    return model if isinstance(model, str) else None


def _read_v3(declaration: Declaration, data: dict[str, Any]) -> None:
    declaration.set_prompt(data.get("positive_prompt"))
    model = data.get("model")
    declaration.model("checkpoint", _model_name(model),
                      model.get("hash") if isinstance(model, dict) else None)
    declaration.model("vae", _model_name(data.get("vae")))
    for lora in data.get("loras") or []:
        if isinstance(lora, dict):
            declaration.model("lora", _model_name(lora.get("lora") or lora.get("model")),
                              weight=lora.get("weight"))
    for key, setting in (("seed", "seed"), ("steps", "steps"), ("cfg_scale", "cfg_scale"),
                         ("scheduler", "scheduler"), ("generation_mode", "mode"),
                         ("app_version", "version")):
        declaration.setting(setting, data.get(key))


def _read_v2(declaration: Declaration, data: dict[str, Any]) -> None:
    declaration.model("checkpoint", data.get("model_weights"), data.get("model_hash"))
    declaration.setting("version", data.get("app_version"))
    image = data.get("image")
    if not isinstance(image, dict):
        return
    prompt = image.get("prompt")
    if isinstance(prompt, list):  # weighted sub-prompts
        prompt = " ".join(part.get("prompt", "") for part in prompt if isinstance(part, dict))
    declaration.set_prompt(prompt)
    for key in ("seed", "steps", "cfg_scale", "sampler"):
        declaration.setting(key, image.get(key))


def _read_dream(declaration: Declaration, command: str) -> None:
    try:
        words = shlex.split(command)
    except ValueError as exc:  # unbalanced quotes: keep what the prompt was, say why
        declaration.problems.append(f"Dream: cannot split the command line: {exc}")
        declaration.set_prompt(command)
        return
    if words:
        declaration.set_prompt(words[0])
    for switch, value in pairwise(words[1:]):
        setting = _DREAM_SWITCHES.get(switch)
        if setting is not None:
            declaration.setting(setting, int(value) if value.isdigit() else value)
