"""Video face detection in runs (full search, then near searches) and its streaming form.

A scripted detector stands in for MTCNN, so the scheduling logic is tested exactly: which
frames get a full search, which a near search, and that streamed results equal the ones
computed after decoding.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
import pytest

from deepscreen.config import ScanConfig
from deepscreen.faces.detect import Face
from deepscreen.faces.runs import MAX_TRACKED_FACES, StreamingDetection, detect_frames, detect_run
from deepscreen.findings import Finding
from deepscreen.media import Frame, Item
from deepscreen.scan import Scanner
from deepscreen.signals import Signal, register, unregister

from media_factory import video_bytes


def face_at(x: float, size: float = 80.0) -> Face:
    return Face(box=(x, 10.0, x + size, 10.0 + size), score=0.99,
                landmarks=tuple((x + size * f, 40.0) for f in (0.3, 0.7, 0.5, 0.35, 0.65)))


class ScriptedDetector:
    """Faces per frame index, read from the frame's first pixel; records every call."""

    def __init__(self, faces: dict[int, list[Face]], near_finds: bool = True) -> None:
        self.faces = faces
        self.near_finds = near_finds
        self.calls: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def _index(self, rgb: np.ndarray) -> int:
        return int(rgb[0, 0, 0])

    def detect(self, rgb: np.ndarray) -> list[Face]:
        with self.lock:
            self.calls.append(("full", self._index(rgb)))
        return self.faces.get(self._index(rgb), [])

    def detect_near(self, rgb: np.ndarray, boxes: list) -> list[Face]:
        with self.lock:
            self.calls.append(("near", self._index(rgb)))
        return self.faces.get(self._index(rgb), []) if self.near_finds else []


def frames(count: int) -> list[Frame]:
    out = []
    for i in range(count):
        rgb = np.zeros((4, 4, 3), np.uint8)
        rgb[0, 0, 0] = i
        out.append(Frame(index=i, time_s=float(i), rgb=rgb))
    return out


def test_a_run_searches_fully_once_then_near_the_previous_faces() -> None:
    detector = ScriptedDetector({i: [face_at(10 * i)] for i in range(4)})
    found = [f for _, f in detect_run(detector, frames(4))]  # type: ignore[arg-type]
    assert detector.calls == [("full", 0), ("near", 1), ("near", 2), ("near", 3)]
    assert [f[0].box[0] for f in found] == [0, 10, 20, 30]


def test_a_lost_face_or_an_empty_frame_falls_back_to_a_full_search() -> None:
    detector = ScriptedDetector({0: [face_at(0)], 2: [face_at(5)]}, near_finds=False)
    list(detect_run(detector, frames(3)))  # type: ignore[arg-type]
    # Frame 1: the near search finds nobody, so a full search runs. Frame 2: no one to look
    # around (frame 1 was empty), so straight to a full search.
    assert detector.calls == [("full", 0), ("near", 1), ("full", 1), ("full", 2)]


def test_a_crowd_gets_full_searches() -> None:
    crowd = [face_at(100 * k) for k in range(MAX_TRACKED_FACES + 1)]
    detector = ScriptedDetector({0: crowd, 1: crowd})
    list(detect_run(detector, frames(2)))  # type: ignore[arg-type]
    assert detector.calls == [("full", 0), ("full", 1)]


@pytest.mark.parametrize("every", [1, 3, 4])
def test_runs_start_with_a_full_search_every_nth_frame(every: int) -> None:
    detector = ScriptedDetector({i: [face_at(i)] for i in range(10)})
    with ThreadPoolExecutor(2) as pool:
        found = detect_frames(detector, frames(10), every, pool)  # type: ignore[arg-type]
    assert [f[0].box[0] for f in found] == list(range(10))
    full = sorted(i for kind, i in detector.calls if kind == "full")
    assert full == list(range(0, 10, every))


