"""Per-bank indexes cached on disk next to the database, rebuilt only when the bank changed.

A cache folder is named after the bank's random ``cache_key`` and its ``generation``; every
add or remove bumps the generation, so a stale folder is never read. Folders are written
under a temporary name and renamed into place, so a concurrent reader sees all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .entries import Bank
from .hashing import FrameHash, parse_vpdq
from .index import ExactIndex, PdqIndex, pack_pdq
from .signal_types import SIGNAL_TYPES, Digest
from .store import BankStore

log = logging.getLogger(__name__)

_FORMAT = 1
# Digest types, with the bytes of their digests (the exact index keys on them).
_DIGEST_WIDTH = {t.name: t.hex_length // 2 for t in SIGNAL_TYPES.values()
                 if isinstance(t, Digest)}


@dataclass
class BankIndex:
    """Everything needed to match against one bank without touching the database."""

    bank: Bank
    exact: dict[str, tuple[ExactIndex, np.ndarray]]  # type -> (index, entry ids by row)
    pdq: PdqIndex
    pdq_ids: np.ndarray
    frames: PdqIndex  # every vPDQ frame of every video entry
    frame_ids: np.ndarray  # entry id of each frame row
    frame_quality: np.ndarray
    frame_time: np.ndarray

    @property
    def size(self) -> int:
        return len(self.pdq) + len(self.frame_ids) + sum(len(i) for i, _ in self.exact.values())

    def video_frames(self, entry_id: int) -> list[FrameHash]:
        """One video entry's frames, read back from the cached arrays."""
        rows = np.flatnonzero(self.frame_ids == entry_id)
        return [FrameHash(self.frames.hashes[r].tobytes().hex(), int(self.frame_quality[r]),
                          float(self.frame_time[r])) for r in rows]

    @classmethod
    def build(cls, store: BankStore, bank: Bank) -> BankIndex:
        exact = {}
        for signal_type, width in _DIGEST_WIDTH.items():
            ids, values = store.id_values(bank, signal_type)
            exact[signal_type] = (ExactIndex.build(values, width), np.array(ids, dtype=np.int64))
        pdq_ids, pdq_values = store.id_values(bank, "pdq")
        video_ids, video_values = store.id_values(bank, "vpdq")
        frame_ids, frame_hex, frame_quality, frame_time = [], [], [], []
        for entry_id, value in zip(video_ids, video_values, strict=True):
            for frame in parse_vpdq(value):
                frame_ids.append(entry_id)
                frame_hex.append(frame.hex)
                frame_quality.append(frame.quality)
                frame_time.append(frame.time_s)
        return cls(bank=bank, exact=exact,
                   pdq=PdqIndex.build(pack_pdq(pdq_values)),
                   pdq_ids=np.array(pdq_ids, dtype=np.int64),
                   frames=PdqIndex.build(pack_pdq(frame_hex)),
                   frame_ids=np.array(frame_ids, dtype=np.int64),
                   frame_quality=np.array(frame_quality, dtype=np.int16),
                   frame_time=np.array(frame_time, dtype=np.float64))

    def save(self, folder: Path) -> None:
        for signal_type, (index, ids) in self.exact.items():
            index.save(folder, signal_type)
            np.save(folder / f"{signal_type}.ids.npy", ids)
        self.pdq.save(folder, "pdq")
        np.save(folder / "pdq.ids.npy", self.pdq_ids)
        self.frames.save(folder, "vpdq")
        for part in ("frame_ids", "frame_quality", "frame_time"):
            np.save(folder / f"vpdq.{part}.npy", getattr(self, part))
        (folder / "index.json").write_text(json.dumps(
            {"format": _FORMAT, "bank": self.bank.name, "generation": self.bank.generation}))

    @classmethod
    def load(cls, folder: Path, bank: Bank) -> BankIndex:
        def arr(name: str) -> np.ndarray:
            mapped: np.ndarray = np.load(folder / f"{name}.npy", mmap_mode="r")
            return mapped

        exact = {t: (ExactIndex.load(folder, t), arr(f"{t}.ids")) for t in _DIGEST_WIDTH}
        return cls(bank=bank, exact=exact, pdq=PdqIndex.load(folder, "pdq"),
                   pdq_ids=arr("pdq.ids"), frames=PdqIndex.load(folder, "vpdq"),
                   frame_ids=arr("vpdq.frame_ids"), frame_quality=arr("vpdq.frame_quality"),
                   frame_time=arr("vpdq.frame_time"))


def cache_root(store: BankStore, fallback: Path) -> Path:
    """``<db>.index/`` next to a SQLite file; ``<fallback>/bank-index/<url digest>`` for
    server databases (one folder per database, so two never prune each other's caches)."""
    if store.sqlite_path is not None:
        return store.sqlite_path.with_name(store.sqlite_path.name + ".index")
    digest = hashlib.sha256(store.url.encode()).hexdigest()[:16]
    return fallback / "bank-index" / digest


def load_bank_index(store: BankStore, bank: Bank, root: Path | None) -> BankIndex:
    """The bank's index from its cache folder, or built from the database and cached."""
    if root is None:  # in-memory databases: nothing to cache to
        return BankIndex.build(store, bank)
    folder = root / f"{bank.name}-{bank.cache_key}-g{bank.generation}"
    marker = folder / "index.json"
    if marker.is_file():
        try:
            if json.loads(marker.read_text()).get("format") == _FORMAT:
                return BankIndex.load(folder, bank)
        except (OSError, ValueError) as exc:
            log.warning("bank index cache %s is unreadable (%s); rebuilding", folder, exc)
    index = BankIndex.build(store, bank)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{bank.name}-", dir=root))
        index.save(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process won the race; its folder is as good as ours
            shutil.rmtree(tmp, ignore_errors=True)
        for stale in root.glob(f"{bank.name}-{bank.cache_key}-g*"):
            if stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
    except OSError as exc:  # a read-only home still screens, just without the cache
        log.warning("cannot cache bank index in %s: %s", root, exc)
    return index


def prune_cache(root: Path | None, banks: list[Bank]) -> None:
    """Delete cache folders of banks that no longer exist (or were dropped and re-created)."""
    if root is None or not root.is_dir():
        return
    live = {f"{b.name}-{b.cache_key}-" for b in banks}
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith(".") and not any(
                folder.name.startswith(prefix) for prefix in live):
            shutil.rmtree(folder, ignore_errors=True)
