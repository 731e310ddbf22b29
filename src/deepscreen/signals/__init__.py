"""Signals: one module per detector, each returning one Finding per item.

:mod:`.base` is the interface, :mod:`.registry` finds the built-in signals and plug-ins (a
package exposing a :class:`Signal` subclass under the ``deepscreen.signals`` entry-point
group); every other module here is one signal.
"""

from __future__ import annotations

from .base import Signal
from .registry import available_signals, register, unregister

__all__ = ["Signal", "available_signals", "register", "unregister"]
