"""Scan configuration: where banks live, which signals run, limits, trust anchors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .inference import DEFAULT_PROVIDERS, check_providers
from .media.limits import Limits


def default_home() -> Path:
    """Deepscreen's data directory: ``$DEEPSCREEN_HOME`` or ``~/.local/share/deepscreen``."""
    env = os.environ.get("DEEPSCREEN_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "deepscreen"


@dataclass(frozen=True)
class ScanConfig:
    """Everything a :class:`~deepscreen.scan.Scanner` needs besides the policy.

    ``signals`` names the signals to run (``None``: every registered one).
    ``signal_options`` maps a signal name to its own settings, e.g.
    ``{"c2pa": {"trust_anchors": "/etc/deepscreen/anchors.pem"}}``.
    """

    home: Path = field(default_factory=default_home)
    limits: Limits = field(default_factory=Limits)
    signals: tuple[str, ...] | None = None
    signal_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # onnxruntime execution providers for every model, in order of preference (a CUDA or
    # OpenVINO build of onnxruntime adds its own); the CPU provider is always there.
    onnx_providers: tuple[str, ...] = DEFAULT_PROVIDERS

    def options_for(self, signal: str) -> dict[str, Any]:
        return dict(self.signal_options.get(signal, {}))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> ScanConfig:
        """Read a YAML config file (keys: home, limits, signals, signal_options,
        onnx_providers).

        Every mistake is a :class:`ConfigError` that names the file and the key.
        """
        where = str(path) if path is not None else "config"
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
                raise ConfigError(f"cannot read config {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise ConfigError(f"{where}: must be a mapping with the keys "
                                  f"{', '.join(CONFIG_KEYS)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        unknown = sorted(str(k) for k in set(data) - set(CONFIG_KEYS))
        if unknown:
            close = get_close_matches(unknown[0], CONFIG_KEYS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}{hint}; known: "
                              f"{', '.join(CONFIG_KEYS)}")
        kwargs: dict[str, Any] = {}
        if "home" in data:
            if not isinstance(data["home"], str | os.PathLike):
                raise ConfigError(f"{where}: home: must be a folder path")
            kwargs["home"] = Path(data["home"]).expanduser()
        if "limits" in data:
            limits = data["limits"]
            kwargs["limits"] = (limits if isinstance(limits, Limits)
                                else Limits.from_mapping(limits, where=f"{where}: limits"))
        if data.get("signals") is not None:
            signals = data["signals"]
            if isinstance(signals, str) or not all(isinstance(s, str) for s in signals):
                raise ConfigError(f"{where}: signals: must be a list of signal names")
            kwargs["signals"] = tuple(signals)
        if "onnx_providers" in data:
            providers = data["onnx_providers"]
            if isinstance(providers, str) or not all(isinstance(p, str) for p in providers):
                raise ConfigError(f"{where}: onnx_providers: must be a list of provider names, "
                                  "e.g. [CUDAExecutionProvider, CPUExecutionProvider]")
            kwargs["onnx_providers"] = check_providers(providers)
        if "signal_options" in data:
            options = data["signal_options"]
            if not isinstance(options, dict) or not all(isinstance(v, dict)
                                                        for v in options.values()):
                raise ConfigError(f"{where}: signal_options: must map signal names to "
                                  "mappings of options")
            kwargs["signal_options"] = dict(options)
        return cls(**kwargs)


CONFIG_KEYS = ("home", "limits", "signals", "signal_options", "onnx_providers")
