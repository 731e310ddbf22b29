"""The pipeline every interface calls: open -> decode -> signals -> policy -> report.

An archive (ZIP, TAR, GZ, PDF) is one more item with a report of its own, whose members are
screened through the same pipeline as items of their own (``archive.zip!member``, nested
``a.zip!inner.zip!x.jpg``) and reported under it; its verdict is at least the most severe
of theirs.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from fnmatch import fnmatch
from pathlib import Path

from .config import ScanConfig
from .errors import DeepscreenError, MediaError
from .findings import Finding
from .media import UNKNOWN, Frame, FrameListener, Item, Source, decode, open_media
from .media.archive import iter_members
from .media.archive_tree import Entry
from .policy import MemberVerdict, Policy
from .report import Report
from .signals import Signal, available_signals

log = logging.getLogger(__name__)

MEDIA_SIGNAL_VERSION = "1"

# Refusals for exceeding a resource limit (decompression bombs and the like): only signals
# with ``runs_on_refused`` look at such an item at all. (An item over max_bytes is not read
# at all; signals see that themselves.)
REFUSED_CODES = frozenset({
    "too-many-pixels", "too-many-frames", "too-long", "metadata-too-large",
    "archive-bomb", "archive-too-many-members", "archive-too-large", "archive-too-deep",
    "pdf-too-many-pages",
})


class Scanner:
    """A configured screening engine: signals built once, reused for every item.

    Build one per process and call :meth:`scan` for each item; it is not thread-safe
    (signals may hold model sessions).
    """

    def __init__(self, config: ScanConfig | None = None, policy: Policy | None = None) -> None:
        self.config = config or ScanConfig()
        self.policy = policy or Policy.default()
        registry = available_signals()
        wanted = (self.config.signals if self.config.signals is not None
                  else default_signals(registry))
        unknown = [name for name in wanted if name not in registry]
        if unknown:
            raise DeepscreenError(f"unknown signal(s): {', '.join(unknown)}; "
                                  f"available: {', '.join(registry)}")
        self.signals: list[Signal] = [registry[name](self.config) for name in wanted]

    def scan(self, source: Source | Item, name: str | None = None) -> Report:
        """Screen one item: a path, bytes, a binary stream or an already opened :class:`Item`.

        An archive's report holds its members' reports (``Report.members``)."""
        item = source if isinstance(source, Item) else open_media(source, self.config.limits, name)
        try:
            return self._scan_item(item)
        finally:
            item.close()

    def _scan_item(self, item: Item) -> Report:
        started = time.perf_counter()
        decode(item, self._listeners(item))
        members: list[Report] = []
        stopped = None  # a bound of the archive tree was hit: the archive is not fully screened
        if item.archive is not None:
            members, stopped = self._scan_members(item)
        problem = item.decode_error or stopped
        findings: list[Finding] = []
        error = None
        if problem is not None:
            error = {"code": problem.code, "message": str(problem)}
            findings.append(_media_finding(problem))
        if item.archive is not None:
            findings.append(_archive_finding(item))
        for signal in self.signals:
            findings.append(self._run_signal(signal, item))
        unsupported = problem is not None and problem.code == "unsupported-type"
        verdict = self.policy.decide(
            findings, item.kind,
            unscannable=str(problem) if problem is not None and not unsupported else None,
            unsupported=str(problem) if unsupported else None,
            members=[MemberVerdict(m.item.source, m.verdict) for m in members])
        return Report(item=item.describe(), findings=tuple(findings), verdict=verdict,
                      policy=self.policy.name, error=error,
                      elapsed_ms=(time.perf_counter() - started) * 1000, members=tuple(members))

    def _scan_members(self, archive: Item) -> tuple[list[Report], MediaError | None]:
        """Each member of an opened archive, screened as an item of its own, in order.

        Members are read into memory one at a time and released once screened. A bound
        shared by the whole tree (entries, bytes, time) stops the screening: the members
        screened so far keep their reports, and the error says why the rest were not.
        """
        assert archive.nesting is not None
        tree = archive.nesting.tree
        reports: list[Report] = []
        try:
            for entry, data in iter_members(archive):
                reports.append(self.scan(self._member_item(archive, entry, data)))
                if tree.stopped is not None:  # hit inside that member (a nested archive)
                    break
        except MediaError as exc:
            return reports, exc
        return reports, tree.stopped

    def _member_item(self, archive: Item, entry: Entry, data: bytes | MediaError) -> Item:
        assert archive.nesting is not None
        source = f"{archive.source}!{entry.name}"
        nesting = archive.nesting.inside(archive, entry.name)
        if isinstance(data, MediaError):  # not readable: a report that says why
            return Item(source=source, media_type=UNKNOWN, size=entry.size or 0, sha256="",
                        md5="", limits=archive.limits, decode_error=data, decoded=True,
                        nesting=nesting)
        member = open_media(data, archive.limits, name=source)
        member.nesting = nesting
        return member

    def _listeners(self, item: Item) -> FrameListener | None:
        """The signals that want video frames while decoding runs, as one listener."""
        if item.decoded or item.kind != "video":
            return None
        wanted = []
        for signal in self.signals:
            if item.kind in signal.kinds:
                try:
                    listener = signal.prefetch(item)
                except Exception:  # an optimisation only: inspect() still does the work
                    log.error("signal %s prefetch failed: %s", signal.name, traceback.format_exc())
                    continue
                if listener is not None:
                    wanted.append(listener)
        return _FanOut(wanted) if wanted else None

    def _run_signal(self, signal: Signal, item: Item) -> Finding:
        if item.kind not in signal.kinds:
            return Finding.abstain(signal.name, signal.version, f"does not handle {item.kind}")
        problem = item.decode_error
        if problem is not None and problem.code in REFUSED_CODES and not signal.runs_on_refused:
            return Finding.abstain(signal.name, signal.version,
                                   f"item refused before screening ({problem.code})")
        if signal.needs_pixels and not item.screenable:
            return Finding.abstain(signal.name, signal.version, "item could not be decoded")
        t0 = time.perf_counter()
        try:
            finding = signal.inspect(item)
        except Exception as exc:  # a signal bug must not crash a scan or silently allow an item
            log.error("signal %s failed on %s: %s", signal.name, item.source,
                      traceback.format_exc())
            finding = Finding(signal=signal.name, version=signal.version, labels=("signal-error",),
                              abstained=f"internal error: {type(exc).__name__}: {exc}",
                              summary=f"signal failed: {type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter() - t0) * 1000
        return Finding(**{**finding.__dict__, "elapsed_ms": elapsed})

    def close(self) -> None:
        for signal in self.signals:
            signal.close()

    def __enter__(self) -> Scanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _media_finding(problem: MediaError) -> Finding:
    """Why the item (or part of an archive) was not screened, as a finding."""
    labels = ["unscannable", f"unscannable:{problem.code}"]
    if problem.code == "unsupported-type":
        labels.insert(0, "unsupported")
    return Finding(signal="media", version=MEDIA_SIGNAL_VERSION, labels=tuple(labels),
                   summary=str(problem), evidence={"code": problem.code, "message": str(problem)})


def _archive_finding(item: Item) -> Finding:
    """What an archive holds, as a finding: labels a policy can act on, the entries as
    evidence. Members' own findings are in their reports."""
    assert item.archive is not None
    info = item.archive.describe()
    labels = [f"archive:{info['format']}"]
    types = {e.type for e in item.archive.entries}
    if info["encrypted"]:
        labels.append("archive-encrypted")
    if types & {"symlink", "hardlink"}:
        labels.append("archive-links")
    if info["unsafe_names"]:
        labels.append("archive-unsafe-names")
    listing = item.archive_listing
    summary = (f"{info['entries']} entries: {info['files']} screened as members"
               + (f", {info['skipped_total']} not screened (links, devices, repeats)"
                  if info["skipped_total"] else "")
               + (f", {len(info['unsafe_names'])} with names that escape the folder"
                  if info["unsafe_names"] else ""))
    return Finding(signal="archive", version=MEDIA_SIGNAL_VERSION, labels=tuple(labels),
                   summary=summary, evidence={**info, "listing": listing[:200],
                                              "listing_total": len(listing)})


