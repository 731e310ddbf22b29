"""Banks and their entries as plain data, shared by the store, the hash types and the matcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Bank:
    """A named collection of hashes with its own label and matching thresholds."""

    id: int
    name: str
    label: str
    description: str
    pdq_threshold: int
    video_query_percent: float
    video_compared_percent: float
    generation: int
    cache_key: str
    created_at: datetime
    entry_count: int = 0


@dataclass(frozen=True)
class NewEntry:
    """An entry to add: signal type, hash value and free-form metadata."""

    signal_type: str
    value: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BankEntry:
    id: int
    bank: str
    signal_type: str
    value: str
    metadata: dict[str, Any]
    added_at: datetime
