"""Archives and compressed streams, listed and read within fixed bounds.

Used for what a tool packs: a DeepFaceLab workspace or face set zipped for sharing, a
PyTorch ``.pth`` (a ZIP with ``data.pkl``), a Keras 3 ``.keras`` (a ZIP with
``config.json``), faceswap's zlib-compressed ``.fsa`` alignments. A ZIP's entry count and
central-directory size are checked from its end record before :mod:`zipfile` parses it; a
member is read only when its declared size and compression ratio are in bounds, and never
past them; TAR headers are walked with a budget of members and bytes. Nothing is extracted
to disk.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Literal

from .buffer import FormatError

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"


@dataclass(frozen=True)
class ArchiveBounds:
    max_members: int = 100_000
    max_directory_bytes: int = 64 << 20  # ZIP central directory
    max_member_bytes: int = 64 << 20  # one member read into memory
    max_ratio: float = 200.0  # uncompressed / compressed, per member read
    max_scan_bytes: int = 512 << 20  # bytes a compressed TAR may be decompressed to list it


@dataclass
class Listing:
    kind: str  # "zip" | "tar"
    names: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # declared uncompressed sizes
    complete: bool = True
    problems: list[str] = field(default_factory=list)


def archive_kind(head: bytes | memoryview) -> str | None:
    head = bytes(head[:512])
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ\x00"):
        return "compressed-tar?"
    return None


def zip_entry_count(buf: memoryview) -> tuple[int, int]:
    """(entries, central directory bytes) from the end record, before anything is parsed."""
    tail_start = max(0, len(buf) - (65535 + 22))
    tail = bytes(buf[tail_start:])
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        raise FormatError("no ZIP end-of-central-directory record")
    entries = int.from_bytes(tail[at + 10:at + 12], "little")
    directory = int.from_bytes(tail[at + 12:at + 16], "little")
    locator = tail.rfind(_EOCD64_LOCATOR, 0, at)
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and locator >= 0:
        offset = int.from_bytes(tail[locator + 8:locator + 16], "little")
        record = bytes(buf[offset:offset + 56])
        if record[:4] == b"PK\x06\x06" and len(record) == 56:
            entries = int.from_bytes(record[32:40], "little")
            directory = int.from_bytes(record[40:48], "little")
    return entries, directory


class BoundedZip:
    """A ZIP opened only after its end record shows it is within bounds."""

    def __init__(self, buf: memoryview, bounds: ArchiveBounds) -> None:
        entries, directory = zip_entry_count(buf)
        if entries > bounds.max_members:
            raise FormatError(f"ZIP declares {entries} members (limit {bounds.max_members})")
        if directory > bounds.max_directory_bytes:
            raise FormatError(f"ZIP central directory is {directory} bytes "
                              f"(limit {bounds.max_directory_bytes})")
        self.bounds = bounds
        try:
            self.zip = zipfile.ZipFile(_ViewReader(buf))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
            # RuntimeError covers NotImplementedError: a ZIP declaring a version too new
            raise FormatError(f"unreadable ZIP: {exc}") from exc

    def listing(self) -> Listing:
        infos = self.zip.infolist()[:self.bounds.max_members]
        return Listing("zip", [i.filename for i in infos], {i.filename: i.file_size for i in infos})

    def read(self, name: str, limit: int | None = None) -> bytes:
        """One member, refused when its declared size or ratio is out of bounds."""
        cap = min(limit or self.bounds.max_member_bytes, self.bounds.max_member_bytes)
        try:
            info = self.zip.getinfo(name)
        except KeyError as exc:
            raise FormatError(f"no member {name!r}") from exc
        if info.file_size > cap:
            raise FormatError(f"member {name!r} is {info.file_size} bytes (limit {cap})")
        if info.compress_size and info.file_size / info.compress_size > self.bounds.max_ratio:
            raise FormatError(f"member {name!r} expands {info.file_size / info.compress_size:.0f}x "
                              f"(limit {self.bounds.max_ratio:.0f}x)")
        try:
            with self.zip.open(info) as member:
                data = member.read(cap + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError, zlib.error) as exc:
            raise FormatError(f"cannot read member {name!r}: {exc}") from exc
        if len(data) > cap:
            raise FormatError(f"member {name!r} holds more than its declared size")
        return data

    def close(self) -> None:
        self.zip.close()


class _ViewReader(io.RawIOBase):
    """A seekable file over a memoryview (zipfile wants a file; no copy of the archive)."""

    def __init__(self, view: memoryview) -> None:
        self.view = view
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(self.view)}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    # The ignore: typeshed's WriteableBuffer has no len() or slicing; io hands a memoryview.
    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self.view[self.pos:self.pos + len(target)]
        target[:len(chunk)] = chunk
        self.pos += len(chunk)
        return len(chunk)


class _Budget(io.RawIOBase):
    """Wraps a stream and fails once more than ``limit`` bytes have been read through it."""

    def __init__(self, inner: io.IOBase, limit: int) -> None:
        self.inner = inner
        self.limit = limit
        self.used = 0

    def readable(self) -> bool:
        return True

    # The ignore: typeshed's WriteableBuffer has no len() or slicing; io hands a memoryview.
    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.used >= self.limit:
            raise FormatError(f"archive listing stopped after {self.limit} bytes")
        data = self.inner.read(min(len(target), self.limit - self.used))
        target[:len(data)] = data
        self.used += len(data)
        return len(data)


def _decompressor(head: bytes, raw: io.RawIOBase) -> io.IOBase | None:
    if head.startswith(b"\x1f\x8b"):
        import gzip
        return gzip.GzipFile(fileobj=raw)
    if head.startswith(b"BZh"):
        import bz2
        return bz2.BZ2File(raw)
    if head.startswith(b"\xfd7zXZ\x00"):
        import lzma
        # typeshed wants an IO[bytes] here (gzip and bz2 take any readable); LZMAFile only reads.
        return lzma.LZMAFile(raw)  # type: ignore[arg-type]
    return None


def tar_listing(buf: memoryview, bounds: ArchiveBounds) -> Listing:
    """Member names of a TAR (plain, gzip, bzip2 or xz), within the member and byte budget."""
    listing = Listing("tar")
    raw = _ViewReader(buf)
    inflater = _decompressor(bytes(buf[:6]), raw)
    # A plain TAR is walked by seeking over member data; a compressed one must be inflated
    # through, within the byte budget.
    mode: Literal["r:", "r|"]
    source: io.RawIOBase | io.BufferedReader
    if inflater is None:
        mode, source = "r:", raw
    else:
        mode, source = "r|", io.BufferedReader(_Budget(inflater, bounds.max_scan_bytes))
    try:
        with tarfile.open(fileobj=source, mode=mode) as archive:
            for member in archive:
                if len(listing.names) >= bounds.max_members:
                    listing.complete = False
                    listing.problems.append(f"more than {bounds.max_members} members; listing cut")
                    break
                if member.isfile() or member.isdir():
                    name = member.name + ("/" if member.isdir() else "")
                    listing.names.append(name)
                    listing.sizes[name] = member.size
    except FormatError as exc:
        listing.complete = False
        listing.problems.append(str(exc))
    except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error) as exc:
        listing.complete = False
        listing.problems.append(f"unreadable TAR: {type(exc).__name__}: {exc}")
        if not listing.names:
            raise FormatError(f"not a readable TAR: {exc}") from exc
    finally:
        if inflater is not None:
            inflater.close()
    return listing


def tar_members(buf: memoryview, wanted: set[str], bounds: ArchiveBounds) -> dict[str, bytes]:
    """The named regular members of a plain TAR (each within ``max_member_bytes``)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BufferedReader(_ViewReader(buf)), mode="r:") as archive:
            for index, member in enumerate(archive):
                if index >= bounds.max_members or len(found) == len(wanted):
                    break
                if member.name in wanted and member.isfile() and member.size <= bounds.max_member_bytes:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[member.name] = handle.read(bounds.max_member_bytes)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise FormatError(f"cannot read TAR members: {exc}") from exc
    return found


def looks_like_zlib(head: bytes | memoryview) -> bool:
    """RFC 1950 header: deflate method, a 32K-or-smaller window, a valid check value."""
    return len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 \
        and ((head[0] << 8) | head[1]) % 31 == 0


def inflate_prefix(buf: memoryview, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a zlib stream, and whether the stream ended within them."""
    inflater = zlib.decompressobj()
    out = bytearray()
    pos, step = 0, 1 << 16
    try:
        while pos < len(buf) and len(out) < limit and not inflater.eof:
            out += inflater.decompress(bytes(buf[pos:pos + step]), limit - len(out))
            pos += step
            while inflater.unconsumed_tail and len(out) < limit:
                out += inflater.decompress(inflater.unconsumed_tail, limit - len(out))
    except zlib.error as exc:
        raise FormatError(f"not a zlib stream: {exc}") from exc
    return bytes(out), inflater.eof
