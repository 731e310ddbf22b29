"""The signal registry: built-in signals register on import; plug-ins via entry points.

A third-party package adds a signal by exposing a :class:`Signal` subclass under the
``deepscreen.signals`` entry-point group; nothing in Deepscreen changes.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points

from .base import Signal

log = logging.getLogger(__name__)

# Built-in signal modules, in the order their findings appear in a report.
BUILTIN_MODULES = (
    "deepscreen.signals.hashes",
    "deepscreen.signals.c2pa",
    "deepscreen.signals.xmp",
    "deepscreen.signals.generator",
    "deepscreen.signals.watermark",
    "deepscreen.signals.faces",
    "deepscreen.signals.tooling",
    "deepscreen.signals.voice",
    "deepscreen.signals.synthetic",
)

_REGISTRY: dict[str, type[Signal]] = {}
_loaded = False


def register(cls: type[Signal]) -> type[Signal]:
    """Class decorator: make a signal available under ``cls.name``."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"signal name {cls.name!r} is taken by {existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a signal (a test's probe, a plug-in being unloaded); unknown names are ignored."""
    _REGISTRY.pop(name, None)


def available_signals() -> dict[str, type[Signal]]:
    """Every registered signal by name, importing built-ins and plug-ins on first use."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:  # a signal whose dependency is missing: say so, go on
                    log.warning("signal module %s unavailable: %s", module, exc)
        for ep in entry_points(group="deepscreen.signals"):
            try:
                register(ep.load())
            except Exception as exc:  # a broken plug-in must not stop screening
                log.warning("signal plug-in %s failed to load: %s", ep.name, exc)
        _loaded = True
    return dict(_REGISTRY)
