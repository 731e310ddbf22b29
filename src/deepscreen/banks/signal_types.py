"""The kinds of hash a bank holds, one class each, after python-threatexchange's SignalType.

Each type knows everything about its values: the content it can describe, how a value is
written and checked, how two values compare, which of an item's hashes it banks (and the
quality below which it refuses one), and its names in ThreatExchange exchange files. Nothing
else in Deepscreen branches on a hash type's name: code asks the type.

Adding a hash type is one subclass here, registered in :data:`SIGNAL_TYPES`, plus the index
the matcher searches it with (:mod:`.cache`, :mod:`.matcher`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..errors import BankError
from .entries import NewEntry
from .hashing import (
    PDQ_HEX_LEN,
    PDQ_MIN_QUALITY,
    ItemHashes,
    PdqHash,
    check_hex,
    hamming,
    parse_vpdq,
    serialize_vpdq,
)
from .vpdq import DEFAULT_COMPARED_MATCH_PERCENT, DEFAULT_QUERY_MATCH_PERCENT, match_videos


class SignalType(ABC):
    """One kind of hash value."""

    name: ClassVar[str]
    # Content a value of this type can describe ("photo", "video"); empty: any file.
    content_types: ClassVar[frozenset[str]] = frozenset()
    # ThreatExchange signal type names read as this type, with the content each implies.
    exchange_names: ClassVar[dict[str, str | None]] = {}
    exact: ClassVar[bool] = False  # values match only when equal

    @abstractmethod
    def normalize(self, value: str) -> str:
        """The canonical form of ``value``; :class:`BankError` saying what is wrong if it is
        malformed."""

    @abstractmethod
    def from_item(self, hashes: ItemHashes) -> list[tuple[str, dict[str, Any]]]:
        """The values of this type to bank for an item, each with metadata of its own;
        values too weak to match reliably (a flat picture's PDQ) are left out."""

    @abstractmethod
    def matches(self, a: str, b: str, threshold: int) -> bool:
        """Whether two canonical values match (``threshold``: the bank's PDQ distance)."""

    @abstractmethod
    def query(self, value: str) -> ItemHashes:
        """An item that has only this value, to look it up in the banks."""

    def export_name(self, metadata: dict[str, Any]) -> str:
        """This type's ThreatExchange name for an entry with ``metadata``."""
        return self.name


class Digest(SignalType):
    """A cryptographic digest of the file's bytes: matches only the identical file."""

    exact: ClassVar[bool] = True
    hex_length: ClassVar[int]

    def normalize(self, value: str) -> str:
        return check_hex(self.name, value, self.hex_length)

    def matches(self, a: str, b: str, threshold: int) -> bool:
        return a == b


class Sha256(Digest):
    name = "sha256"
    hex_length = 64
    # ThreatExchange has no SHA-256 type: ours, by name.
    exchange_names: ClassVar[dict[str, str | None]] = {"sha256": None}

    def from_item(self, hashes: ItemHashes) -> list[tuple[str, dict[str, Any]]]:
        return [(hashes.sha256, {})] if hashes.sha256 else []

    def query(self, value: str) -> ItemHashes:
        return ItemHashes(kind="unknown", sha256=self.normalize(value), md5="")


class Md5(Digest):
    name = "md5"
    hex_length = 32
    exchange_names: ClassVar[dict[str, str | None]] = {"md5": None, "video_md5": "video",
                                                        "photo_md5": "photo"}

    def from_item(self, hashes: ItemHashes) -> list[tuple[str, dict[str, Any]]]:
        return [(hashes.md5, {})] if hashes.md5 else []

    def query(self, value: str) -> ItemHashes:
        return ItemHashes(kind="unknown", sha256="", md5=self.normalize(value))

    def export_name(self, metadata: dict[str, Any]) -> str:
        return "video_md5" if metadata.get("content_type") == "video" else self.name


class Pdq(SignalType):
    """Meta's PDQ perceptual hash of a picture: near copies are within a Hamming distance."""

    name = "pdq"
    content_types: ClassVar[frozenset[str]] = frozenset({"photo"})
    exchange_names: ClassVar[dict[str, str | None]] = {"pdq": "photo"}
    min_quality: ClassVar[int] = PDQ_MIN_QUALITY

    def normalize(self, value: str) -> str:
        return check_hex(self.name, value, PDQ_HEX_LEN)

    def from_item(self, hashes: ItemHashes) -> list[tuple[str, dict[str, Any]]]:
        pdq = hashes.pdq
        if pdq is None or pdq.quality < self.min_quality:
            return []
        return [(pdq.hex, {"quality": pdq.quality})]

    def matches(self, a: str, b: str, threshold: int) -> bool:
        return hamming(a, b) <= threshold

    def query(self, value: str) -> ItemHashes:
        # A submitted PDQ has no quality attached; treat it as usable (the submitter vouches).
        return ItemHashes(kind="image", sha256="", md5="", pdq=PdqHash(self.normalize(value), 100))


class Vpdq(SignalType):
    """Meta's vPDQ: the PDQ hash of sampled video frames, matched by the share of frames."""

    name = "vpdq"
    content_types: ClassVar[frozenset[str]] = frozenset({"video"})
    exchange_names: ClassVar[dict[str, str | None]] = {"vpdq": "video"}

    def normalize(self, value: str) -> str:
        return serialize_vpdq(parse_vpdq(value))

    def from_item(self, hashes: ItemHashes) -> list[tuple[str, dict[str, Any]]]:
        return [(serialize_vpdq(hashes.frames), {})] if hashes.frames else []

    def matches(self, a: str, b: str, threshold: int) -> bool:
        return match_videos(list(parse_vpdq(a)), list(parse_vpdq(b)), threshold).matches(
            DEFAULT_QUERY_MATCH_PERCENT, DEFAULT_COMPARED_MATCH_PERCENT)

    def query(self, value: str) -> ItemHashes:
        return ItemHashes(kind="video", sha256="", md5="", frames=parse_vpdq(value))


# Every hash type, in the order an item's entries are made and exported.
SIGNAL_TYPES: dict[str, SignalType] = {t.name: t for t in (Pdq(), Vpdq(), Md5(), Sha256())}
EXCHANGE_NAMES: dict[str, tuple[SignalType, str | None]] = {
    exchange: (t, content) for t in SIGNAL_TYPES.values()
    for exchange, content in t.exchange_names.items()}


def signal_type(name: str) -> SignalType:
    """The hash type called ``name``; :class:`BankError` listing the known ones otherwise."""
    found = SIGNAL_TYPES.get(name)
    if found is None:
        raise BankError(f"unknown signal type {name!r}; use one of {', '.join(SIGNAL_TYPES)}")
    return found


def normalize_value(name: str, value: str) -> str:
    """Check a hash value for its type and return its canonical form."""
    return signal_type(name).normalize(value)


def entries_for(hashes: ItemHashes, metadata: dict[str, Any] | None = None) -> list[NewEntry]:
    """The bank entries for an item's hashes: every type's values, each with ``metadata``,
    its own (a PDQ's quality) and the content type the item is.

    The one place that decides what of an item goes into a bank: the CLI's ``bank add``,
    ``deepscreen hash``'s CSV, a reviewer's confirmation and a hash submission all use it.
    """
    content = {"image": "photo", "video": "video", "audio": "audio"}.get(hashes.kind)
    base = {**({"content_type": content} if content else {}), **(metadata or {})}
    return [NewEntry(t.name, value, {**base, **own})
            for t in SIGNAL_TYPES.values() for value, own in t.from_item(hashes)]
