"""What one piece of generator metadata declares: the tool, its models, settings and prompt."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Prompts can be sensitive or abusive; the report keeps only enough to recognise one.
PROMPT_LIMIT = 300


def truncate(text: str, limit: int = PROMPT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when it was cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class Model:
    """A model file the generator loaded: a checkpoint, LoRA, VAE, text encoder ..."""

    role: str
    name: str
    hash: str | None = None
    weight: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class Declaration:
    """Generator metadata found in one image, as a person checking it needs to see it.

    ``tool`` is a stable identifier (``automatic1111``, ``comfyui``) used in the
    ``generator:<tool>`` label. ``keys`` names the metadata fields that were read and
    ``problems`` what could not be read (bad JSON, a corrupt gzip payload): malformed
    metadata still declares its tool, with what could be salvaged.
    """

    tool: str
    keys: list[str]
    models: list[Model] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    problems: list[str] = field(default_factory=list)

    def setting(self, name: str, value: Any) -> None:
        """Record a sampler setting when the metadata actually gave one."""
        if value is not None and value != "" and not isinstance(value, list | dict):
            self.settings[name] = value

    def model(self, role: str, name: Any, hash: Any = None, weight: Any = None) -> None:
        """Record a model once, when its name is a non-empty string."""
        if not isinstance(name, str) or not name.strip() or name.strip().lower() == "none":
            return
        if any(m.role == role and m.name == name.strip() for m in self.models):
            return  # graphs often load one file in several nodes
        self.models.append(Model(role, name.strip(),
                                 str(hash) if hash not in (None, "") else None,
                                 float(weight) if isinstance(weight, int | float) else None))

    def set_prompt(self, text: Any) -> None:
        if isinstance(text, str) and text.strip() and self.prompt is None:
            self.prompt = truncate(text)

    def to_evidence(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {"tool": self.tool, "keys": self.keys}
        if self.models:
            evidence["models"] = [model.to_dict() for model in self.models]
        if self.settings:
            evidence["settings"] = self.settings
        if self.prompt is not None:
            evidence["prompt"] = self.prompt
        if self.problems:
            evidence["problems"] = self.problems
        return evidence
