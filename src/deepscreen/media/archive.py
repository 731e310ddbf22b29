"""Archives (ZIP, TAR plain or compressed, single-file GZ/BZ2/XZ) and PDF: list, then read
members into memory one at a time, within bounds.

Nothing is ever written to disk, so a member's name (``../../etc/passwd``, an absolute path)
is only a label: it is kept as stored for the report and flagged when a tool extracting the
archive would have written outside its folder. Symbolic and hard links, devices and FIFOs
are listed but not screened, each with the reason.

Every bound holds for the whole tree of nested archives together (:class:`ArchiveTree`):
depth, entries listed, bytes decompressed and time. Bombs are refused from what the archive
declares, before anything is decompressed: a ZIP's entry count from its end record (before
its central directory is parsed), entries whose data overlap (the non-recursive zip bomb,
where thousands of entries share one compressed kernel), a member's declared ratio, the
declared total; an archive that holds itself (a quine) by its digest. What declarations can
hide (a compressed TAR stream, a ZIP whose sizes lie) is bounded while decompressing.
"""

from __future__ import annotations

import bz2
import gzip
import io
import itertools
import logging
import lzma
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from ..errors import MediaError
from .archive_tree import (
    CHUNK,
    MAX_DIRECTORY_BYTES_PER_ENTRY,
    MAX_NAME_CHARS,
    MAX_SINGLE_READ,
    RATIO_FLOOR_BYTES,
    ArchiveContents,
    ArchiveReader,
    ArchiveTree,
    Entry,
    EntryType,
    Nesting,
)
from .pdf import PdfImages

if TYPE_CHECKING:
    from .item import Item

log = logging.getLogger(__name__)

# --- the entry points the media layer calls ---------------------------------------------------


def decode_archive(item: Item) -> None:
    """List an archive item's entries into ``item.archive`` and ``item.archive_listing``,
    refusing bombs and over-limit archives before anything is decompressed."""
    nesting = item.nesting or Nesting(ArchiveTree.root(item.limits))
    item.nesting = nesting
    tree, limits = nesting.tree, item.limits
    tree.check_time()
    if nesting.depth >= limits.archive_max_depth:
        raise MediaError("archive-too-deep",
                         f"archive nested {nesting.depth} levels deep, at the limit of "
                         f"{limits.archive_max_depth} (archive_max_depth)")
    if item.sha256 and item.sha256 in nesting.ancestors:
        raise MediaError("archive-bomb", "the archive contains itself (a zip quine): refused")
    reader = _open_reader(item, tree)
    try:
        entries = reader.entries()
        tree.take_entries(len(entries))
    except BaseException:
        reader.close()
        raise
    item.archive = ArchiveContents(reader, entries)
    item.archive_listing = [e.listed_name for e in entries]


def iter_members(item: Item) -> Iterator[tuple[Entry, bytes | MediaError]]:
    """Each entry to screen with its bytes, or the reason it cannot be read. Stops (raising
    the tree's ``stopped`` error) when a bound shared by the whole tree is hit."""
    assert item.archive is not None and item.nesting is not None
    tree, limits = item.nesting.tree, item.limits
    for entry in item.archive.to_screen:
        tree.check_time()
        if entry.encrypted:
            yield entry, MediaError("encrypted", "the member is encrypted: its content cannot be "
                                                 "screened")
            continue
        if entry.size is not None and entry.size > limits.max_bytes:
            yield entry, MediaError("too-large", f"the member declares {entry.size:,} bytes, over "
                                                 f"the limit of {limits.max_bytes:,}")
            continue
        try:
            data = item.archive.reader.read(entry)
        except MediaError as exc:
            if tree.stopped is not None:
                raise tree.stopped from exc
            yield entry, exc
            continue
        except Exception as exc:  # archive readers are fed hostile input
            # Whatever a reader lets escape, the member still gets a report. Logged, because
            # it points at a gap in the reader's own handling (as in media.decode).
            log.warning("unexpected %s reading %s!%s: %s", type(exc).__name__, item.source,
                        entry.name, exc)
            yield entry, MediaError("decode-failed",
                                    f"cannot read the member: {type(exc).__name__}: {exc}")
            continue
        yield entry, data


