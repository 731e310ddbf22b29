"""Matching an item's hashes against every bank: exact digests, PDQ with dihedral variants,
vPDQ for video, and every video frame against banked still images. Reads only the cached
indexes; the database is asked only for the metadata of the entries that matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .cache import BankIndex, cache_root, load_bank_index, prune_cache
from .entries import Bank
from .hashing import DIHEDRAL_VARIANTS, PDQ_MIN_QUALITY, FrameHash, ItemHashes
from .index import pack_pdq
from .signal_types import SIGNAL_TYPES
from .store import BankStore
from .vpdq import match_videos, usable_frames


@dataclass(frozen=True)
class BankMatch:
    """One bank entry an item matched, with the evidence a reviewer needs."""

    bank: str
    label: str
    entry_id: int
    signal_type: str
    distance: int = 0
    quality: int | None = None
    variant: str | None = None
    video: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        known = SIGNAL_TYPES.get(self.signal_type)
        return known is not None and known.exact

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"bank": self.bank, "label": self.label, "entry_id": self.entry_id,
                                "signal_type": self.signal_type, "distance": self.distance}
        if self.quality is not None:
            data["quality"] = self.quality
        if self.variant is not None:
            data["dihedral_variant"] = self.variant
        if self.video is not None:
            data["video"] = self.video
        data["metadata"] = self.metadata
        return data


@dataclass(frozen=True)
class _QueryFrames:
    """A video's frame hashes as every bank search wants them, made once per item."""

    usable: list[FrameHash]  # quality high enough to match, in time order
    distinct: list[FrameHash]  # first frame of each distinct hash: a still shot counts once
    packed: np.ndarray  # ``distinct`` packed for PdqIndex.search

    @classmethod
    def of(cls, frames: tuple[FrameHash, ...]) -> _QueryFrames | None:
        distinct = usable_frames(frames)
        if not distinct:
            return None
        usable = [f for f in frames if f.quality >= PDQ_MIN_QUALITY]
        return cls(usable, distinct, pack_pdq([f.hex for f in distinct]))


