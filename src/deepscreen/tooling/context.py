"""What a tooling matcher may use besides the facts of a file, shared by every matcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MatchContext:
    """What a matcher may need besides the facts (the face detector for face sets)."""

    face_detector: Callable[[], Any] | None = None
    faceset_enabled: bool = True
    cache: dict[str, Any] = field(default_factory=dict)