def test_streamed_detection_equals_detection_after_decoding() -> None:
    truth = {i: [face_at(3 * i)] for i in range(11)}
    expected = detect_frames(ScriptedDetector(truth), frames(11), 4, None)  # type: ignore[arg-type]
    seen: list[int] = []
    with ThreadPoolExecutor(2) as pool:
        stream = StreamingDetection(ScriptedDetector(truth), 4, pool.submit,  # type: ignore[arg-type]
                                    lambda frame, faces: seen.append(frame.index))
        for frame in frames(11):
            stream.frame(frame)
        stream.close()
        assert stream.results(frames(11)) == expected
    assert sorted(seen) == list(range(11))  # the per-frame hook ran once for every frame


def test_a_stream_that_does_not_match_the_final_frames_is_not_used() -> None:
    detector = ScriptedDetector({i: [face_at(i)] for i in range(6)})
    with ThreadPoolExecutor(2) as pool:
        stream = StreamingDetection(detector, 4, pool.submit)  # type: ignore[arg-type]
        for frame in frames(5):
            stream.frame(frame)
        assert stream.results(frames(6)) is None  # one frame never streamed

        restarted = StreamingDetection(detector, 4, pool.submit)  # type: ignore[arg-type]
        for frame in frames(3):
            restarted.frame(frame)
        restarted.restart()  # the decoder starts over: what came before is void
        for frame in frames(2):
            restarted.frame(frame)
        assert restarted.results(frames(2)) == [[face_at(0)], [face_at(1)]]


def test_a_failing_detector_makes_the_stream_give_up_not_hang() -> None:
    class Broken(ScriptedDetector):
        def detect(self, rgb: np.ndarray) -> list[Face]:
            raise RuntimeError("model exploded")

    with ThreadPoolExecutor(2) as pool:
        stream = StreamingDetection(Broken({}), 4, pool.submit)  # type: ignore[arg-type]
        for frame in frames(3):
            stream.frame(frame)
        assert stream.results(frames(3)) is None


# --- the Scanner hands decoded video frames to signals that ask for them --------------------


class _Recorder:
    def __init__(self) -> None:
        self.frames: list[tuple[int, float]] = []
        self.closed = 0

    def frame(self, frame: Frame) -> None:
        self.frames.append((frame.index, frame.time_s))

    def restart(self) -> None:
        self.frames.clear()

    def close(self) -> None:
        self.closed += 1


class _PrefetchProbe(Signal):
    """Test-only signal: records the frames streamed to it and what inspect then sees."""

    name: ClassVar[str] = "test-prefetch-probe"
    version: ClassVar[str] = "1"
    kinds = frozenset({"video"})
    last: ClassVar[dict[str, object]] = {}

    def prefetch(self, item: Item) -> _Recorder:
        recorder = _Recorder()
        type(self).last = {"recorder": recorder}
        return recorder

    def inspect(self, item: Item) -> Finding:
        type(self).last["final"] = [(f.index, f.time_s) for f in item.frames]
        return self.finding(summary="probed")


@pytest.fixture
def probe() -> Iterator[None]:
    """Register the probe signal for one test only: other tests scan with every signal."""
    register(_PrefetchProbe)
    try:
        yield
    finally:
        unregister(_PrefetchProbe.name)


@pytest.mark.usefixtures("probe")
def test_scanner_streams_video_frames_to_signals_while_decoding() -> None:
    with Scanner(ScanConfig(signals=("test-prefetch-probe",))) as scanner:
        report = scanner.scan(video_bytes(seconds=4.0), name="clip.mp4")
    assert report.error is None
    recorder = _PrefetchProbe.last["recorder"]
    assert isinstance(recorder, _Recorder)
    assert recorder.frames == _PrefetchProbe.last["final"] and len(recorder.frames) >= 4
    assert recorder.closed == 1


@pytest.mark.usefixtures("probe")
def test_a_broken_video_still_closes_the_listener() -> None:
    broken = video_bytes(seconds=2.0)[:2000]
    with Scanner(ScanConfig(signals=("test-prefetch-probe",))) as scanner:
        report = scanner.scan(broken, name="broken.mp4")
    assert report.verdict.action == "quarantine"  # unscannable
    recorder = _PrefetchProbe.last["recorder"]
    assert isinstance(recorder, _Recorder) and recorder.closed == 1