def _open_reader(item: Item, tree: ArchiveTree) -> ArchiveReader:
    fmt = item.media_type.format
    if fmt == "zip":
        return ZipReader(item, tree)
    if fmt == "pdf":
        return PdfImages(item, tree)
    if fmt == "tar":
        return TarReader(item, tree, None)
    if fmt in _DECOMPRESSORS:
        probe = _Guarded(_DECOMPRESSORS[fmt](item.open_stream()), item, tree, count=False)
        try:
            is_tar = _looks_like_tar(probe.read(512))
        except MediaError:
            raise
        except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
            raise MediaError("decode-failed", f"cannot decompress {fmt}: {exc}") from exc
        finally:
            probe.close()
        return TarReader(item, tree, fmt) if is_tar else SingleFileReader(item, tree, fmt)
    raise MediaError("unsupported-type", f"no reader for {fmt} archives")


def _looks_like_tar(header: bytes) -> bool:
    if len(header) < 512:
        return False
    if header[257:262] == b"ustar":
        return True
    try:  # a pre-POSIX tar: only its header checksum says so
        declared = int(header[148:156].strip(b" \x00") or b"-1", 8)
    except ValueError:
        return False
    # The checksum sums the header's bytes with its own 8-byte field counted as spaces.
    return declared == sum(header[:148]) + 8 * 0x20 + sum(header[156:512])


# --- bounded decompression --------------------------------------------------------------------

def _gzip(raw: BinaryIO) -> IO[bytes]:
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]  # stub: no IO


def _bzip2(raw: BinaryIO) -> IO[bytes]:
    return bz2.BZ2File(raw, mode="rb")


def _xz(raw: BinaryIO) -> IO[bytes]:
    return lzma.LZMAFile(raw, mode="rb")


# Each opens a decompressing reader over a raw stream; the caller closes it.
_DECOMPRESSORS: dict[str, Callable[[BinaryIO], IO[bytes]]] = {
    "gzip": _gzip, "bzip2": _bzip2, "xz": _xz}


class _Guarded(io.RawIOBase):
    """A decompressed stream that refuses to grow past the limits: the tree's byte budget
    (when ``count``) and ``archive_max_ratio`` of output to compressed input consumed."""

    def __init__(self, stream: IO[bytes], item: Item, tree: ArchiveTree,
                 count: bool = True) -> None:
        self.stream, self.item, self.tree, self.count = stream, item, tree, count
        self.raw = getattr(stream, "fileobj", None) or getattr(stream, "_fp", None)
        self.produced = 0  # furthest decompressed position reached

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.stream.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence not in (io.SEEK_SET, io.SEEK_CUR):
            raise OSError("only absolute and relative seeks")
        target = offset if whence == io.SEEK_SET else self.stream.tell() + offset
        here = self.stream.tell()
        if target <= here:
            return self.stream.seek(max(target, 0))
        # Forward in a compressed stream means decompressing up to there: do it by reading,
        # so the ratio and the budget are checked every chunk (tarfile skips member data so).
        while here < target:
            data = self.stream.read(min(CHUNK, target - here))
            if not data:
                break
            here += len(data)
            self._account(here, consumed=self._consumed())
        return here

    def read(self, size: int | None = -1) -> bytes:
        # RawIOBase.read would allocate (and zero) ``size`` bytes up front: a TAR header
        # declaring a 100 GB long name or PAX record would take the memory before any check.
        if size is None or size < 0:
            return _read_bounded(self, self.item.limits.max_bytes, "the stream")
        if size > MAX_SINGLE_READ:
            raise MediaError("archive-bomb", f"the archive asks for {size:,} bytes in one piece "
                                             f"(a header declaring a huge size): refused")
        data = self.stream.read(size)
        self._account(self.stream.tell(), consumed=self._consumed())
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def _consumed(self) -> int | None:
        try:
            return self.raw.tell() if self.raw is not None else None
        except (OSError, ValueError, AttributeError):
            return None

    def _account(self, position: int, consumed: int | None) -> None:
        if position <= self.produced:
            return
        if self.count:
            self.tree.take_bytes(position - self.produced)
        self.produced = position
        if consumed and position > RATIO_FLOOR_BYTES:
            ratio = position / consumed
            if ratio > self.item.limits.archive_max_ratio:
                raise MediaError("archive-bomb",
                                 f"{self.item.media_type.format} stream decompresses at "
                                 f"{ratio:,.0f}:1, over the limit of "
                                 f"{self.item.limits.archive_max_ratio:g}:1 (a decompression bomb)")
        if position > self.item.limits.archive_max_total_bytes:
            raise MediaError("archive-too-large", "the decompressed stream is over "
                                                  "archive_max_total_bytes")

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def _read_bounded(stream: _Readable, limit: int, what: str) -> bytes:
    """All of ``stream``, refusing more than ``limit`` bytes."""
    chunks, total = [], 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
        if total > limit:
            raise MediaError("too-large", f"{what} is more than {limit:,} bytes uncompressed")
        chunks.append(chunk)
    return b"".join(chunks)


