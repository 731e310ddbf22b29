"""An item under screening: its bytes, identity, type and decoded views."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np

from ..errors import MediaError
from .limits import Limits
from .sniff import MediaKind, MediaType

if TYPE_CHECKING:
    from PIL import Image

    from .archive_tree import ArchiveContents, Nesting


@dataclass(frozen=True)
class Frame:
    """One decoded picture: a still image, or a video frame sampled at ``time_s``.

    Video frames larger than ``Limits.video_max_side`` are scaled down; ``Item.width`` and
    ``Item.height`` keep the stream's own size, so ``rgb.shape`` may be smaller.
    """

    index: int
    time_s: float
    rgb: np.ndarray  # H x W x 3, uint8


class FrameListener(Protocol):
    """Receives video frames while they are decoded, so work on them can start early.

    ``frame`` gets each sampled frame in order, with the index it will have in
    ``Item.frames``; ``restart`` says the decoder starts over (frames seen so far are void);
    ``close`` says no more frames will come (decoding finished or failed). Called from the
    decoding thread; implementations must be quick and must not raise.
    """

    def frame(self, frame: Frame) -> None: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class AudioTrack:
    """Decoded audio, mono at ``sample_rate``; enough for a voice detector."""

    sample_rate: int
    samples: np.ndarray  # float32 in [-1, 1]
    duration_s: float
    codec: str
    channels: int


@dataclass
class Item:
    """One file being screened.

    Identity (hashes, size, sniffed type) is known as soon as the item is opened. Decoding is
    done once by :func:`deepscreen.media.decode`, which fills ``frames`` (images and video),
    ``image`` (the original still image with its metadata) or ``audio``, or records the
    reason in ``decode_error``. Signals read these views and never decode again.
    """

    source: str
    media_type: MediaType
    size: int
    sha256: str
    md5: str
    limits: Limits
    path: Path | None = None
    data: bytes | None = None
    decode_error: MediaError | None = None
    decoded: bool = False
    image: Image.Image | None = None
    frames: list[Frame] = field(default_factory=list)
    audio: AudioTrack | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    # Video only: counterclockwise degrees (0, 90, 180, 270) that ``frames`` were turned from
    # the stored pictures to show them as players do (the stream's display matrix).
    rotation_deg: int = 0
    decode_info: dict[str, Any] = field(default_factory=dict)
    # Archives (kind "archive"), filled by decoding, before any member is read: the name of
    # every entry in archive order (folders end with "/"; links and devices included), at
    # most limits.archive_max_members. A signal that judges an archive by its layout (a
    # tool's workspace: data_src/aligned/, model/) reads this; members are screened as
    # items of their own.
    archive_listing: list[str] = field(default_factory=list)
    archive: ArchiveContents | None = field(default=None, repr=False)
    # Set on an archive's members (and on archives, once opened): the tree's shared bounds,
    # depth and the member names from the outermost archive down to this item.
    nesting: Nesting | None = field(default=None, repr=False)

    @property
    def kind(self) -> MediaKind:
        return self.media_type.kind

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else self.source

    def open_stream(self) -> BinaryIO:
        """A fresh binary stream over the item's bytes (caller closes it)."""
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.path is None:
            raise MediaError("unreadable", "item has neither bytes nor a path")
        return self.path.open("rb")

    def read_bytes(self) -> bytes:
        """All bytes of the item. Size was checked against ``limits.max_bytes`` at open."""
        if self.data is not None:
            return self.data
        with self.open_stream() as stream:
            return stream.read()

    @property
    def screenable(self) -> bool:
        return self.decoded and self.decode_error is None

    @property
    def animated(self) -> bool:
        """An animated GIF, WebP or APNG decoded into frames sampled over its time."""
        return bool(self.decode_info.get("animated"))

    def close(self) -> None:
        """Release what decoding holds open (an archive's reader)."""
        if self.archive is not None:
            self.archive.reader.close()

    def describe(self) -> ItemInfo:
        """The item's identity and shape, as the report shows it."""
        framed = self.kind == "video" or self.animated
        return ItemInfo(
            source=self.source, kind=self.kind, format=self.media_type.format,
            mime=self.media_type.mime, size=self.size, sha256=self.sha256, md5=self.md5,
            width=self.width, height=self.height,
            duration_s=None if self.duration_s is None else round(self.duration_s, 3),
            fps=None if self.fps is None else round(self.fps, 3),
            frames_sampled=len(self.frames) if framed else None,
            # frames in the file: an animation's frames; a video stream's packets
            frames_total=(self.decode_info.get("frames_in_file") if self.animated
                          else self.decode_info.get("packets") if self.kind == "video" else None),
            animated=self.animated,
            member_path=(tuple(self.nesting.path) if self.nesting is not None
                         and self.nesting.path else None),
            archive=self.archive.describe() if self.archive is not None else None)


@dataclass(frozen=True)
class ItemInfo:
    """What a report says about the item itself: identity (name, hashes, size, sniffed type)
    and shape (dimensions, duration, frames; for an archive member its path inside the
    archives, for an archive what it holds). Plain data, kept when the media is not."""

    source: str
    kind: str
    format: str
    mime: str
    size: int
    sha256: str
    md5: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    fps: float | None = None
    frames_sampled: int | None = None
    frames_total: int | None = None
    animated: bool = False
    member_path: tuple[str, ...] | None = None  # archive names from the outermost in
    archive: dict[str, Any] | None = None  # an archive's own description (format, members)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source, "kind": self.kind, "format": self.format,
            "mime": self.mime, "size": self.size, "sha256": self.sha256, "md5": self.md5,
            "width": self.width, "height": self.height, "duration_s": self.duration_s,
            "fps": self.fps, "frames_sampled": self.frames_sampled,
            "frames_total": self.frames_total, "animated": self.animated}
        if self.member_path is not None:
            data["member_path"] = list(self.member_path)
        if self.archive is not None:
            data["archive"] = self.archive
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemInfo:
        known = {f: data.get(f) for f in cls.__dataclass_fields__}
        # Values are whatever the stored JSON held (Any); the identity fields are coerced.
        path = known["member_path"]
        fields: dict[str, Any] = {
            **known, "source": str(known["source"] or ""), "size": int(known["size"] or 0),
            "sha256": str(known["sha256"] or ""), "md5": str(known["md5"] or ""),
            "animated": bool(known["animated"]), "member_path": tuple(path) if path else None}
        return cls(**fields)

    def renamed(self, source: str) -> ItemInfo:
        return replace(self, source=source)
