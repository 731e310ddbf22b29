"""SwarmUI: PNG ``parameters`` as JSON with a ``sui_image_params`` object (prompt, model, seed,
steps, cfgscale, sampler, scheduler) and optionally ``sui_models`` (name, param, hash)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .declaration import Declaration


def parse(fields: Mapping[str, str]) -> Declaration | None:
    """The SwarmUI declaration, or None when ``parameters`` is not SwarmUI JSON."""
    text = fields.get("parameters")
    if text is None or "sui_image_params" not in text:
        return None
    declaration = Declaration(tool="swarmui", keys=["parameters"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        declaration.problems.append(f"parameters: invalid JSON: {exc}")
        return declaration
    params = data.get("sui_image_params") if isinstance(data, dict) else None
    if not isinstance(params, dict):
        declaration.problems.append("parameters: sui_image_params is not an object")
        return declaration
    declaration.set_prompt(params.get("prompt"))
    hashes = {}
    for model in data.get("sui_models") or []:
        if isinstance(model, dict) and isinstance(model.get("name"), str):
            hashes[model["name"]] = model.get("hash")
    model = params.get("model")
    declaration.model("checkpoint", model, hashes.get(model) if isinstance(model, str) else None)
    for key, setting in (("seed", "seed"), ("steps", "steps"), ("cfgscale", "cfg_scale"),
                         ("sampler", "sampler"), ("scheduler", "scheduler"),
                         ("swarm_version", "version")):
        declaration.setting(setting, params.get(key))
    return declaration