# --- ZIP ----------------------------------------------------------------------------------------

_ZIP_LOCAL_HEADER = 30


class ZipReader:
    format = "zip"

    def __init__(self, item: Item, tree: ArchiveTree) -> None:
        self.item, self.tree = item, tree
        self.stream = item.open_stream()
        try:
            declared, directory_bytes = _zip_declared_entries(self.stream)
            left = item.limits.archive_max_members - tree.entries
            if directory_bytes > left * MAX_DIRECTORY_BYTES_PER_ENTRY:
                raise MediaError("archive-too-many-members",
                                 f"the ZIP's central directory is {directory_bytes:,} bytes, more "
                                 f"than {left:,} entries (what is left of archive_max_members) "
                                 f"can need")
            if declared is not None and tree.entries + declared > item.limits.archive_max_members:
                raise MediaError("archive-too-many-members",
                                 f"the ZIP declares {declared:,} entries, over what is left of the "
                                 f"limit of {item.limits.archive_max_members:,} (archive_max_members)")
            self.stream.seek(0)
            self.zip = zipfile.ZipFile(self.stream)
        except MediaError:
            self.stream.close()
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                struct.error, UnicodeDecodeError, NotImplementedError) as exc:
            self.stream.close()
            raise MediaError("decode-failed", f"cannot read the ZIP: {exc}") from exc

    def entries(self) -> list[Entry]:
        infos = self.zip.infolist()
        _check_zip_layout(infos, self.zip.start_dir)
        entries = [_zip_entry(info) for info in infos]
        limits = self.item.limits
        for e in entries:
            size, packed = e.size or 0, e.compressed_size or 0
            if size > RATIO_FLOOR_BYTES and size > limits.archive_max_ratio * max(packed, 1):
                raise MediaError("archive-bomb",
                                 f"member {e.listed_name!r} declares {size:,} bytes from {packed:,} "
                                 f"compressed ({size / max(packed, 1):,.0f}:1, over the limit of "
                                 f"{limits.archive_max_ratio:g}:1): a zip bomb")
        self.tree.room_for(sum(min(e.size or 0, limits.max_bytes) for e in entries
                               if e.type == "file" and not e.encrypted))
        return entries

    def read(self, entry: Entry) -> bytes:
        info: zipfile.ZipInfo = entry.handle
        try:
            with self.zip.open(info) as member:
                data = _read_bounded(member, self.item.limits.max_bytes, "the member")
        except MediaError:
            raise
        except NotImplementedError as exc:
            raise MediaError("unsupported-compression", f"cannot decompress the member: {exc}"
                             ) from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError,
                RuntimeError, struct.error) as exc:
            raise MediaError("decode-failed", f"cannot read the member: {exc}") from exc
        self.tree.take_bytes(len(data))
        return data

    def close(self) -> None:
        self.zip.close()
        self.stream.close()


