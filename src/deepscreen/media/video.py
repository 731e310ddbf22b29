"""Video decoding that samples frames at a fixed interval and decodes as little as it can.

A first pass demuxes packets without decoding them to find the keyframes. Each sampling
time then takes the cheapest route: a keyframe close enough to the time is decoded on its
own; otherwise the decoder seeks to the keyframe before the time and decodes forward, and
it keeps decoding forward instead of seeking when the next time lies in the same group of
pictures. Long keyframe gaps therefore cost one sequential decode, short ones a few frames.

Decoding within a group of pictures is a chain (each frame needs the one before), but groups
are independent: the sampling times are split at keyframes into ``limits.decode_segments``
parts of about equal decoding work, and each part after the first is decoded at the same
time by its own decoder on its own copy of the container. Frames still reach the listener
in time order: the first part as it decodes, the others when their turn comes.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import av
import numpy as np

from ..errors import MediaError
from .item import Frame, FrameListener, Item


@dataclass
class _Plan:
    times: list[float]
    keyframes: list[float]
    duration_s: float


def decode_video(item: Item, listener: FrameListener | None = None) -> None:
    """Fill ``item.frames`` with frames sampled every ``limits.frame_interval_s`` seconds,
    handing each to ``listener`` as soon as it is decoded."""
    limits = item.limits
    deadline = time.monotonic() + limits.decode_timeout_s
    try:
        with item.open_stream() as raw, av.open(raw, mode="r", metadata_errors="ignore") as container:
            stream = _video_stream(container, limits.decode_threads)
            _check_shape(item, stream)
            plan = _plan(container, stream, item, deadline)
            frames = _sample(container, stream, plan, item, deadline, True, listener)
            if len(frames) < len(plan.times) - 1:
                # This decoder discards more than B-frames with NONREF: decode every frame.
                if listener is not None:
                    listener.restart()
                frames = _sample(container, stream, plan, item, deadline, False, listener)
            item.frames = frames
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError, EOFError) as exc:
        raise MediaError("decode-failed", f"cannot decode video: {exc}") from exc
    except MemoryError as exc:
        raise MediaError("decode-failed", "video needs more memory than is available") from exc
    if not item.frames:
        raise MediaError("decode-failed", "no decodable video frame found")


def _video_stream(container: av.container.InputContainer,
                  threads: int) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaError("no-video-stream", "the container holds no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.thread_count = threads  # set explicitly: FFmpeg's 0 means "cores + 1"
    return stream


def _check_shape(item: Item, stream: av.video.stream.VideoStream) -> None:
    ctx = stream.codec_context
    if ctx is None:
        raise MediaError("decode-failed", "the video stream's codec is unknown or unsupported")
    item.width, item.height = ctx.width or None, ctx.height or None
    if item.width and item.height and item.width * item.height > item.limits.max_pixels:
        raise MediaError(
            "too-many-pixels",
            f"video frames are {item.width}x{item.height}, over the pixel limit "
            f"of {item.limits.max_pixels:,}",
        )
    if stream.average_rate:
        item.fps = float(stream.average_rate)
    item.decode_info["codec"] = ctx.name


def _time_base(stream: av.video.stream.VideoStream) -> float:
    """Seconds per timestamp tick. FFmpeg gives every demuxed stream one; PyAV reads a 0/x
    time base as None, which would otherwise escape as a TypeError."""
    if stream.time_base is None:
        raise MediaError("decode-failed", "the video stream declares no time base")
    return float(stream.time_base)


def _plan(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
          item: Item, deadline: float) -> _Plan:
    """Demux (no decoding) to learn the keyframe times and the real duration."""
    limits = item.limits
    tb = _time_base(stream)
    keyframes: list[float] = []
    last_pts = 0.0
    packets = 0
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        packets += 1
        t = packet.pts * tb
        last_pts = max(last_pts, t)
        if packet.is_keyframe:
            keyframes.append(t)
        if t > limits.max_duration_s:
            raise MediaError("too-long", f"video runs past the {limits.max_duration_s:.0f} s limit")
        if packets % 256 == 0 and time.monotonic() > deadline:
            raise MediaError("decode-timeout", "reading the video took longer than the limit")
    declared = float(stream.duration * tb) if stream.duration else 0.0
    duration = max(last_pts, declared if declared < limits.max_duration_s else 0.0)
    if item.fps:
        duration = max(duration, last_pts + 1.0 / item.fps)
    item.duration_s = duration
    keyframes.sort()
    item.decode_info["keyframes"] = len(keyframes)
    item.decode_info["packets"] = packets
    interval = limits.frame_interval_s
    count = max(1, min(limits.max_frames, math.ceil(duration / interval)))
    if count == limits.max_frames and duration / interval > limits.max_frames:
        interval = duration / count  # spread the frame budget over the whole video
        item.decode_info["frame_interval_s"] = interval
    times = [i * interval for i in range(count)]
    return _Plan(times=times, keyframes=keyframes, duration_s=duration)


@dataclass(frozen=True)
class _Seeking:
    """How one decoding pass finds its frames (the same for every part of a video)."""

    time_base: float
    half_frame: float  # a frame this close before a time stands for it
    snap: float  # a keyframe this close after a time stands in for it: no forward decoding
    max_side: int
    skip_nonref: bool
    deadline: float

    def gop_and_time(self, target: float, keyframes: list[float]) -> tuple[float, float]:
        """The keyframe to decode forward from for ``target``, and the time to stop at."""
        k = bisect.bisect_right(keyframes, target + self.half_frame) - 1
        gop_start = keyframes[k] if k >= 0 else 0.0
        nearest_next = keyframes[k + 1] if k + 1 < len(keyframes) else None
        if nearest_next is not None and nearest_next - target <= self.snap:
            return nearest_next, nearest_next
        return gop_start, target


@dataclass(frozen=True)
class _Picked:
    """A decoded sample, before it gets its index: pixels plus what the item learns from it."""

    time_s: float
    rgb: np.ndarray
    width: int  # as stored
    height: int
    turns: int  # quarter turns applied to show it upright


def _sample(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
            plan: _Plan, item: Item, deadline: float, skip_nonref: bool,
            listener: FrameListener | None = None) -> list[Frame]:
    # Frames no other frame refers to (most B-frames) need not be decoded to reach a later
    # one; skipping them halves H.264 decoding. A sample then lands on the next reference
    # frame, a few frames later at most, and its real time is recorded.
    seeking = _Seeking(time_base=_time_base(stream),
                       half_frame=0.5 / item.fps if item.fps else 0.02,
                       snap=min(0.25, item.limits.frame_interval_s / 4),
                       max_side=item.limits.video_max_side, skip_nonref=skip_nonref,
                       deadline=deadline)
    parts = _split_at_keyframes(plan, seeking, item.limits.decode_segments)
    frames: list[Frame] = []

    def emit(picked: _Picked) -> None:
        if frames and picked.time_s <= frames[-1].time_s:
            return  # two times resolved to the same frame (sparse or variable frame rate)
        frame = Frame(index=len(frames), time_s=picked.time_s, rgb=picked.rgb)
        frames.append(frame)
        item.rotation_deg = 90 * picked.turns
        item.width, item.height = ((picked.height, picked.width) if picked.turns % 2
                                   else (picked.width, picked.height))
        if listener is not None:
            listener.frame(frame)  # its index is final: later frames only append

    stop = threading.Event()  # tells the other parts' decoders to give up
    counts = [0] * len(parts)
    with ThreadPoolExecutor(max(1, len(parts) - 1), thread_name_prefix="decode") as pool:
        later = [pool.submit(_decode_part_alone, item, part, plan.keyframes, seeking, stop,
                             counts, i) for i, part in enumerate(parts[1:], start=1)]
        try:
            for picked in _decode_times(container, stream, parts[0], plan.keyframes, seeking,
                                        stop, counts, 0):
                emit(picked)
            for part in later:
                for picked in part.result():
                    emit(picked)
        finally:
            stop.set()  # on an error here, the other decoders stop at their next frame
    item.decode_info["frames_decoded"] = sum(counts)
    item.decode_info["parts"] = len(parts)
    return [Frame(index=i, time_s=f.time_s, rgb=np.ascontiguousarray(f.rgb))
            for i, f in enumerate(frames)]


def _split_at_keyframes(plan: _Plan, seeking: _Seeking, parts: int) -> list[list[float]]:
    """The sampling times in at most ``parts`` runs that begin at keyframes, of about equal
    decoding work (the span from each keyframe to its last sampling time)."""
    groups: list[tuple[float, list[float]]] = []  # (keyframe, times decoded forward from it)
    for target in plan.times:
        gop_start, _ = seeking.gop_and_time(target, plan.keyframes)
        if groups and groups[-1][0] == gop_start:
            groups[-1][1].append(target)
        else:
            groups.append((gop_start, [target]))
    if parts < 2 or len(groups) < 2:
        return [list(plan.times)]
    work = [max(times[-1] - start, 0.0) + 0.1 for start, times in groups]  # +0.1: the seek
    total, done = sum(work), 0.0
    runs: list[list[float]] = []
    current: list[float] = []
    for (_, times), cost in zip(groups, work, strict=True):
        # Cut before this group once the runs so far hold their share of the work.
        if current and len(runs) < parts - 1 and done >= total * (len(runs) + 1) / parts:
            runs.append(current)
            current = []
        current.extend(times)
        done += cost
    runs.append(current)
    return runs


def _decode_part_alone(item: Item, times: list[float], keyframes: list[float],
                       seeking: _Seeking, stop: threading.Event, counts: list[int],
                       slot: int) -> list[_Picked]:
    """Decode one part of the sampling times with a decoder of its own (a worker thread)."""
    with item.open_stream() as raw, av.open(raw, mode="r", metadata_errors="ignore") as container:
        stream = _video_stream(container, item.limits.decode_threads)
        # A decoder that has decoded nothing yet can turn out wrong pixels for the keyframe it
        # is first sought to (seen with an x264 4:4:4 FaceForensics++ clip: every pixel off,
        # no error raised). Decoding the stream's first packet first makes this part's frames
        # identical to one sequential pass (tests/test_media.py checks it).
        for packet in container.demux(stream):
            if packet.size:
                stream.codec_context.decode(packet)
                break
        return list(_decode_times(container, stream, times, keyframes, seeking, stop, counts,
                                  slot))


def _decode_times(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                  times: list[float], keyframes: list[float], seeking: _Seeking,
                  stop: threading.Event, counts: list[int], slot: int) -> Iterator[_Picked]:
    """The frame at (or just after) each of ``times``, in order; stops early at the end of
    the stream (its duration was overstated) or when ``stop`` is set."""
    stream.codec_context.skip_frame = "NONREF" if seeking.skip_nonref else "DEFAULT"
    tb = seeking.time_base
    decoder = None  # live iterator positioned somewhere in the stream, or None after a seek
    current_gop_start = -1.0
    for wanted in times:
        if stop.is_set():
            return
        if time.monotonic() > seeking.deadline:
            raise MediaError("decode-timeout", "decoding the video took longer than the limit")
        gop_start, target = seeking.gop_and_time(wanted, keyframes)
        if decoder is None or gop_start != current_gop_start:
            container.seek(int(gop_start / tb), stream=stream, backward=True, any_frame=False)
            decoder = container.decode(stream)
            current_gop_start = gop_start
        picked = None
        for frame in decoder:
            counts[slot] += 1
            if frame.pts is None:
                continue
            t = frame.pts * tb
            if t + seeking.half_frame >= target:
                turns = quarter_turns(frame)
                picked = _Picked(round(t, 3), _to_rgb(frame, seeking.max_side, turns),
                                 frame.width, frame.height, turns)
                break
            if counts[slot] % 64 == 0 and (stop.is_set() or time.monotonic() > seeking.deadline):
                if stop.is_set():
                    return
                raise MediaError("decode-timeout", "decoding the video took longer than the limit")
        if picked is None:
            return  # the stream ended before this time: the duration was overstated
        yield picked


def _to_rgb(frame: av.VideoFrame, max_side: int, turns: int) -> np.ndarray:
    """RGB pixels of a frame scaled down (never up) so its longest side is ``max_side``, and
    turned ``turns`` quarter turns counterclockwise (:func:`quarter_turns`) to show it as
    players do."""
    longest = max(frame.width, frame.height)
    if longest <= max_side:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        scale = max_side / longest
        width, height = round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counterclockwise quarter turns (0-3) that show ``frame`` the way players do.

    Phones store portrait video as landscape frames plus a display matrix that says "turn
    this 90 degrees clockwise". Faces in the stored frames lie on their side, where the face
    detector finds none, so frames are turned upright as FFmpeg's own player does: its
    rotation ``theta = -av_display_rotation_get(matrix)`` is turned clockwise, which is
    ``rotation`` (PyAV's name for av_display_rotation_get) counterclockwise. Angles that are
    not a multiple of 90 degrees, and mirroring, are rare and left alone.
    """
    try:
        angle = frame.rotation  # 0 when the frame carries no display matrix
    except (AttributeError, ValueError):
        return 0
    if not angle or abs(angle - 90 * round(angle / 90)) > 2:
        return 0
    return round(angle / 90) % 4