def default_signals(registry: dict[str, type[Signal]] | None = None) -> tuple[str, ...]:
    """The signals a scanner runs when the configuration names none: every registered
    signal that is enabled by default."""
    registry = available_signals() if registry is None else registry
    return tuple(name for name, cls in registry.items() if cls.enabled_by_default)


class _FanOut:
    """Hands every decoded frame to several listeners."""

    def __init__(self, listeners: list[FrameListener]) -> None:
        self.listeners = listeners

    def frame(self, frame: Frame) -> None:
        for listener in self.listeners:
            listener.frame(frame)

    def restart(self) -> None:
        for listener in self.listeners:
            listener.restart()

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()


def iter_files(paths: Iterable[str | os.PathLike[str]],
               exclude: Sequence[str] = ()) -> Iterator[Path]:
    """Expand folders recursively, sorted; pass files through.

    Hidden files and folders are screened like any other: an upload gateway that skipped
    ``.secret.jpg`` would be trivially bypassed. ``exclude`` holds glob patterns matched
    against each path (as given or found) and against its name; an excluded folder is not
    entered.
    """
    def excluded(path: Path) -> bool:
        return any(fnmatch(str(path), pattern) or fnmatch(path.name, pattern)
                   for pattern in exclude)

    for raw in paths:
        path = Path(raw)
        if excluded(path):
            continue
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not excluded(Path(root) / d))
                for file in sorted(files):
                    if not excluded(Path(root) / file):
                        yield Path(root) / file
        else:
            yield path


