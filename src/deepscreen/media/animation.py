"""Animated GIF, WebP and APNG, screened like video: frames sampled over the animation's time.

Screening only the first frame lets a banked picture through as the second frame of an
animation whose first frame is blank. So every frame is screened when there are few, and
``limits.animation_max_frames`` are sampled evenly over the animation's time when there are
more, each frame composited as a browser shows it (disposal and blending by Pillow, which
follows the GIF, APNG and WebP rules) over an opaque white page.

Frames depend on the ones before (each is drawn over the previous canvas), so reaching the
last sample means decoding every frame before it. Two passes keep that bounded:

1. :func:`read_timeline` walks the container's frame headers without decoding a pixel, for
   the frame count and each frame's duration. A file declaring more frames than
   ``animation_max_file_frames``, or more canvas pixels to composite than
   ``animation_max_decoded_pixels``, is refused here, in milliseconds.
2. :func:`decode_frames` decodes in order and keeps the sampled frames, scaled down to
   ``video_max_side`` like video frames so memory stays bounded whatever the canvas.

The frame count read in pass 1 is checked against what the decoder finds in pass 2: an
animation with frames one reader sees and the other does not (a way to hide a frame from
a screener) is undecodable, never silently screened in part.
"""

from __future__ import annotations

import bisect
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import MediaError
from .item import Frame
from .limits import Limits

ANIMATED_FORMATS = frozenset({"gif", "png", "webp"})

# Browsers show a frame that asks for 10 ms or less for 100 ms (Chromium and Firefox both;
# "many annoying ads specify a 0 duration to make an image flash as quickly as possible").
# Sampling by time uses the durations as shown, so such frames are not skipped as instants.
_MIN_SHOWN_MS = 10
_SHOWN_FOR_SHORT_MS = 100

BACKGROUND = (255, 255, 255)  # transparent areas, as on a default browser page

_EXIF_ORIENTATION = 0x0112
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class Timeline:
    """Every frame's display duration (ms, as shown) from the container's frame headers."""

    durations_ms: tuple[int, ...]

    @property
    def frames(self) -> int:
        return len(self.durations_ms)

    @property
    def total_ms(self) -> int:
        return sum(self.durations_ms)

    def starts_ms(self) -> list[int]:
        starts, t = [], 0
        for d in self.durations_ms:
            starts.append(t)
            t += d
        return starts


def shown_ms(declared_ms: float) -> int:
    """A frame's duration as browsers show it."""
    return _SHOWN_FOR_SHORT_MS if declared_ms <= _MIN_SHOWN_MS else round(declared_ms)


def read_timeline(data: bytes, fmt: str, limits: Limits, deadline: float) -> Timeline:
    """Frame count and durations of an animated GIF, APNG or WebP, from headers only."""
    reader = {"gif": _gif_durations, "png": _apng_durations, "webp": _webp_durations}[fmt]
    declared = reader(data, limits.animation_max_file_frames, deadline)
    return Timeline(tuple(shown_ms(d) for d in declared))


def check_budget(timeline: Timeline, canvas: tuple[int, int], limits: Limits) -> None:
    """Refuse before decoding an animation whose frames cost more than the limits allow."""
    width, height = canvas
    pixels = timeline.frames * width * height
    if pixels > limits.animation_max_decoded_pixels:
        raise MediaError(
            "too-many-pixels",
            f"animation has {timeline.frames:,} frames of {width}x{height}: {pixels:,} pixels to "
            f"composite, over the limit of {limits.animation_max_decoded_pixels:,} (a possible "
            f"decompression bomb)")


def choose_samples(timeline: Timeline, count: int) -> list[int]:
    """Frame indices to screen: all of them when there are at most ``count``, else the
    frames shown at ``count`` evenly spaced times (a frame shown longer is likelier picked,
    as it is likelier seen)."""
    n = timeline.frames
    if n <= count:
        return list(range(n))
    starts, total = timeline.starts_ms(), timeline.total_ms
    picked: list[int] = []
    for i in range(count):
        index = bisect.bisect_right(starts, total * i / count) - 1
        if not picked or index != picked[-1]:
            picked.append(index)
    return picked


def decode_frames(image: Image.Image, timeline: Timeline, wanted: list[int], limits: Limits,
                  deadline: float) -> list[Frame]:
    """Decode ``image`` frame by frame up to the last wanted one and return the wanted frames,
    composited over :data:`BACKGROUND`, turned by the first frame's EXIF orientation and
    scaled down to ``limits.video_max_side``. A frame identical to the frame kept before it
    is not kept twice (a still held for several frames is one picture)."""
    keep = set(wanted)
    starts = timeline.starts_ms()
    try:
        orientation = int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # corrupt EXIF: Pillow raises many types; frames are still good
        orientation = 1
    frames: list[Frame] = []
    last_kept: np.ndarray | None = None
    for index in range(wanted[-1] + 1):
        if time.monotonic() > deadline:
            raise MediaError("decode-timeout", "decoding the animation took longer than the limit")
        try:
            image.seek(index)
        except EOFError as exc:
            raise MediaError("decode-failed",
                             f"animation frame {index + 1} of {timeline.frames} cannot be read: "
                             f"the frame headers and the frame data disagree") from exc
        if image.width * image.height > limits.max_pixels:  # a GIF frame may grow the canvas
            raise MediaError("too-many-pixels",
                             f"animation frame {index + 1} grows the canvas to "
                             f"{image.width}x{image.height}, over the pixel limit of "
                             f"{limits.max_pixels:,}")
        if index not in keep:
            image.load()  # the next frame is drawn over this one
            continue
        rgb = _shown(image, orientation, limits.video_max_side)
        if last_kept is not None and np.array_equal(rgb, last_kept):
            continue
        frames.append(Frame(index=len(frames), time_s=starts[index] / 1000.0, rgb=rgb))
        last_kept = rgb
    if wanted[-1] == timeline.frames - 1:
        _check_no_frame_beyond(image, timeline.frames)
    return frames


