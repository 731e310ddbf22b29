"""Media layer: open anything, learn what it really is, decode it once within limits."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import time
from pathlib import Path
from typing import BinaryIO

from ..errors import MediaError
from .item import AudioTrack, Frame, FrameListener, Item, ItemInfo
from .limits import Limits
from .sniff import SNIFF_BYTES, UNKNOWN, MediaKind, MediaType, sniff

__all__ = ["UNKNOWN", "AudioTrack", "Frame", "FrameListener", "Item", "ItemInfo", "Limits",
           "MediaKind", "MediaType", "decode", "open_media", "sniff"]

Source = str | os.PathLike[str] | bytes | BinaryIO

_CHUNK = 1 << 20

log = logging.getLogger(__name__)


def open_media(source: Source, limits: Limits | None = None, name: str | None = None) -> Item:
    """Open a path, bytes or a binary stream as an :class:`Item`: hashes, size and sniffed type.

    Nothing is decoded yet. An item over ``limits.max_bytes`` still opens, with a
    ``too-large`` decode error, so it gets a verdict instead of an exception.
    Raises ``MediaError('unreadable', ...)`` only when there is nothing to read.

    ``name`` is what reports call the item; for a path it replaces the path everywhere,
    decoders' messages included (a service scanning a stored upload shows the upload's
    name, never where it keeps it).
    """
    limits = limits or Limits()
    if isinstance(source, bytes | bytearray | memoryview):
        return _from_bytes(bytes(source), name or "<bytes>", limits)
    if isinstance(source, str | os.PathLike):
        item = _from_path(Path(source), limits)
        if name is not None:
            item.source = name
        return item
    return _from_stream(source, name or getattr(source, "name", None) or "<stream>", limits)


def _from_path(path: Path, limits: Limits) -> Item:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise MediaError("unreadable", f"{path} is not a regular file")
        if size > limits.max_bytes:
            with path.open("rb") as f:
                media_type = sniff(f.read(SNIFF_BYTES))
            item = Item(source=str(path), media_type=media_type, size=size, sha256="", md5="",
                        limits=limits, path=path)
            item.decode_error = _too_large(size, limits)
            return item
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        head = b""
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                if not head:
                    head = chunk[:SNIFF_BYTES]
                sha256.update(chunk)
                md5.update(chunk)
    except MediaError:
        raise
    except OSError as exc:
        raise MediaError("unreadable", f"cannot read {path}: {exc.strerror or exc}") from exc
    return Item(source=str(path), media_type=sniff(head) if head else UNKNOWN, size=size,
                sha256=sha256.hexdigest(), md5=md5.hexdigest(), limits=limits, path=path)


def _from_stream(stream: BinaryIO, name: str, limits: Limits) -> Item:
    # Read one byte past the limit so an oversized stream is detected without reading it all.
    data = stream.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        item = Item(source=name, media_type=sniff(data[:SNIFF_BYTES]), size=len(data), sha256="",
                    md5="", limits=limits)
        item.decode_error = _too_large(len(data), limits, at_least=True)
        return item
    return _from_bytes(data, name, limits)


def _from_bytes(data: bytes, name: str, limits: Limits) -> Item:
    if len(data) > limits.max_bytes:
        return _from_stream(io.BytesIO(data), name, limits)
    return Item(source=name, media_type=sniff(data[:SNIFF_BYTES]) if data else UNKNOWN,
                size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                md5=hashlib.md5(data, usedforsecurity=False).hexdigest(), limits=limits,
                data=data)


def _too_large(size: int, limits: Limits, at_least: bool = False) -> MediaError:
    more = "more than " if at_least else ""
    return MediaError("too-large",
                      f"item is {more}{size:,} bytes, over the limit of {limits.max_bytes:,}")


def decode(item: Item, listener: FrameListener | None = None) -> Item:
    """Decode the item's primary view once; on failure record ``item.decode_error``.

    Never raises for bad media: the pipeline turns ``decode_error`` into a finding and
    the policy's ``unscannable`` verdict. A ``listener`` sees video frames as they are
    decoded (signals use it to overlap their work with decoding) and is closed at the end.
    """
    if item.decoded or item.decode_error is not None:
        item.decoded = True
        return item
    from .archive import decode_archive
    from .audio import decode_audio, decode_soundtrack
    from .image import decode_image
    from .video import decode_video

    decoders = {"image": decode_image, "video": decode_video, "audio": decode_audio,
                "archive": decode_archive}
    try:
        if item.size == 0:
            raise MediaError("empty", "the file is empty")
        decoder = decoders.get(item.kind)
        if decoder is None:
            raise MediaError("unsupported-type",
                             "unsupported type: not an image, video, audio, archive or PDF format "
                             "Deepscreen screens (sniffed from its first bytes, not its name)")
        if item.kind == "video":
            started = time.monotonic()
            decode_video(item, listener)
            # The sound track gets what is left of the item's decoding time.
            decode_soundtrack(item, item.limits.decode_timeout_s - (time.monotonic() - started))
        else:
            decoder(item)
    except MediaError as exc:
        item.decode_error = _named(exc, item)
    except RecursionError as exc:
        item.decode_error = MediaError("decode-failed", f"container nesting too deep: {exc}")
    except Exception as exc:
        # Decoders are large C libraries fed hostile input; whatever escapes them, the item
        # still gets a verdict. Logged, because it points at a gap in the decoders' handling.
        log.warning("unexpected %s decoding %s: %s", type(exc).__name__, item.source, exc)
        item.decode_error = _named(MediaError("decode-failed",
                                              f"cannot decode: {type(exc).__name__}: {exc}"), item)
    finally:
        item.decoded = True
        if listener is not None:
            listener.close()
    return item


def _named(error: MediaError, item: Item) -> MediaError:
    """``error`` with the item's file path (which decoders quote) replaced by its name."""
    if item.path is None or str(item.path) == item.source or str(item.path) not in str(error):
        return error
    return MediaError(error.code, str(error).replace(str(item.path), item.source))
