"""An archive's data model: its entries, the bounds shared by a tree of nested archives, and
what a container reader provides. The readers (:mod:`.archive`, :mod:`.pdf`) build on it.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import MediaError
from .limits import Limits

if TYPE_CHECKING:
    from .item import Item

EntryType = Literal["file", "dir", "symlink", "hardlink", "device", "fifo", "other"]

# A member smaller than this is never called a bomb for its ratio: a kilobyte of zeros
# compresses 100x and harms nobody. Bombs are about volume.
RATIO_FLOOR_BYTES = 1 << 20
CHUNK = 1 << 20
# The most one read of a compressed stream asks for at once: member data is read in CHUNK
# pieces; only TAR's long-name and PAX headers come whole, and real ones are kilobytes.
MAX_SINGLE_READ = 64 << 20
# A ZIP central directory larger than this per entry allowed is refused before zipfile parses
# it (each entry is 46 bytes plus its name, extra field and comment; real ones average ~100).
MAX_DIRECTORY_BYTES_PER_ENTRY = 4096
MAX_NAME_CHARS = 1024  # a listing name longer than this is cut (names are only labels)

SKIP_REASONS = {
    "dir": "a folder (its files are listed on their own)",
    "symlink": "a symbolic link: never followed",
    "hardlink": "a hard link: never followed",
    "device": "a device entry: not content",
    "fifo": "a FIFO: not content",
    "other": "not a regular file",
}


@dataclass(frozen=True)
class Entry:
    """One entry of an archive as it declares itself, before anything is decompressed."""

    name: str
    type: EntryType
    size: int | None  # declared uncompressed size; None when only decompressing tells
    compressed_size: int | None = None
    encrypted: bool = False
    handle: Any = field(default=None, compare=False, repr=False)  # the reader's own reference
    same_as: str | None = None  # the same content as that earlier entry (a PDF image reused)

    @property
    def listed_name(self) -> str:
        name = self.name[:MAX_NAME_CHARS]
        return name + "/" if self.type == "dir" and not name.endswith("/") else name

    @property
    def skip_reason(self) -> str | None:
        """Why this entry is listed but not screened, or None for a file to screen."""
        if self.same_as is not None:
            return f"the same image as {self.same_as}: screened once"
        return None if self.type == "file" else SKIP_REASONS[self.type]

    @property
    def unsafe_name(self) -> bool:
        """An extracting tool would write this entry outside its folder (path traversal)."""
        name = self.name.replace("\\", "/")
        return (name.startswith("/") or (len(name) > 1 and name[1] == ":")
                or ".." in posixpath.normpath(name).split("/"))


@dataclass
class ArchiveTree:
    """The bounds one top-level item and every archive nested in it share."""

    limits: Limits
    deadline: float
    entries: int = 0
    bytes: int = 0
    stopped: MediaError | None = None  # a tree-wide bound was hit: screen nothing more

    @classmethod
    def root(cls, limits: Limits) -> ArchiveTree:
        return cls(limits, time.monotonic() + limits.archive_timeout_s)

    def check_time(self) -> None:
        if self.stopped is None and time.monotonic() > self.deadline:
            self.stopped = MediaError(
                "archive-timeout", f"screening the archive took longer than "
                                   f"{self.limits.archive_timeout_s:g} s (archive_timeout_s)")
        if self.stopped is not None:
            raise self.stopped

    def take_entries(self, count: int) -> None:
        if self.entries + count > self.limits.archive_max_members:
            self.stopped = MediaError(
                "archive-too-many-members",
                f"the archive holds more than {self.limits.archive_max_members:,} entries "
                f"in all (archive_max_members)")
            raise self.stopped
        self.entries += count

    def take_bytes(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.limits.archive_max_total_bytes:
            self.stopped = MediaError(
                "archive-too-large",
                f"the archive's members add up to more than "
                f"{self.limits.archive_max_total_bytes:,} bytes uncompressed "
                f"(archive_max_total_bytes)")
            raise self.stopped

    def room_for(self, declared: int) -> None:
        """Refuse an archive whose declared total does not fit what is left of the budget."""
        if self.bytes + declared > self.limits.archive_max_total_bytes:
            self.stopped = MediaError(
                "archive-too-large",
                f"the archive declares {declared:,} bytes uncompressed, over what is left of "
                f"the limit of {self.limits.archive_max_total_bytes:,} (archive_max_total_bytes)")
            raise self.stopped


@dataclass(frozen=True)
class Nesting:
    """Where an item sits: the tree's bounds, its depth and the archives around it."""

    tree: ArchiveTree
    depth: int = 0  # 0: the item given to the scanner
    path: tuple[str, ...] = ()  # member names from the outermost archive down to this item
    ancestors: tuple[str, ...] = ()  # sha256 of every enclosing archive (quines)

    def inside(self, archive: Item, member: str) -> Nesting:
        return Nesting(self.tree, self.depth + 1, (*self.path, member),
                       (*self.ancestors, archive.sha256))


class ArchiveReader(Protocol):
    """What every container format provides: its entries, and one member's bytes."""

    format: str

    def entries(self) -> list[Entry]: ...

    def read(self, entry: Entry) -> bytes: ...

    def close(self) -> None: ...


@dataclass
class ArchiveContents:
    """An opened archive: its reader and its entries, as ``Item.archive`` holds them."""

    reader: ArchiveReader
    entries: list[Entry]

    @property
    def to_screen(self) -> list[Entry]:
        return [e for e in self.entries if e.skip_reason is None]

    def describe(self) -> dict[str, Any]:
        skipped = [{"name": e.listed_name, "reason": e.skip_reason}
                   for e in self.entries if e.skip_reason is not None and e.type != "dir"]
        # The listing: readers that understand the archive's layout (a tool's workspace) use
        # Item.archive_listing; the report keeps the first entries as evidence.
        return {
            "format": self.reader.format,
            "entries": len(self.entries),
            "files": len(self.to_screen),
            "encrypted": sum(e.encrypted for e in self.entries),
            "skipped": skipped[:100],
            "skipped_total": len(skipped),
            "unsafe_names": [e.listed_name for e in self.entries if e.unsafe_name][:100],
        }
