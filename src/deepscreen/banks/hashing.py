"""Hash computation and hash-value rules: pure functions over pixels and strings, no I/O.

PDQ hashes are written the way Meta's reference tools write them: 256 bits, most significant
bit first, as 64 lower-case hex characters. They are computed by :mod:`.pdq`, a vectorised
PDQ checked against the ``pdqhash`` reference binding (tests/test_banks_pdq.py). A video's
signal is the vPDQ list of per-frame PDQ hashes with their quality and time, serialised as
ThreatExchange does (a JSON list of ``"hex,quality,seconds"`` strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BankError
from .pdq import pdq_hash, pdq_hash_dihedral

if TYPE_CHECKING:
    from ..media import Frame, Item

PDQ_BITS = 256
PDQ_HEX_LEN = PDQ_BITS // 4
# Below this quality a PDQ hash describes too little structure (flat or nearly flat pictures)
# and matches unrelated content; both PDQ and vPDQ ignore such hashes.
PDQ_MIN_QUALITY = 50
PDQ_DEFAULT_THRESHOLD = 31

# pdq_hash_dihedral returns the hashes of these transforms of the picture in the reference's
# order, the one pdqhash.compute_dihedral uses (checked against numpy rotations/flips of test
# images). When an item matches through
# a variant, that variant is the transform that turns the item back into the banked picture.
DIHEDRAL_VARIANTS = ("original", "rotate-90-ccw", "rotate-180", "rotate-90-cw",
                     "flip-vertical", "flip-horizontal", "transpose", "transverse")

# The quarter turns a video is also matched in (the first dihedral variants after
# "original"), named, as for images, by the turn that brings the item to the banked video.
VIDEO_TURNS = DIHEDRAL_VARIANTS[1:4]

_HEX_RE = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class PdqHash:
    """One PDQ hash (64 hex chars) with its quality in [0, 100]."""

    hex: str
    quality: int

    @property
    def usable(self) -> bool:
        return self.quality >= PDQ_MIN_QUALITY


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one sampled video frame."""

    hex: str
    quality: int
    time_s: float

    def to_vpdq(self) -> str:
        return f"{self.hex},{self.quality},{self.time_s:.3f}"


