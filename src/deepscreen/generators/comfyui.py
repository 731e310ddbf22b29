"""ComfyUI: the executed graph (``prompt``) and the editor graph (``workflow``) as JSON.

``prompt`` maps node ids to ``{"class_type": ..., "inputs": {...}}``; an input is a literal
or a link ``[node_id, output_index]``. ``workflow`` is the editor's node list, where loaders
keep their file names in ``widgets_values``. Model files are recognised by input name, so
custom loader nodes that follow ComfyUI's naming (``*_name``) are covered too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .declaration import Declaration

# Loader input name -> the model's role in the report.
_MODEL_INPUTS = {
    "ckpt_name": "checkpoint",
    "unet_name": "diffusion-model",
    "lora_name": "lora",
    "vae_name": "vae",
    "clip_name": "text-encoder",
    "clip_name1": "text-encoder",
    "clip_name2": "text-encoder",
    "clip_name3": "text-encoder",
    "control_net_name": "controlnet",
    "hypernetwork_name": "hypernetwork",
    "style_model_name": "style-model",
    "upscale_model_name": "upscaler",
    "gligen_name": "gligen",
    "model_name": "model",
}
_MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft", ".onnx")
# Editor node type -> role of the model file in its first widget.
_WORKFLOW_LOADERS = {
    "CheckpointLoaderSimple": "checkpoint",
    "CheckpointLoader": "checkpoint",
    "ImageOnlyCheckpointLoader": "checkpoint",
    "unCLIPCheckpointLoader": "checkpoint",
    "UNETLoader": "diffusion-model",
    "LoraLoader": "lora",
    "LoraLoaderModelOnly": "lora",
    "VAELoader": "vae",
    "HypernetworkLoader": "hypernetwork",
    "ControlNetLoader": "controlnet",
}
_SAMPLER_SETTINGS = {
    "seed": "seed",
    "noise_seed": "seed",
    "steps": "steps",
    "cfg": "cfg_scale",
    "sampler_name": "sampler",
    "scheduler": "scheduler",
    "denoise": "denoise",
}
# Class-name parts of nodes holding sampling settings (KSampler, KSamplerSelect, BasicScheduler,
# CFGGuider, RandomNoise ...).
_SAMPLING_NODE_PARTS = ("Sampler", "Scheduler", "Guider", "Noise")
# Inputs through which the positive prompt reaches a sampler, most specific first.
_CONDITIONING_INPUTS = ("positive", "conditioning", "conditioning_to", "conditioning_1")
_MAX_CHAIN = 16


def parse(fields: Mapping[str, str]) -> Declaration | None:
    """The ComfyUI declaration, or None when neither graph is present."""
    prompt_key = _find_key(fields, "prompt")
    workflow_key = _find_key(fields, "workflow")
    if prompt_key is None and workflow_key is None:
        return None
    prompt = _load(fields, prompt_key)
    workflow = _load(fields, workflow_key)
    # "prompt" alone is a common key name; claim it only when it looks like a ComfyUI graph.
    if (prompt_key is not None and workflow_key is None and not isinstance(prompt, dict)
            and not _looks_like_json(fields[prompt_key])):
        return None
    keys = [key for key in (prompt_key, workflow_key) if key is not None]
    declaration = Declaration(tool="comfyui", keys=keys)
    for key, value in ((prompt_key, prompt), (workflow_key, workflow)):
        if isinstance(value, str):
            declaration.problems.append(f"{key}: {value}")
    if isinstance(prompt, dict):
        _read_prompt_graph(declaration, prompt)
    if isinstance(workflow, dict) and not declaration.models:
        _read_workflow(declaration, workflow)
    return declaration


def _find_key(fields: Mapping[str, str], name: str) -> str | None:
    if name in fields:
        return name
    return next((key for key in fields if key.endswith("/" + name)), None)


def _load(fields: Mapping[str, str], key: str | None) -> dict[str, Any] | str | None:
    """The JSON object under ``key``, or a string saying why it could not be read."""
    if key is None:
        return None
    try:
        data = json.loads(fields[key])
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc}"
    return data if isinstance(data, dict) else "JSON is not an object"


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def _nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(node_id): node for node_id, node in graph.items()
            if isinstance(node, dict) and isinstance(node.get("inputs"), dict)}


def _read_prompt_graph(declaration: Declaration, graph: dict[str, Any]) -> None:
    nodes = _nodes(graph)
    samplers = []
    for node in nodes.values():
        inputs = node["inputs"]
        for key, value in inputs.items():
            role = _MODEL_INPUTS.get(key)
            if role is None and key.endswith("_name") and isinstance(value, str) \
                    and value.lower().endswith(_MODEL_SUFFIXES):
                role = "model"
            if role is not None:
                weight = inputs.get("strength_model") if role == "lora" else None
                declaration.model(role, value, weight=weight)
        class_type = str(node.get("class_type", ""))
        if any(key in inputs for key in ("seed", "noise_seed")) or any(
                part in class_type for part in _SAMPLING_NODE_PARTS):
            samplers.append(node)
    for sampler in samplers:
        for key, setting in _SAMPLER_SETTINGS.items():
            if setting not in declaration.settings:
                declaration.setting(setting, _literal(sampler["inputs"].get(key)))
    for sampler in samplers:
        declaration.set_prompt(_prompt_text(nodes, sampler))
    if declaration.prompt is None:  # no sampler linked to text: take the first text encoder
        for node in nodes.values():
            if str(node.get("class_type", "")).startswith("CLIPTextEncode"):
                declaration.set_prompt(_text_of(node))


def _prompt_text(nodes: dict[str, dict[str, Any]], sampler: dict[str, Any]) -> str | None:
    """Follow the sampler's positive conditioning back to the node that holds the text."""
    node = sampler
    for _ in range(_MAX_CHAIN):
        link = next((node["inputs"][key] for key in _CONDITIONING_INPUTS
                     if _is_link(node["inputs"].get(key))), None)
        if link is None:
            return None
        linked = nodes.get(str(link[0]))
        if linked is None:
            return None
        node = linked
        text = _text_of(node)
        if text:
            return text
    return None


def _text_of(node: dict[str, Any]) -> str | None:
    for key in ("text", "text_g", "prompt"):
        value = node["inputs"].get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _read_workflow(declaration: Declaration, workflow: dict[str, Any]) -> None:
    for node in workflow.get("nodes") or []:
        if not isinstance(node, dict):
            continue
        role = _WORKFLOW_LOADERS.get(str(node.get("type")))
        widgets = node.get("widgets_values")
        if role is not None and isinstance(widgets, list) and widgets:
            declaration.model(role, widgets[0])


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int)


def _literal(value: Any) -> Any:
    return None if isinstance(value, list | dict) else value
