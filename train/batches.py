"""Training batches, made in the training process or ahead of it by worker processes.

Self-blending, augmentation and JPEG round trips run on the CPU. On the 2-core dev box the
training step is slower than making a batch, so batches are made in-process
(``loader_workers: 0``). On a GPU the step takes milliseconds and one process making batches
would leave the GPU idle most of the time; worker processes make the next batches while the
GPU trains on the current one.

Either way a batch depends only on (seed, epoch, batch): its faces come from the epoch's
fixed permutation and its randomness from ``default_rng([seed, epoch, batch])``. Worker
count and timing never change what is trained on, and a resumed run sees the same data.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Iterator
from multiprocessing.pool import AsyncResult, Pool

import cv2
import numpy as np

from .data import CropCache, make_pair_batch

Batch = tuple[np.ndarray, np.ndarray, np.ndarray]  # inputs, labels, mask targets

_worker_cache: CropCache | None = None  # set in each worker by the initialiser


def epoch_order(train_index: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """The epoch's permutation of the training faces."""
    return np.random.default_rng([seed, epoch]).permutation(train_index)


def make_batch(cache: CropCache, order: np.ndarray, seed: int, epoch: int, batch: int,
               pairs: int) -> Batch:
    """Batch ``batch`` of ``epoch``: its faces, each next to its own self-blend."""
    rng = np.random.default_rng([seed, epoch, batch])
    return make_pair_batch(cache, order[batch * pairs:(batch + 1) * pairs], rng)


def _init_worker(cache: CropCache) -> None:
    global _worker_cache
    _worker_cache = cache
    cv2.setNumThreads(1)  # a no-op after fork (set before it); spawned workers need it


def _make_in_worker(order: np.ndarray, seed: int, epoch: int, batch: int, pairs: int) -> Batch:
    assert _worker_cache is not None
    return make_batch(_worker_cache, order, seed, epoch, batch, pairs)


class BatchSource:
    """Yields an epoch's batches in order; with ``workers`` > 0 they are made ahead in a
    process pool, at most ``prefetch`` of them in flight (each is tens of MB)."""

    def __init__(self, cache: CropCache, seed: int, pairs: int, workers: int = 0,
                 prefetch: int | None = None) -> None:
        self.cache = cache
        self.seed = seed
        self.pairs = pairs
        self.workers = workers
        self.prefetch = prefetch or 2 * workers
        self._pool: Pool | None = None
        if workers > 0:
            # fork shares the crop cache with the workers without pickling it; where fork is
            # unavailable, spawn pickles it once per worker.
            method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            # One OpenCV thread per worker, set before forking: OpenCV's thread pool does not
            # survive fork, and changing it in a forked child deadlocks (seen here). The
            # training process itself makes no batches while workers do.
            cv2.setNumThreads(1)
            self._pool = mp.get_context(method).Pool(workers, _init_worker, (cache,))

    def epoch(self, train_index: np.ndarray, epoch: int, first: int, count: int
              ) -> Iterator[Batch]:
        """Batches ``first`` .. ``count - 1`` of ``epoch``."""
        order = epoch_order(train_index, self.seed, epoch)
        if self._pool is None:
            for batch in range(first, count):
                yield make_batch(self.cache, order, self.seed, epoch, batch, self.pairs)
            return
        pending: deque[AsyncResult[Batch]] = deque()
        upcoming = iter(range(first, count))
        for batch in upcoming:
            pending.append(self._submit(order, epoch, batch))
            if len(pending) >= self.prefetch:
                break
        while pending:
            result = pending.popleft().get()
            next_batch = next(upcoming, None)
            if next_batch is not None:
                pending.append(self._submit(order, epoch, next_batch))
            yield result

    def _submit(self, order: np.ndarray, epoch: int, batch: int) -> AsyncResult[Batch]:
        assert self._pool is not None
        return self._pool.apply_async(_make_in_worker, (order, self.seed, epoch, batch, self.pairs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> BatchSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
