"""Still-image decoding with a pixel budget checked before any pixel is decoded."""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import MediaError
from .item import Frame, Item

try:  # HEIC/HEIF and AVIF through libheif; optional only so a broken wheel never stops a scan
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener") and ".avif" not in Image.registered_extensions():
        pillow_heif.register_avif_opener()
except Exception:  # pragma: no cover - depends on the platform wheel
    pass  # HEIC/HEIF and AVIF then decode as unknown formats; every other format is unaffected


def decode_image(item: Item) -> None:
    """Decode the first picture of an image item into ``item.image`` and ``item.frames``."""
    limits = item.limits
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
            item.decode_info["frames_in_file"] = getattr(image, "n_frames", 1)
            with stream:
                image.load()
            rgb_image = ImageOps.exif_transpose(image.convert("RGBA") if _has_alpha(image)
                                                else image).convert("RGB")
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fired while reading the header: same verdict as our limit.
        raise MediaError("too-many-pixels",
                         f"image is over the pixel limit (a possible decompression bomb): {exc}"
                         ) from exc
    except (OSError, ValueError, SyntaxError, EOFError, UnidentifiedImageError) as exc:
        raise MediaError("decode-failed", f"cannot decode image: {exc}") from exc
    except MemoryError as exc:
        raise MediaError("too-many-pixels", "image needs more memory than is available") from exc
    item.image = image
    item.width, item.height = rgb_image.size  # as displayed: after the EXIF orientation
    item.frames = [Frame(index=0, time_s=0.0, rgb=np.asarray(rgb_image))]


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
