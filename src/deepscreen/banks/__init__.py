"""Hash banks: known content as SHA-256, MD5, PDQ and vPDQ hashes, and matching against them.

* :mod:`.hashing` computes hashes (pure), :mod:`.signal_types` holds one class per hash
  type (validation, comparison, what an item banks), :mod:`.vpdq` the video matching rule,
  :mod:`.index` the fast in-memory indexes, :mod:`.store` the SQLAlchemy storage,
  :mod:`.cache` the on-disk index cache, :mod:`.matcher` ties them together and
  :mod:`.csvio` reads and writes ThreatExchange-style CSV.
* ``metadata`` holds the bank tables, for a service's migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .entries import Bank, BankEntry, NewEntry
from .hashing import (
    DIHEDRAL_VARIANTS,
    PDQ_DEFAULT_THRESHOLD,
    PDQ_MIN_QUALITY,
    FrameHash,
    ItemHashes,
    PdqHash,
    hamming,
    hash_item,
    pdq_dihedral,
    pdq_of,
)
from .matcher import BankMatch, BankMatcher
from .signal_types import SIGNAL_TYPES, SignalType, entries_for, normalize_value, signal_type
from .store import BankStore, default_url, metadata
from .vpdq import VideoMatch, match_videos

if TYPE_CHECKING:
    from ..config import ScanConfig

__all__ = [
    "DIHEDRAL_VARIANTS", "PDQ_DEFAULT_THRESHOLD", "PDQ_MIN_QUALITY", "SIGNAL_TYPES", "Bank",
    "BankEntry", "BankMatch", "BankMatcher", "BankStore", "FrameHash", "ItemHashes", "NewEntry",
    "PdqHash", "SignalType", "VideoMatch", "bank_url", "default_url", "entries_for", "hamming",
    "hash_item", "match_videos", "metadata", "normalize_value", "open_store", "pdq_dihedral",
    "pdq_of", "signal_type",
]


def bank_url(config: ScanConfig) -> str:
    """The bank database URL: ``signal_options.hashes.url`` or SQLite in the home folder."""
    url = config.options_for("hashes").get("url")
    return str(url) if url else default_url(Path(config.home))


def open_store(config: ScanConfig) -> BankStore:
    """The bank store a configuration points at."""
    return BankStore(bank_url(config))
