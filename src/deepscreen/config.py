"""Scan configuration: where banks live, which signals run, limits, trust anchors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DeepscreenError
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

    @property
    def banks_dir(self) -> Path:
        return self.home / "banks"

    def options_for(self, signal: str) -> dict[str, Any]:
        return dict(self.signal_options.get(signal, {}))

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> ScanConfig:
        """Read a YAML config file (keys: home, limits, signals, signal_options)."""
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = yaml.safe_load(Path(path).read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise DeepscreenError(f"cannot read config {path}: {exc}") from exc
            if not isinstance(data, dict):
                raise DeepscreenError(f"config {path} must be a mapping")
        data.update({k: v for k, v in overrides.items() if v is not None})
        kwargs: dict[str, Any] = {}
        if "home" in data:
            kwargs["home"] = Path(data["home"]).expanduser()
        if "limits" in data:
            limits = data["limits"]
            kwargs["limits"] = limits if isinstance(limits, Limits) else Limits.from_mapping(limits)
        if data.get("signals") is not None:
            kwargs["signals"] = tuple(data["signals"])
        if "signal_options" in data:
            kwargs["signal_options"] = dict(data["signal_options"])
        unknown = set(data) - {"home", "limits", "signals", "signal_options"}
        if unknown:
            raise DeepscreenError(f"unknown config key(s): {', '.join(sorted(unknown))}")
        return cls(**kwargs)