# --- parallel scanning: one Scanner per worker process, built once ---------------------------

_worker_scanner: Scanner | None = None


def _init_worker(config: ScanConfig, policy: Policy) -> None:
    global _worker_scanner
    _worker_scanner = Scanner(config, policy)


def _scan_in_worker(path: str) -> Report | MediaError:
    assert _worker_scanner is not None
    try:
        return _worker_scanner.scan(path)
    except MediaError as exc:
        return exc


def scan_paths(paths: Iterable[Path], config: ScanConfig | None = None,
               policy: Policy | None = None, workers: int = 1
               ) -> Iterator[tuple[Path, Report | MediaError]]:
    """Screen many files, in order, with ``workers`` processes; errors are yielded, not raised."""
    config = config or ScanConfig()
    policy = policy or Policy.default()
    paths = list(paths)
    if workers <= 1 or len(paths) < 2:
        with Scanner(config, policy) as scanner:
            for path in paths:
                try:
                    yield path, scanner.scan(path)
                except MediaError as exc:
                    yield path, exc
        return
    # Build one scanner here first: a configuration error (unknown signal, bad option) then
    # raises a clear DeepscreenError instead of breaking the pool in every worker.
    Scanner(config, policy).close()
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(config, policy)) as pool:
        yield from zip(paths, pool.map(_scan_in_worker, [str(p) for p in paths], chunksize=4),
                       strict=True)


_default_scanner: Scanner | None = None


def scan(source: Source, *, policy: Policy | str | os.PathLike[str] | None = None,
         config: ScanConfig | None = None, name: str | None = None) -> Report:
    """Screen one item with the default configuration (or the one given) and return its report.

    ``source`` is a path, bytes or a binary stream. A file that cannot be decoded still gets
    a report, with the policy's ``unscannable`` verdict; only an unreadable path raises
    :class:`~deepscreen.errors.MediaError`.
    """
    global _default_scanner
    if policy is not None and not isinstance(policy, Policy):
        policy = Policy.load(policy)
    if policy is None and config is None:
        if _default_scanner is None:
            _default_scanner = Scanner()
        return _default_scanner.scan(source, name=name)
    with Scanner(config, policy) as scanner:
        return scanner.scan(source, name=name)
