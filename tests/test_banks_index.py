"""The PDQ multi-index and the exact digest index agree with brute force."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from deepscreen.banks.index import ExactIndex, PdqIndex, pack_pdq


def _near(rng: np.random.Generator, row: np.ndarray, bits: int) -> np.ndarray:
    """A copy of one packed hash with ``bits`` distinct bits flipped."""
    unpacked = np.unpackbits(row)
    unpacked[rng.choice(256, size=bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def _brute(stored: np.ndarray, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    d = np.unpackbits(stored[None, :, :] ^ queries[:, None, :], axis=2).sum(axis=2)
    return {(q, r, int(d[q, r])) for q, r in zip(*np.nonzero(d <= threshold), strict=True)}


@pytest.mark.parametrize("threshold", [0, 15, 31, 40, 60])
def test_search_finds_exactly_the_brute_force_matches(threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    stored = rng.integers(0, 256, size=(3000, 32), dtype=np.uint8)
    # Plant near copies at every distance around the threshold, including skewed buckets:
    # many hashes sharing most chunks.
    queries = np.stack([_near(rng, stored[i], bits) for i, bits in
                        enumerate([0, 1, 5, 15, 16, 17, 30, 31, 32, 33, 40, 47, 48, 60, 61])])
    stored[2000:2100] = [_near(rng, stored[0], 20) for _ in range(100)]
    index = PdqIndex.build(stored)
    got = {(h.query, h.row, h.distance) for h in index.search(queries, threshold)}
    assert got == _brute(stored, queries, threshold)


def test_empty_index_and_empty_queries() -> None:
    empty = PdqIndex.build(np.zeros((0, 32), dtype=np.uint8))
    assert len(empty) == 0 and empty.search(pack_pdq(["f" * 64]), 31) == []
    full = PdqIndex.build(pack_pdq(["f" * 64]))
    assert full.search(np.zeros((0, 32), dtype=np.uint8), 31) == []


def test_saved_index_loads_memory_mapped_and_answers_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    index = PdqIndex.build(stored)
    index.save(tmp_path, "pdq")
    loaded = PdqIndex.load(tmp_path, "pdq")
    queries = stored[:5].copy()
    queries[:, 0] ^= 0x0F
    assert isinstance(loaded.postings, np.memmap)
    assert loaded.search(queries, 31) == index.search(queries, 31)


def test_exact_index_finds_every_copy_and_nothing_else(tmp_path: Path) -> None:
    values = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)]
    values.append(values[10])  # the same value twice in one bank
    # same first 8 bytes, different tail: must not match
    twin = values[20][:16] + "0" * 48
    index = ExactIndex.build(values, 32)
    assert index.lookup(values[10]) == [10, 1000]
    assert index.lookup(values[999]) == [999]
    assert index.lookup(twin) == []
    assert index.lookup("ab" * 16) == []  # an MD5-sized digest against a SHA-256 index
    index.save(tmp_path, "sha256")
    assert ExactIndex.load(tmp_path, "sha256").lookup(values[10]) == [10, 1000]
    assert ExactIndex.build([], 16).lookup("00" * 16) == []
