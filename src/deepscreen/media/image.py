"""Image decoding with a pixel budget checked before any pixel is decoded.

A still image becomes one frame. An animated GIF, WebP or APNG becomes the frames sampled
over its time (:mod:`.animation`), so every pixel signal sees every frame a viewer would.
"""

from __future__ import annotations

import struct
import time
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import MediaError
from .animation import ANIMATED_FORMATS, check_budget, choose_samples, decode_frames, read_timeline
from .item import Frame, Item
from .limits import Limits

try:  # HEIC/HEIF and AVIF through libheif; optional only so a broken wheel never stops a scan
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener") and ".avif" not in Image.registered_extensions():
        pillow_heif.register_avif_opener()
except Exception:  # pragma: no cover - depends on the platform wheel
    pass  # HEIC/HEIF and AVIF then decode as unknown formats; every other format is unaffected


def decode_image(item: Item) -> None:
    """Decode an image item into ``item.image`` (the first picture, with its metadata) and
    ``item.frames`` (that picture, or an animation's sampled frames)."""
    limits = item.limits
    deadline = time.monotonic() + limits.decode_timeout_s
    try:
        with warnings.catch_warnings():
            # Pillow warns about large images (our own pixel limit below is the one that counts)
            # and about corrupt metadata tags; either way the outcome is decided below.
            warnings.simplefilter("ignore")
            stream = item.open_stream()
            image = Image.open(stream)
            width, height = image.size
            item.width, item.height = width, height
            if width <= 0 or height <= 0:
                raise MediaError("decode-failed", f"image declares an empty size {width}x{height}")
            if width * height > limits.max_pixels:
                raise MediaError(
                    "too-many-pixels",
                    f"image declares {width}x{height} = {width * height:,} pixels, over the "
                    f"limit of {limits.max_pixels:,} (a possible decompression bomb)",
                )
            _check_metadata(image, limits)
            if _is_animated(item, image):
                with stream:
                    _decode_animation(item, image, deadline)
                return
            item.decode_info["frames_in_file"] = getattr(image, "n_frames", 1)
            with stream:
                image.load()
            _check_metadata(image, limits)  # chunks after the pixel data are read by now
            rgb_image = ImageOps.exif_transpose(image.convert("RGBA") if _has_alpha(image)
                                                else image).convert("RGB")
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fired while reading the header: same verdict as our limit.
        raise MediaError("too-many-pixels",
                         f"image is over the pixel limit (a possible decompression bomb): {exc}"
                         ) from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, RuntimeError,
            TypeError, UnidentifiedImageError) as exc:
        # IndexError and struct.error: Pillow's GIF and TIFF readers on truncated headers;
        # TypeError: its TIFF reader on a tile without dimensions; RuntimeError: libheif
        # (pillow-heif) on corrupt HEIC/AVIF data (all found by bench/fuzz.py, samples in
        # tests/regressions/). They mean what the others mean: a broken file.
        raise MediaError("decode-failed", f"cannot decode image: {type(exc).__name__}: {exc}"
                         ) from exc
    except MemoryError as exc:
        raise MediaError("too-many-pixels", "image needs more memory than is available") from exc
    item.image = image
    item.width, item.height = rgb_image.size  # as displayed: after the EXIF orientation
    item.frames = [Frame(index=0, time_s=0.0, rgb=np.asarray(rgb_image))]


def _check_metadata(image: Image.Image, limits: Limits) -> None:
    """Refuse metadata far larger than any real image carries (XMP packets are kilobytes,
    ICC profiles rarely a megabyte): every metadata reader after this would pay for it."""
    total = sum(len(v) for v in image.info.values() if isinstance(v, str | bytes))
    total += sum(len(payload) for _, payload in getattr(image, "applist", ()))  # JPEG APPn
    if total > limits.max_metadata_bytes:
        raise MediaError("metadata-too-large",
                         f"the image carries {total:,} bytes of metadata (text, XMP, ICC, EXIF), "
                         f"over the limit of {limits.max_metadata_bytes:,} (max_metadata_bytes)")


def _is_animated(item: Item, image: Image.Image) -> bool:
    return item.media_type.format in ANIMATED_FORMATS and bool(getattr(image, "is_animated", False))


def _decode_animation(item: Item, image: Image.Image, deadline: float) -> None:
    """Sampled frames of an animation; ``item.image`` is its first frame, with its metadata."""
    limits = item.limits
    timeline = read_timeline(item.read_bytes(), item.media_type.format, limits, deadline)
    declared = getattr(image, "n_frames", None) if item.media_type.format != "gif" else None
    if declared is not None and declared != timeline.frames:
        # Pillow's count comes from libwebp's demuxer or the APNG acTL chunk; a frame that
        # one of them sees and the other does not could be hidden from sampling.
        raise MediaError("decode-failed", f"the animation's frame count is inconsistent "
                                          f"({declared} decoded, {timeline.frames} in its headers)")
    if timeline.frames < 1:
        raise MediaError("decode-failed", "the animation holds no frame")
    check_budget(timeline, image.size, limits)
    wanted = choose_samples(timeline, limits.animation_max_frames)
    frames = decode_frames(image, timeline, wanted, limits, deadline)
    if not frames:
        raise MediaError("decode-failed", "no decodable animation frame found")
    image.seek(0)  # item.image is the first frame: its metadata is what other signals read
    image.load()
    item.image = image
    item.frames = frames
    item.height, item.width = _displayed_size(image)
    item.duration_s = timeline.total_ms / 1000.0
    item.decode_info.update({"frames_in_file": timeline.frames, "animated": True,
                             "frames_chosen": len(wanted)})


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    """(height, width) of the canvas as shown, after the EXIF orientation."""
    try:
        turned = int(image.getexif().get(0x0112, 1)) in (5, 6, 7, 8)
    except Exception:
        turned = False
    width, height = image.size
    return (width, height) if turned else (height, width)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