def _check_no_frame_beyond(image: Image.Image, counted: int) -> None:
    """The decoder must not find a frame the header walk did not count (it would be a frame
    no sample could ever land on)."""
    try:
        image.seek(counted)
    except EOFError:
        return
    except (OSError, ValueError, SyntaxError):
        return  # what follows the last frame is broken: no frame there either
    raise MediaError("decode-failed",
                     f"the decoder finds more than the {counted} frames the file's frame "
                     f"headers declare (a frame hidden from sampling)")


def _shown(image: Image.Image, orientation: int, max_side: int) -> np.ndarray:
    """The current frame as RGB over the page background, upright, at most ``max_side``."""
    rgba = image.convert("RGBA")
    longest = max(rgba.size)
    if longest > max_side:  # scaled first (Pillow weights by alpha): compositing stays small
        scale = max_side / longest
        rgba = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))),
                           Image.Resampling.BILINEAR)
    page = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    picture = Image.alpha_composite(page, rgba).convert("RGB")
    if orientation in _TRANSPOSE:
        picture = picture.transpose(_TRANSPOSE[orientation])
    return np.asarray(picture)


# --- frame headers, without decoding --------------------------------------------------------


def _too_many(count: int, limit: int) -> MediaError:
    return MediaError("too-many-frames",
                      f"animation declares more than {limit:,} frames ({count:,} counted so far), "
                      f"over the limit (animation_max_file_frames)")


def _timed(deadline: float) -> Callable[[], None]:
    def check() -> None:
        if time.monotonic() > deadline:
            raise MediaError("decode-timeout", "reading the animation's frames took too long")
    return check


def _gif_durations(data: bytes, max_frames: int, deadline: float) -> list[float]:
    """Per image descriptor, the delay of the graphic control extension before it.

    Walks blocks as Pillow's GIF reader does, skipping a stray byte between blocks the way it
    does, so both count the same frames. Written as one flat loop: a frame-flood GIF has a
    frame every 20 bytes, and this walk is what refuses it.
    """
    check = _timed(deadline)
    end = len(data)
    if end < 13:
        raise MediaError("decode-failed", "GIF header is truncated")
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    delays: list[float] = []
    delay, frames, steps = 0.0, 0, 0
    while pos < end:
        introducer = data[pos]
        pos += 1
        if introducer == 0x2C:  # image descriptor, local colour table, LZW code size
            if pos + 9 > end:
                break
            local = data[pos + 8]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            delays.append(delay)
            delay = 0.0
            frames += 1
            if frames > max_frames:
                raise _too_many(frames, max_frames)
        elif introducer == 0x21:  # extension: its label
            if pos >= end:
                break
            if data[pos] == 0xF9 and pos + 6 <= end and data[pos + 1] >= 4:
                delay = (data[pos + 3] | data[pos + 4] << 8) * 10.0
            pos += 1
        elif introducer == 0x3B:  # trailer
            break
        else:
            continue  # a stray byte, skipped as Pillow skips it
        while pos < end:  # the sub-blocks that follow, up to the empty one
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
            steps += 1
            if steps & 0xFFFF == 0:
                check()
    return delays


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, data offset, length) of every chunk, stopping at IEND or a truncated chunk."""
    chunks, pos, end = [], 8, len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if pos + 8 + length > end:
            break
        chunks.append((kind, pos + 8, length))
        if kind == b"IEND":
            break
        pos += 12 + length
    return chunks


def _apng_durations(data: bytes, max_frames: int, deadline: float) -> list[float]:
    """Per frame Pillow shows: the default image when it is not the animation's first frame
    (viewers without APNG support show it), then one per fcTL chunk."""
    declared, delays, idat_seen, default_is_frame = None, [], False, False
    for kind, at, length in _png_chunks(data):
        if kind == b"acTL" and length >= 8 and declared is None:
            declared = int.from_bytes(data[at:at + 4], "big")
            if declared > max_frames:
                raise _too_many(declared, max_frames)
        elif kind == b"fcTL" and length >= 26:
            if not idat_seen:
                default_is_frame = True
            num, den = struct.unpack(">HH", data[at + 20:at + 24])
            delays.append(1000.0 * num / (den or 100))
            if len(delays) > max_frames:
                raise _too_many(len(delays), max_frames)
        elif kind == b"IDAT":
            idat_seen = True
    if declared is not None and declared != len(delays):
        raise MediaError("decode-failed",
                         f"APNG declares {declared} frames but holds {len(delays)} frame controls")
    if not default_is_frame:
        delays.insert(0, 0.0)  # the default image, shown by viewers that do not animate
    return delays


def _webp_durations(data: bytes, max_frames: int, deadline: float) -> list[float]:
    """One per ANMF chunk, its 24-bit duration."""
    check = _timed(deadline)
    delays: list[float] = []
    pos, end = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while pos + 8 <= end:
        kind, length = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if kind == b"ANMF" and length >= 16:
            delays.append(float(int.from_bytes(data[pos + 20:pos + 23], "little")))
            if len(delays) > max_frames:
                raise _too_many(len(delays), max_frames)
            if len(delays) % 1024 == 0:
                check()
        pos += 8 + length + (length & 1)
    return delays
