"""Resource limits that keep hostile or broken files from exhausting the screening host."""

from __future__ import annotations

from dataclasses import dataclass, fields
from difflib import get_close_matches
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """Every bound Deepscreen enforces while reading an item; all are configurable.

    The defaults suit an upload gateway: generous for real media, tight enough that a
    decompression bomb, an endless stream or a pathological container fails fast.
    """

    max_bytes: int = 1 << 30  # largest item accepted, in bytes
    # Pixels per image or video frame, checked from the header before any pixel is decoded
    # (a 100000x100000 PNG would be 10^10).
    max_pixels: int = 100_000_000
    max_frames: int = 600  # sampled frames per video
    max_duration_s: float = 4 * 3600.0  # longest video screened
    decode_timeout_s: float = 120.0  # decoding time per item
    frame_interval_s: float = 1.0  # video sampling: one frame per this many seconds
    # Sampled video frames are scaled down to this longest side, which bounds memory at
    # max_frames x 1280 x 720 x 3 bytes (1.6 GB) for any input resolution.
    video_max_side: int = 1280
    # Threads per video decoder. One, because decoding never runs alone: the faces signal
    # detects on other threads while frames arrive, and batches run one worker process per
    # core. FFmpeg's own default (0: one per core, plus one) oversubscribed two cores and
    # made the 720p benchmark clip 4-8% slower end to end (BENCHMARKS.md, face speed).
    decode_threads: int = 1
    # Parts of a video decoded at once, each from its own keyframe by its own decoder: groups
    # of pictures do not depend on each other, so a video with several keyframes decodes on
    # several cores even with one thread per decoder.
    decode_segments: int = 2
    audio_sample_rate: int = 16_000  # audio is decoded to mono at this rate
    # An image's metadata (text chunks, XMP, ICC profile, EXIF, JPEG APPn segments) in all.
    max_metadata_bytes: int = 4 << 20
    # Animated GIF, WebP and APNG. Every frame is screened when there are at most
    # animation_max_frames; past that, that many are sampled evenly over the animation's
    # time. Frames have to be decoded in order (each is drawn over the one before), so the
    # cost is every frame up to the last sample, times the canvas: a file declaring more
    # frames than animation_max_file_frames, or more than animation_max_decoded_pixels to
    # composite, is refused before any frame is decoded.
    animation_max_frames: int = 100
    animation_max_file_frames: int = 10_000  # a file declaring more frames is refused
    animation_max_decoded_pixels: int = 1_000_000_000  # pixels composited, all frames
    # Archives (ZIP, TAR, GZ/BZ2/XZ) and PDF: members are read into memory one at a time
    # (never written to disk) and screened as items of their own. The bounds hold for the
    # whole tree of nested archives together; hitting one makes the archive unscannable.
    archive_max_depth: int = 3  # a.zip!b.zip!c.zip!x.jpg is depth 3
    archive_max_members: int = 5_000  # entries listed, over the whole tree
    archive_max_total_bytes: int = 4 << 30  # uncompressed, over the whole tree
    # Uncompressed / compressed size of one member (or of a compressed stream), checked
    # for members over 1 MiB: real media hardly compress; a zip bomb is ~1000x per layer.
    archive_max_ratio: float = 100.0
    archive_timeout_s: float = 900.0  # the whole tree, members' screening included
    pdf_max_pages: int = 5_000  # a PDF with more pages is refused

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value <= 0:
                raise ValueError(f"limit {f.name} must be positive, got {value!r}")

    @classmethod
    def from_mapping(cls, values: Any, where: str = "limits") -> Limits:
        """Limits from a config mapping; :class:`ConfigError` naming the key for an unknown
        key or a value that is not a positive number of the right kind."""
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: must be a mapping of limit names to numbers, "
                              f"got {type(values).__name__}")
        known = {f.name: f.type for f in fields(cls)}
        converted: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                close = get_close_matches(str(key), known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise ConfigError(f"{where}.{key}: unknown limit{hint}; known: "
                                  f"{', '.join(known)}")
            whole = known[key] == "int"
            try:
                if isinstance(raw, bool) or (whole and isinstance(raw, float)):
                    raise ValueError
                value = int(raw) if whole else float(raw)
            except (TypeError, ValueError):
                kind = "a whole number" if whole else "a number"
                raise ConfigError(f"{where}.{key}: {raw!r} is not {kind}") from None
            if value <= 0:
                raise ConfigError(f"{where}.{key}: must be positive, got {raw!r}")
            converted[key] = value
        return cls(**converted)
