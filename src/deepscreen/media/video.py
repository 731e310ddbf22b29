"""Video decoding that samples frames at a fixed interval and decodes as little as it can.

A first pass demuxes packets without decoding them to find the keyframes. Each sampling
time then takes the cheapest route: a keyframe close enough to the time is decoded on its
own; otherwise the decoder seeks to the keyframe before the time and decodes forward, and
it keeps decoding forward instead of seeking when the next time lies in the same group of
pictures. Long keyframe gaps therefore cost one sequential decode, short ones a few frames.
"""

from __future__ import annotations

import bisect
import math
import time
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


def _plan(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
          item: Item, deadline: float) -> _Plan:
    """Demux (no decoding) to learn the keyframe times and the real duration."""
    limits = item.limits
    tb = float(stream.time_base)
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


def _sample(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
            plan: _Plan, item: Item, deadline: float, skip_nonref: bool,
            listener: FrameListener | None = None) -> list[Frame]:
    # Frames no other frame refers to (most B-frames) need not be decoded to reach a later
    # one; skipping them halves H.264 decoding. A sample then lands on the next reference
    # frame, a few frames later at most, and its real time is recorded.
    stream.codec_context.skip_frame = "NONREF" if skip_nonref else "DEFAULT"
    tb = float(stream.time_base)
    max_side = item.limits.video_max_side
    half_frame = 0.5 / item.fps if item.fps else 0.02
    # A keyframe this close to the wanted time stands in for it; no forward decoding needed.
    snap = min(0.25, item.limits.frame_interval_s / 4)
    frames: list[Frame] = []
    decoder = None  # live iterator positioned somewhere in the stream, or None after a seek
    decoded_frames = 0
    current_gop_start = -1.0
    for target in plan.times:
        if time.monotonic() > deadline:
            raise MediaError("decode-timeout", "decoding the video took longer than the limit")
        k = bisect.bisect_right(plan.keyframes, target + half_frame) - 1
        gop_start = plan.keyframes[k] if k >= 0 else 0.0
        nearest_next = plan.keyframes[k + 1] if k + 1 < len(plan.keyframes) else None
        if nearest_next is not None and nearest_next - target <= snap:
            gop_start, target = nearest_next, nearest_next
        continue_forward = decoder is not None and gop_start == current_gop_start
        if not continue_forward:
            container.seek(int(gop_start / tb), stream=stream, backward=True, any_frame=False)
            decoder = container.decode(stream)
            current_gop_start = gop_start
        picked = None
        for frame in decoder:
            decoded_frames += 1
            if frame.pts is None:
                continue
            t = frame.pts * tb
            if t + half_frame >= target:
                picked = Frame(index=len(frames), time_s=round(t, 3), rgb=_to_rgb(frame, max_side))
                _note_orientation(item, frame)
                break
            if decoded_frames % 64 == 0 and time.monotonic() > deadline:
                raise MediaError("decode-timeout", "decoding the video took longer than the limit")
        if picked is None:
            decoder = None
            break  # the stream ended before this time: the duration was overstated
        if frames and picked.time_s <= frames[-1].time_s:
            continue  # two times resolved to the same frame (sparse or variable frame rate)
        frames.append(picked)
        if listener is not None:
            listener.frame(picked)  # its index is final: later frames only append
    item.decode_info["frames_decoded"] = decoded_frames
    return [Frame(index=i, time_s=f.time_s, rgb=np.ascontiguousarray(f.rgb))
            for i, f in enumerate(frames)]


def _to_rgb(frame: av.VideoFrame, max_side: int) -> np.ndarray:
    """RGB pixels of a frame as players show it (turned upright), scaled down (never up) so
    its longest side is ``max_side``."""
    longest = max(frame.width, frame.height)
    if longest <= max_side:
        rgb = frame.to_ndarray(format="rgb24")
    else:
        scale = max_side / longest
        width, height = round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
    turns = quarter_turns(frame)
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


def _note_orientation(item: Item, frame: av.VideoFrame) -> None:
    """Give the item its displayed size, and record a display rotation when there is one."""
    turns = quarter_turns(frame)
    item.rotation_deg = 90 * turns
    item.width, item.height = ((frame.height, frame.width) if turns % 2
                               else (frame.width, frame.height))
