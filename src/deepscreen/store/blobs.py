"""Content-addressed blob store on local disk: the quarantined (and pending) items' bytes.

A blob is named by its SHA-256 and written crash-safely: to a temporary file in the same
folder, flushed and fsynced, renamed into place, and the folder fsynced so the rename itself
survives a power cut. Only then does :meth:`BlobStore.put_stream` return, so a caller that
acknowledges an upload after it can promise the bytes are on disk.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import DeepscreenError

_CHUNK = 1 << 20
_KEY = re.compile(r"^[0-9a-f]{64}$")


class BlobError(DeepscreenError):
    """A blob could not be written, read or was asked for by a malformed key."""


class BlobTooLarge(BlobError):
    """The stream was longer than the limit it was staged with (nothing was kept)."""


@dataclass(frozen=True)
class StoredBlob:
    """What :meth:`BlobStore.put_stream` wrote: the key (SHA-256), its MD5 and size."""

    key: str
    md5: str
    size: int


class StagedBlob:
    """An upload written and fsynced but not yet under its content address.

    It holds the lock on its temporary file until it is committed or discarded, so a
    process starting beside it (:meth:`BlobStore.clean_incoming`) leaves it alone.
    """

    def __init__(self, store: BlobStore, tmp: Path, blob: StoredBlob, lock_fd: int) -> None:
        self._store, self._tmp, self.blob, self._lock_fd = store, tmp, blob, lock_fd

    def commit(self) -> StoredBlob:
        """Rename into place and fsync the folders: from here on the blob survives a crash."""
        try:
            self._store._commit(self._tmp, self.blob.key)
        finally:
            self._release()
        return self.blob

    def discard(self) -> None:
        self._tmp.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


class BlobStore:
    """Blobs under ``root/ab/cd/<sha256>``; two levels of fan-out keep folders small."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._incoming = self.root / "incoming"
        self._incoming.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise BlobError(f"not a blob key (64 lowercase hex characters): {key!r}")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_bytes(self, data: bytes) -> StoredBlob:
        """Store ``data`` durably; see :meth:`put_stream`."""
        return self.put_stream(io.BytesIO(data))

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> StoredBlob:
        """Copy ``stream`` into the store; durable when this returns (stage, then commit)."""
        return self.stage(stream, max_bytes).commit()

    def stage(self, stream: BinaryIO, max_bytes: int | None = None) -> StagedBlob:
        """Copy ``stream`` to a fsynced temporary file, hashing as it goes.

        The slow part of storing an upload, done before :meth:`StagedBlob.commit` (a rename),
        so a caller can commit under a short lock. Raises :class:`BlobError` when the stream
        is longer than ``max_bytes`` (nothing is kept) or the disk write fails.
        """
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self._incoming, prefix="upload-", suffix=".part")
        tmp = Path(tmp_name)
        # A second descriptor holds an exclusive lock for the file's whole life as a partial
        # upload: a lock dies with its process, so a locked .part is being written right now
        # and an unlocked one was left by a crash.
        lock_fd = os.open(tmp, os.O_RDONLY)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(f"item is more than {max_bytes:,} bytes")
                    sha256.update(chunk)
                    md5.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise BlobError(f"cannot store blob: {exc.strerror or exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            os.close(lock_fd)
            raise
        blob = StoredBlob(key=sha256.hexdigest(), md5=md5.hexdigest(), size=size)
        return StagedBlob(self, tmp, blob, lock_fd)

    def _commit(self, tmp: Path, key: str) -> None:
        final = self.path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            # Same bytes under the same name: replacing an existing copy is harmless.
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            _fsync_dir(final.parent.parent)
            _fsync_dir(self.root)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise BlobError(f"cannot store blob {key}: {exc.strerror or exc}") from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except OSError as exc:
            raise BlobError(f"blob {key} is not readable: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> bool:
        """Remove a blob; ``False`` if it was not there. The removal is made durable too."""
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def stored_keys(self) -> list[str]:
        """Every stored key (for consistency checks; walks the whole tree)."""
        return sorted(p.name for p in self.root.glob("??/??/*") if _KEY.match(p.name))

    def clean_incoming(self) -> int:
        """Delete partial uploads a crash left behind (never acknowledged, so never needed),
        whatever their age; returns how many. A partial upload that another process sharing
        this folder is writing right now holds its lock and is left alone."""
        removed = 0
        for leftover in self._incoming.glob("upload-*.part"):
            try:
                fd = os.open(leftover, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                leftover.unlink(missing_ok=True)
                removed += 1
            except BlockingIOError:
                pass  # a live writer holds it
            finally:
                os.close(fd)
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