class BankMatcher:
    """Matches items against every bank in a store; build once, reuse for many items.

    Indexes load lazily on the first match and are reused until a bank's generation moves
    (checked with one cheap query per :meth:`match` call, so a long-running scanner sees
    additions without restarting).
    """

    def __init__(self, store: BankStore, cache_fallback: Path) -> None:
        self.store = store
        self.root: Path | None = cache_root(store, cache_fallback) if store.persistent else None
        self._indexes: dict[int, BankIndex] = {}

    def banks(self) -> list[Bank]:
        return self.store.list_banks(counts=False)

    def _current(self) -> list[BankIndex]:
        banks = self.banks()
        fresh: dict[int, BankIndex] = {}
        changed = set(self._indexes) != {b.id for b in banks}
        for bank in banks:
            cached = self._indexes.get(bank.id)
            if (cached is None or cached.bank.generation != bank.generation
                    or cached.bank.cache_key != bank.cache_key):
                cached = load_bank_index(self.store, bank, self.root)
                changed = True
            else:
                cached.bank = bank  # thresholds or label may have changed
            fresh[bank.id] = cached
        self._indexes = fresh
        if changed:
            prune_cache(self.root, banks)
        return list(fresh.values())

    def match(self, hashes: ItemHashes) -> list[BankMatch]:
        """Every entry in every bank that the item matches, exact matches first."""
        found: list[BankMatch] = []
        # A video's frames as stored, and turned by each quarter turn (an animated image's:
        # all eight dihedral variants; the first four are the same names).
        views = [(turn, query) for turn, frames in
                 zip(DIHEDRAL_VARIANTS, (hashes.frames, *hashes.turned_frames), strict=False)
                 if (query := _QueryFrames.of(frames)) is not None]
        for index in self._current():
            found.extend(self._exact(index, hashes))
            if hashes.pdq is not None and hashes.pdq.quality >= PDQ_MIN_QUALITY:
                found.extend(self._pdq(index, hashes))
            if views:
                turns = [turn for turn, _ in views]
                found.extend(_best_view([self._video(index, query) for _, query in views],
                                        turns))
                found.extend(_best_view([self._frames_vs_images(index, query)
                                         for _, query in views], turns))
        entries = self.store.entries_by_id([m.entry_id for m in found])
        return [BankMatch(**{**m.__dict__, "metadata": entries[m.entry_id].metadata})
                if m.entry_id in entries else m for m in found]

    def _exact(self, index: BankIndex, hashes: ItemHashes) -> list[BankMatch]:
        out: list[BankMatch] = []
        for name, (exact, ids) in index.exact.items():
            for value, _meta in SIGNAL_TYPES[name].from_item(hashes):  # none when too large
                out.extend(BankMatch(index.bank.name, index.bank.label, int(ids[row]), name)
                           for row in exact.lookup(value))
        return out

    def _pdq(self, index: BankIndex, hashes: ItemHashes) -> list[BankMatch]:
        assert hashes.pdq is not None
        variants = hashes.dihedral or (hashes.pdq.hex,)
        best: dict[int, tuple[int, int]] = {}  # entry id -> (distance, variant)
        for hit in index.pdq.search(pack_pdq(variants), index.bank.pdq_threshold):
            entry_id = int(index.pdq_ids[hit.row])
            if entry_id not in best or (hit.distance, hit.query) < best[entry_id]:
                best[entry_id] = (hit.distance, hit.query)
        return [BankMatch(index.bank.name, index.bank.label, entry_id, "pdq", distance=distance,
                          quality=hashes.pdq.quality, variant=DIHEDRAL_VARIANTS[variant])
                for entry_id, (distance, variant) in sorted(best.items(),
                                                            key=lambda kv: kv[1])]

    def _video(self, index: BankIndex, frames: _QueryFrames) -> list[BankMatch]:
        query = frames.distinct
        if not len(index.frame_ids):
            return []
        bank = index.bank
        hits = index.frames.search(frames.packed, bank.pdq_threshold)
        closest: dict[int, int] = {}  # entry id -> smallest frame distance
        for hit in hits:
            if index.frame_quality[hit.row] >= PDQ_MIN_QUALITY:
                entry_id = int(index.frame_ids[hit.row])
                closest[entry_id] = min(hit.distance, closest.get(entry_id, hit.distance))
        out = []
        for entry_id, distance in sorted(closest.items()):
            result = match_videos(query, index.video_frames(entry_id), bank.pdq_threshold)
            if not result.matches(bank.video_query_percent, bank.video_compared_percent):
                continue
            video = {"query_match_percent": round(result.query_match_percent, 2),
                     "compared_match_percent": round(result.compared_match_percent, 2),
                     "matched_frames": len(result.matched_query_times),
                     "query_frames": result.query_frames,
                     "compared_frames": result.compared_frames,
                     "matched_times_s": [round(t, 3) for t in result.matched_query_times],
                     "bank_matched_times_s": [round(t, 3)
                                              for t in result.matched_compared_times]}
            out.append(BankMatch(bank.name, bank.label, entry_id, "vpdq", distance=distance,
                                 video=video))
        out.sort(key=lambda m: -(m.video or {}).get("query_match_percent", 0))
        return out

    def _frames_vs_images(self, index: BankIndex, frames: _QueryFrames) -> list[BankMatch]:
        """Video frames that show a banked still image.

        A banked photo re-shared as a slideshow, a screen recording or a clip that holds it
        for a moment has no vPDQ entry to match; its frames still carry the photo's PDQ. One
        matching frame is enough: the photo is in the video.
        """
        query, shown = frames.distinct, frames.usable
        if not len(index.pdq_ids):
            return []
        per_entry: dict[int, dict[str, int]] = {}  # entry -> {frame hash: distance}
        for hit in index.pdq.search(frames.packed, index.bank.pdq_threshold):
            entry_id = int(index.pdq_ids[hit.row])
            per_entry.setdefault(entry_id, {})[query[hit.query].hex] = hit.distance
        out = []
        for entry_id, distances in per_entry.items():
            times = sorted(round(f.time_s, 3) for f in shown if f.hex in distances)
            video = {"query_match_percent": round(100.0 * len(times) / len(shown), 2),
                     "matched_frames": len(times), "query_frames": len(shown),
                     "matched_times_s": times}
            out.append(BankMatch(index.bank.name, index.bank.label, entry_id, "pdq-frame",
                                 distance=min(distances.values()), video=video))
        out.sort(key=lambda m: (m.distance, m.entry_id))
        return out


def _best_view(per_view: list[list[BankMatch]], turns: list[str]) -> list[BankMatch]:
    """One match per bank entry over the turned views of a video: the view with the most
    frames matched, then the closest, then the least turned. The match's ``variant`` names
    the turn, as for images."""
    best: dict[int, tuple[tuple[float, int, int], BankMatch]] = {}
    for order, (turn, matches) in enumerate(zip(turns, per_view, strict=True)):
        for m in matches:
            rank = (-(m.video or {}).get("query_match_percent", 0.0), m.distance, order)
            if m.entry_id not in best or rank < best[m.entry_id][0]:
                best[m.entry_id] = (rank, BankMatch(**{**m.__dict__, "variant": turn}))
    return [m for _, m in sorted(best.values(), key=lambda pair: pair[0])]