def _zip_declared_entries(stream: BinaryIO) -> tuple[int | None, int]:
    """The entry count and central directory size in the ZIP's end record (ZIP64 when set),
    read before the directory is parsed: Python's zipfile builds an object for every entry
    the directory holds, whatever the count says."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    tail_start = max(0, size - (1 << 16) - 22)
    stream.seek(tail_start)
    tail = stream.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None, 0
    count = int.from_bytes(tail[at + 10:at + 12], "little")
    directory = int.from_bytes(tail[at + 12:at + 16], "little")
    if (count == 0xFFFF or directory == 0xFFFFFFFF) and at >= 20 \
            and tail[at - 20:at - 16] == b"PK\x06\x07":
        offset = int.from_bytes(tail[at - 12:at - 4], "little")
        if 0 <= offset < size:
            stream.seek(offset)
            record = stream.read(56)
            if record[:4] == b"PK\x06\x06" and len(record) >= 48:
                count = int.from_bytes(record[32:40], "little")
                directory = int.from_bytes(record[40:48], "little")
    return count, min(directory, size)


def _check_zip_layout(infos: list[zipfile.ZipInfo], central_directory: int) -> None:
    """Refuse entries whose data overlap each other or the central directory.

    In a well-formed ZIP each entry's local header and data lie apart. A non-recursive zip
    bomb points thousands of entries at one highly compressed kernel (ratios of 10^7 without
    nesting); each entry needs at least a local header plus its compressed size, so two
    entries closer than that overlap whatever their names.
    """
    spans = sorted((info.header_offset, info.compress_size, info.filename) for info in infos)
    for (offset, packed, name), (next_offset, _, next_name) in itertools.pairwise(spans):
        if next_offset < offset + _ZIP_LOCAL_HEADER + packed:
            raise MediaError("archive-bomb",
                             f"ZIP entries {name[:80]!r} and {next_name[:80]!r} overlap (a "
                             f"non-recursive zip bomb reuses one compressed kernel): refused")
    if spans:
        offset, packed, name = spans[-1]
        if offset + _ZIP_LOCAL_HEADER + packed > central_directory:
            raise MediaError("archive-bomb", f"ZIP entry {name[:80]!r} overlaps the central "
                                             f"directory: refused")


def _zip_entry(info: zipfile.ZipInfo) -> Entry:
    mode = info.external_attr >> 16 if info.create_system == 3 else 0
    if info.filename.endswith("/"):  # not info.is_dir(): it fails on an empty name (fuzz)
        kind: EntryType = "dir"
    elif stat.S_ISLNK(mode):
        kind = "symlink"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "device"
    elif stat.S_ISFIFO(mode):
        kind = "fifo"
    elif stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # no type bits: a plain file
        kind = "other"
    else:
        kind = "file"
    encrypted = bool(info.flag_bits & 0x1) or info.compress_type == 99  # 99: WinZip AES
    return Entry(info.filename, kind, info.file_size, info.compress_size, encrypted, info)


# --- TAR (plain, gz, bz2, xz) -----------------------------------------------------------------


class TarReader:
    """A TAR, read through a bounded decompressor when it is compressed. Listing decompresses
    the whole stream once (a TAR has no table of contents); reading members afterwards goes
    forward through it a second time."""

    def __init__(self, item: Item, tree: ArchiveTree, compression: str | None) -> None:
        self.item, self.tree, self.compression = item, tree, compression
        self.format = "tar" if compression is None else f"tar+{compression}"
        raw = item.open_stream()
        self.stream: Any = raw if compression is None else _Guarded(
            _DECOMPRESSORS[compression](raw), item, tree, count=False)
        try:
            self.tar = tarfile.open(fileobj=self.stream, mode="r:")  # noqa: SIM115 - closed in close()
        except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error,
                lzma.LZMAError) as exc:
            self.stream.close()
            raise MediaError("decode-failed", f"cannot read the TAR: {exc}") from exc
        except MediaError:
            self.stream.close()
            raise

    def entries(self) -> list[Entry]:
        limits = self.item.limits
        left = limits.archive_max_members - self.tree.entries
        entries: list[Entry] = []
        try:
            while (info := self.tar.next()) is not None:
                if len(entries) >= left:
                    raise MediaError("archive-too-many-members",
                                     f"the TAR holds more than the {left:,} entries left of the "
                                     f"limit of {limits.archive_max_members:,} (archive_max_members)")
                entries.append(_tar_entry(info))
                if len(entries) % 256 == 0:
                    self.tree.check_time()
        except MediaError:
            raise
        except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError,
                UnicodeDecodeError) as exc:
            raise MediaError("decode-failed", f"cannot read the TAR: {exc}") from exc
        # The listing is ours; let tarfile not keep a second copy (``members`` is the list
        # getmembers() returns, missing from the type stubs).
        self.tar.members = []  # type: ignore[attr-defined]
        self.tree.room_for(sum(min(e.size or 0, limits.max_bytes) for e in entries
                               if e.type == "file"))
        return entries

    def read(self, entry: Entry) -> bytes:
        info: tarfile.TarInfo = entry.handle
        try:
            member = self.tar.extractfile(info)
            if member is None:
                raise MediaError("decode-failed", "the member has no data")
            data = _read_bounded(member, self.item.limits.max_bytes, "the member")
        except MediaError:
            raise
        except (tarfile.TarError, OSError, EOFError, ValueError, zlib.error,
                lzma.LZMAError) as exc:
            raise MediaError("decode-failed", f"cannot read the member: {exc}") from exc
        self.tree.take_bytes(len(data))
        return data

    def close(self) -> None:
        self.tar.close()
        self.stream.close()


def _tar_entry(info: tarfile.TarInfo) -> Entry:
    if info.isdir():
        kind: EntryType = "dir"
    elif info.issym():
        kind = "symlink"
    elif info.islnk():
        kind = "hardlink"
    elif info.ischr() or info.isblk():
        kind = "device"
    elif info.isfifo():
        kind = "fifo"
    elif not info.isreg() or info.issparse():
        kind = "other"  # a GNU sparse file reads back as holes: terabytes from nothing
    else:
        kind = "file"
    return Entry(info.name, kind, info.size, None, False, info)


# --- a single compressed file (x.jpg.gz) ------------------------------------------------------


class SingleFileReader:
    """GZ, BZ2 or XZ holding one file: one member, named from the gzip header's original
    file name (its last part only) or the archive's name without its suffix."""

    def __init__(self, item: Item, tree: ArchiveTree, compression: str) -> None:
        self.item, self.tree, self.format = item, tree, compression
        self.name = _single_member_name(item, compression)

    def entries(self) -> list[Entry]:
        return [Entry(self.name, "file", None)]

    def read(self, entry: Entry) -> bytes:
        stream = _Guarded(_DECOMPRESSORS[self.format](self.item.open_stream()), self.item,
                          self.tree)
        try:
            return _read_bounded(stream, self.item.limits.max_bytes, "the compressed file")
        except MediaError:
            raise
        except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
            raise MediaError("decode-failed", f"cannot decompress: {exc}") from exc
        finally:
            stream.close()

    def close(self) -> None:
        pass


_SUFFIXES = {"gzip": (".gz", ".gzip"), "bzip2": (".bz2",), "xz": (".xz",)}


def _single_member_name(item: Item, compression: str) -> str:
    if compression == "gzip":
        with item.open_stream() as raw:
            original = _gzip_original_name(raw.read(1 << 16))
        if original:
            return original
    base = posixpath.basename(item.name.replace("\\", "/").split("!")[-1])
    for suffix in _SUFFIXES[compression]:
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return "content"


def _gzip_original_name(head: bytes) -> str | None:
    """FNAME from a gzip header (RFC 1952), its last path part, or None."""
    if len(head) < 10 or not head[3] & 0x08:
        return None
    pos = 10
    if head[3] & 0x04:  # FEXTRA
        if pos + 2 > len(head):
            return None
        pos += 2 + int.from_bytes(head[pos:pos + 2], "little")
    end = head.find(b"\x00", pos)
    if end < 0:
        return None
    name = head[pos:end].decode("latin-1").replace("\\", "/")
    return posixpath.basename(name)[:MAX_NAME_CHARS] or None
