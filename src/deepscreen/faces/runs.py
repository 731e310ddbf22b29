"""Face detection over a video's sampled frames: cheap tracking runs, started while decoding.

A full MTCNN search costs 40-50 ms on a 720p frame; looking only around the faces of the
previous sampled frame (:meth:`FaceDetector.detect_near`) costs about a fifth of that. Frames
therefore go in *runs* of ``every`` frames: the first frame of a run gets a full search, the
rest a near search (and a full one whenever the near search finds nobody). A face that
enters the picture between two full searches is found at the next one, at most ``every - 1``
sampled frames later.

Runs do not depend on each other, so they run in parallel on a thread pool, and each run can
start as soon as its first frame is decoded: :class:`StreamingDetection` is the
:class:`~deepscreen.media.FrameListener` that does this, so detection overlaps decoding.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, wait

from ..media import Frame
from .detect import Face, FaceDetector

log = logging.getLogger(__name__)

# A near search pays only while there are few faces to look around.
MAX_TRACKED_FACES = 8

Detections = list[list[Face]]  # per frame, the faces found in it
RunDetections = list[tuple[int, list[Face]]]  # one run's (frame index, faces found in it)


def detect_run(detector: FaceDetector, frames: Iterable[Frame],
               on_detected: Callable[[Frame, list[Face]], None] | None = None
               ) -> Iterator[tuple[Frame, list[Face]]]:
    """Full search on the first frame, then search near the previous frame's faces.

    Yields each frame with its faces as soon as they are found (``frames`` may still be
    arriving); ``on_detected`` runs first, for work that should follow detection directly.
    """
    previous: list[Face] = []
    for frame in frames:
        found: list[Face] = []
        if 0 < len(previous) <= MAX_TRACKED_FACES:
            found = detector.detect_near(frame.rgb, [f.box for f in previous])
        if not found:  # first frame, a crowd, or everyone was lost: search everywhere
            found = detector.detect(frame.rgb)
        if on_detected is not None:
            on_detected(frame, found)
        yield frame, found
        previous = found


def detect_frames(detector: FaceDetector, frames: list[Frame], every: int,
                  pool: Executor | None) -> Detections:
    """Faces in every frame, runs of ``every`` frames spread over ``pool`` (if any)."""
    runs = [frames[i:i + every] for i in range(0, len(frames), every)]

    def one_run(run: list[Frame]) -> Detections:
        return [found for _, found in detect_run(detector, run)]

    if pool is None or len(runs) < 2:
        return [found for run in runs for found in one_run(run)]
    return [found for done in pool.map(one_run, runs) for found in done]


_END = None  # queue sentinel: the run has no more frames
Inbox = queue.SimpleQueue[Frame | None]  # a run's frames as they arrive, then _END


class StreamingDetection:
    """Detects faces in frames while the decoder is still producing them.

    Frame ``i`` belongs to run ``i // every``; the first frame of a run submits a task that
    reads the run's frames from a queue as they arrive. :meth:`results` waits for the tasks
    and returns the detections if they cover exactly the frames the item ended up with.
    """

    def __init__(self, detector: FaceDetector, every: int, submit: Callable[..., Future[RunDetections]],
                 on_detected: Callable[[Frame, list[Face]], None] | None = None) -> None:
        self._detector = detector
        self._on_detected = on_detected  # more work per frame, on the same thread
        self._every = max(1, every)
        self._submit = submit
        self._runs: dict[int, tuple[Inbox, Future[RunDetections]]] = {}
        self._seen: list[tuple[int, float]] = []

    # --- FrameListener --------------------------------------------------------------------

    def frame(self, frame: Frame) -> None:
        run = frame.index // self._every
        if run not in self._runs:
            inbox: Inbox = queue.SimpleQueue()
            self._runs[run] = (inbox, self._submit(self._work, inbox))
        inbox = self._runs[run][0]
        inbox.put(frame)
        self._seen.append((frame.index, frame.time_s))
        if frame.index % self._every == self._every - 1:
            inbox.put(_END)

    def restart(self) -> None:
        self.close()
        for _, task in self._runs.values():
            if not task.cancel():
                wait([task])  # a running task finishes its (now void) run first
        self._runs.clear()
        self._seen.clear()

    def close(self) -> None:
        for inbox, _ in self._runs.values():
            inbox.put(_END)  # a second sentinel after a full run is never read: harmless

    # --- results --------------------------------------------------------------------------

    def results(self, frames: list[Frame]) -> Detections | None:
        """Detections for ``frames``, or None if what was streamed does not match them."""
        self.close()
        expected = [(f.index, f.time_s) for f in frames]
        by_index: dict[int, list[Face]] = {}
        try:
            for run in sorted(self._runs):
                for index, found in self._runs[run][1].result():
                    by_index[index] = found
        except Exception as exc:  # detection failed in a worker: let the caller redo it
            log.warning("streamed face detection failed (%s); detecting again", exc)
            return None
        if self._seen != expected or set(by_index) != {i for i, _ in expected}:
            return None
        return [by_index[f.index] for f in frames]

    def _work(self, inbox: Inbox) -> RunDetections:
        """One run: detect each frame as soon as it arrives, until the run's end."""

        def incoming() -> Iterable[Frame]:
            while (frame := inbox.get()) is not _END:
                yield frame

        done: RunDetections = []
        for frame, faces in detect_run(self._detector, incoming(), self._on_detected):
            done.append((frame.index, faces))
        return done