@dataclass(frozen=True)
class ItemHashes:
    """Every hash Deepscreen computes for one item.

    ``pdq`` and ``dihedral`` are set for still images, ``frames`` for video. ``pdq_note``
    says why no PDQ was computed (undecodable item, audio) so reports can explain it.

    ``frames`` hash a video's pictures as stored, as Meta's vPDQ does, so the hashes that
    Deepscreen exports and banks agree with partners' vPDQ lists. ``turned_frames`` hash the
    same pictures turned by a quarter turn, a half turn and three quarters (``VIDEO_TURNS``),
    for matching only, never banked or exported: phones store portrait video on its side
    with a display rotation, and re-encoders usually write it upright, so the same clip can
    be banked in one orientation and uploaded in another.

    An animated image (GIF, WebP, APNG) is hashed like a video, one PDQ per sampled frame,
    so a banked still matches any frame of it; its ``turned_frames`` are all seven other
    dihedral variants (``DIHEDRAL_VARIANTS[1:]``), as a still image's are, because a
    picture pasted into an animation is as easily mirrored as turned.
    """

    kind: str
    sha256: str
    md5: str
    pdq: PdqHash | None = None
    dihedral: tuple[str, ...] = ()
    frames: tuple[FrameHash, ...] = ()
    pdq_note: str | None = None
    turned_frames: tuple[tuple[FrameHash, ...], ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The hashes as JSON-ready data (what reports and ``deepscreen hash --json`` show)."""
        data: dict[str, object] = {"kind": self.kind, "sha256": self.sha256 or None,
                                   "md5": self.md5 or None}
        if self.pdq is not None:
            data["pdq"] = {"hash": self.pdq.hex, "quality": self.pdq.quality}
        if self.frames:
            data["vpdq"] = [{"hash": f.hex, "quality": f.quality, "time_s": round(f.time_s, 3)}
                            for f in self.frames]
        if self.pdq_note:
            data["pdq_note"] = self.pdq_note
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemHashes:
        """The hashes :meth:`to_dict` wrote (a report's ``hashes`` evidence read back)."""
        pdq = data.get("pdq")
        frames = tuple(FrameHash(str(f["hash"]), int(f["quality"]), float(f["time_s"]))
                       for f in data.get("vpdq") or ())
        return cls(kind=str(data.get("kind") or "unknown"), sha256=str(data.get("sha256") or ""),
                   md5=str(data.get("md5") or ""),
                   pdq=PdqHash(str(pdq["hash"]), int(pdq["quality"])) if pdq else None,
                   frames=frames, pdq_note=data.get("pdq_note"))


def bits_to_hex(bits: np.ndarray) -> str:
    """A 256-element 0/1 vector (the ``pdqhash`` binding's output) as 64 hex chars, MSB first."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hex_to_bytes(hex_value: str) -> np.ndarray:
    """A PDQ hex string as 32 uint8 values (the packed form the index stores)."""
    return np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8)


def hamming(hex_a: str, hex_b: str) -> int:
    """Hamming distance between two equal-length hex hashes."""
    return (int(hex_a, 16) ^ int(hex_b, 16)).bit_count()


def pdq_of(rgb: np.ndarray) -> PdqHash:
    """PDQ hash and quality of one RGB (or grey H x W) picture."""
    hex_value, quality = pdq_hash(rgb)
    return PdqHash(hex_value, quality)


def pdq_dihedral(rgb: np.ndarray) -> tuple[PdqHash, tuple[str, ...]]:
    """The picture's PDQ hash and the hashes of its 8 rotations/flips (original first).

    The bank stores only the original; querying all 8 variants finds flipped or rotated
    copies at the cost of one hash computation.
    """
    variants, quality = pdq_hash_dihedral(rgb)
    return PdqHash(variants[0], quality), tuple(variants)


def _frame_views(frames: Sequence[Frame], turned_deg: int,
                 variants_wanted: int = 1 + len(VIDEO_TURNS)) -> list[tuple[FrameHash, ...]]:
    """vPDQ signal of a video: the PDQ hash of every sampled frame, with quality and time,
    as stored, then turned as ``VIDEO_TURNS`` name.

    ``turned_deg`` is how far (counterclockwise) the frames were turned after decoding
    (``Item.rotation_deg``); it is undone first, so the first view hashes the stored
    pictures, one hash per frame, as vPDQ does.
    The stored picture is hashed exactly (it is what gets exported). The turned views come
    from the same DCT, as for images' dihedral variants: free, and within a few bits of
    hashing turned pixels (PDQ's downsampling of a non-square picture is not exactly
    symmetric), well inside the matching threshold.
    """
    undo = -(turned_deg // 90) % 4
    views: list[list[FrameHash]] = [[] for _ in range(variants_wanted)]
    for frame in frames:
        stored = np.ascontiguousarray(np.rot90(frame.rgb, undo)) if undo else frame.rgb
        variants, quality = pdq_hash_dihedral(stored)
        for view, variant in enumerate(variants[:len(views)]):
            views[view].append(FrameHash(variant, quality, float(frame.time_s)))
    return [tuple(view) for view in views]


def hash_item(item: Item) -> ItemHashes:
    """SHA-256 and MD5 (from the item) plus PDQ for decoded still images and vPDQ for decoded
    video and animated images."""
    kind = item.kind
    if kind not in ("image", "video"):
        return ItemHashes(kind, item.sha256, item.md5, pdq_note=f"no PDQ for {kind} items")
    if not item.screenable or not item.frames:
        reason = str(item.decode_error) if item.decode_error else "item was not decoded"
        return ItemHashes(kind, item.sha256, item.md5,
                          pdq_note=f"no PDQ: the item could not be decoded ({reason})")
    animated = kind == "image" and len(item.frames) > 1
    if kind == "image" and not animated:
        pdq, dihedral = pdq_dihedral(item.frames[0].rgb)
        note = None if pdq.usable else (
            f"PDQ quality {pdq.quality} < {PDQ_MIN_QUALITY}: too little structure to match by PDQ")
        return ItemHashes(kind, item.sha256, item.md5, pdq=pdq, dihedral=dihedral, pdq_note=note)
    frames, *turned = _frame_views(item.frames, item.rotation_deg,
                                   len(DIHEDRAL_VARIANTS) if animated else 1 + len(VIDEO_TURNS))
    usable = sum(f.quality >= PDQ_MIN_QUALITY for f in frames)
    what = "animation" if animated else "video"
    note = None if usable else (
        f"no frame has PDQ quality >= {PDQ_MIN_QUALITY}: the {what} cannot match by PDQ")
    return ItemHashes(kind, item.sha256, item.md5, frames=frames, pdq_note=note,
                      turned_frames=tuple(turned))


# --- hash values as users type them -------------------------------------------------------


def check_hex(name: str, value: str, length: int) -> str:
    """``value`` as lower-case hex of ``length`` characters, or :class:`BankError` saying
    what a user must fix."""
    text = value.strip().lower()
    if len(text) != length or not _HEX_RE.match(text):
        raise BankError(f"malformed {name} value {value[:80]!r}: expected {length} hex "
                        f"characters")
    return text


def parse_vpdq(value: str) -> tuple[FrameHash, ...]:
    """Parse a vPDQ signal: a JSON list of ``"hex,quality,seconds"`` strings (ThreatExchange)."""
    try:
        items = json.loads(value)
    except json.JSONDecodeError as exc:
        raise BankError(f"malformed vpdq value: not a JSON list ({exc.msg})") from None
    if not isinstance(items, list) or not items:
        raise BankError("malformed vpdq value: expected a non-empty JSON list of "
                        "\"hex,quality,seconds\" strings")
    frames = []
    for raw in items:
        parts = raw.split(",") if isinstance(raw, str) else []
        try:
            hex_value, quality, time_s = parts
            frame = FrameHash(check_hex("pdq", hex_value, PDQ_HEX_LEN), int(quality), float(time_s))
        except (ValueError, BankError):
            raise BankError(f"malformed vpdq frame {str(raw)[:100]!r}: expected "
                            f"\"<64 hex>,<quality 0-100>,<seconds>\"") from None
        if not 0 <= frame.quality <= 100 or frame.time_s < 0:
            raise BankError(f"malformed vpdq frame {raw!r}: quality must be 0-100 and time >= 0")
        frames.append(frame)
    return tuple(frames)


def serialize_vpdq(frames: Sequence[FrameHash]) -> str:
    """The ThreatExchange serialisation of a vPDQ signal."""
    return json.dumps([f.to_vpdq() for f in frames], separators=(",", ":"))
