"""Gather, check and split the face sets of :mod:`train.face_sources` into the data manifest.

    python -m train.face_data extract [--set S ...]   files from the git mirrors into DATA/SET/
    python -m train.face_data check [--set S ...]     decode, detect faces, hash: DATA/.qc/SET.csv
    python -m train.face_data split                   dedupe across all sets, roles, manifest
    python -m train.face_data describe                per-set table (markdown, for train/DATA.md)

``check`` screens every file the way the scanner would see it (``deepscreen.media`` decoding,
the runtime MTCNN detector) and records its size, JPEG quality, faces and PDQ hash, so
``split`` can keep only images with a judgeable face and drop copies. Copies are looked for
across every set, the shared ones included (All-Age-Faces, the FaceForensics++ dev crops): a
photo found in two places is kept in one, so it cannot sit in training and in an evaluation
set at once. The shared sets are never changed; a copy of one of their photos is dropped from
the gathered set instead.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import manifest
from .face_sources import ALL_SOURCES, ROLE_ORDER, Source, by_set

if TYPE_CHECKING:
    from deepscreen.media.item import Frame

SHARED = manifest.DEFAULT_SHARED
# A judgeable face: the detector is sure of it and it is at least this many pixels across
# (the faces signal scores from 64 px today; smaller faces are kept for the small-face work
# and reported, and the dev suite counts what the signal abstains on).
MIN_FACE_PX = 32.0
MIN_DETECTOR_SCORE = 0.9
# PDQ distances: at most COPY_BITS the same picture (re-encoded, resized, lightly cropped);
# at most NEAR_BITS a near copy (PDQ's own match threshold is 31).
COPY_BITS = 10
NEAR_BITS = 31
MIN_PDQ_QUALITY = 50  # flatter pictures give unreliable PDQ hashes; they are matched by sha256
SHARED_LICENCES = {  # the manifest's licence column; train/DATA.md has the terms in full
    "faces-aaf": "All-Age-Faces (Cheng et al. 2019): research use",
    "faces-video-real": "MIT repositories (LivePortrait, MuseTalk example clips)",
    "faces-ffpp-c40": "FaceForensics++ terms (non-commercial research): eval only",
    "faces-ffpp-c23": "FaceForensics++ terms (non-commercial research): eval only",
}
# The shared real videos held out for the threshold, as train/config.yaml has them.
VIDEO_CALIBRATION = ("d0.mp4", "d6.mp4", "d11.mp4", "d19.mp4", "muse_sun.mp4", "s18.mp4",
                     "s32.mp4")


def data_root() -> Path:
    return Path(os.environ.get("DEEPSCREEN_DATA", manifest.DEFAULT_DATA_ROOT))


def mirror_git_dir(repo: str, mirror: Path = manifest.DEFAULT_MIRROR) -> Path:
    """The bare git directory of ``repo`` under the mirror folder (as ``fetch`` lays it)."""
    local = mirror / repo.replace("/", "+")
    for candidate in (local / "repo", local, *sorted(local.glob("*"))):
        if (candidate / "HEAD").exists() and (candidate / "objects").exists():
            return candidate
    raise FileNotFoundError(f"no git mirror of {repo} under {mirror}")


def repo_paths(git_dir: Path, commit: str) -> list[str]:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "--name-only",
                          commit], capture_output=True, check=True).stdout
    return [p.decode() for p in out.split(b"\0") if p]


def stable_rank(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``: stable sampling and role assignment."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def selected_paths(source: Source, git_dir: Path) -> list[str]:
    chosen = [p for p in repo_paths(git_dir, source.commit) if source.selects(p)]
    if source.limit is not None and len(chosen) > source.limit:
        chosen = sorted(chosen, key=lambda p: stable_rank(source.set, p))[:source.limit]
    return sorted(chosen)


def extract(source: Source, root: Path, mirror: Path = manifest.DEFAULT_MIRROR) -> int:
    """Write the source's files to ``root/SET/PATH``; returns how many were written."""
    git_dir = mirror_git_dir(source.repo, mirror)
    written = 0
    for path in selected_paths(source, git_dir):
        target = root / source.set / path
        if target.exists():
            continue
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{source.commit}:{path}"],
                              capture_output=True, check=True).stdout
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        written += 1
    return written


# --- checking ----------------------------------------------------------------------------------


@dataclass
class Check:
    """What ``check`` learned about one file."""

    path: str
    sha256: str
    width: int = 0
    height: int = 0
    format: str = ""
    jpeg_quality: int = 0  # estimated from the luminance table; 0 when not a JPEG
    faces: int = 0
    face_px: float = 0.0  # the largest face's size (shorter box side)
    detector_score: float = 0.0
    ffhq_aligned: int = 0  # eyes where FFHQ alignment (and so StyleGAN) puts them
    pdq: str = ""
    pdq_quality: int = 0
    error: str = ""


_STANDARD_LUMA = np.array([  # the JPEG standard's luminance table (Annex K), zig-zag free
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
    56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
    104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64)


def jpeg_quality(image: object) -> int:
    """The libjpeg quality whose scaled standard table best matches the file's luminance table."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return 0
    # Pillow gives the table in zig-zag order; the mean ratio is order-free, which is all
    # the estimate needs.
    luma = np.asarray(tables[0], dtype=np.float64)
    scale = float(np.mean(luma) / np.mean(_STANDARD_LUMA) * 100.0)
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return int(min(100, max(1, round(quality))))


def ffhq_aligned(landmarks: np.ndarray, width: int, height: int) -> bool:
    """Whether a square picture's eyes sit where FFHQ's alignment puts them.

    FFHQ (and every StyleGAN face trained on it) is cropped so that the eyes' midpoint is at
    (0.5, ~0.47) of the frame, level, about a quarter of the width apart. A web photo lands
    there by chance only rarely, so in a source said to mix in GAN faces this flags them.
    """
    if not width or abs(width - height) > 0.02 * max(width, height):
        return False
    left, right = landmarks[0], landmarks[1]
    mid = (left + right) / 2.0 / np.array([width, height])
    gap = float(np.hypot(*(right - left))) / width
    tilt = abs(math.degrees(math.atan2(right[1] - left[1], right[0] - left[0])))
    return bool(abs(mid[0] - 0.5) < 0.025 and abs(mid[1] - 0.47) < 0.035
                and abs(gap - 0.25) < 0.03 and tilt < 3.0)


class Checker:
    """Decode as the scanner does, detect faces with the runtime detector, hash."""

    def __init__(self, detect: bool = True) -> None:
        from deepscreen.faces.detect import FaceDetector

        self.detector = FaceDetector(min_face_px=20.0) if detect else None

    def check(self, path: Path, name: str) -> Check:
        from PIL import Image

        from deepscreen.banks.hashing import pdq_of
        from deepscreen.errors import MediaError
        from deepscreen.media import decode, open_media

        result = Check(name, manifest.sha256_file(path))
        try:
            item = decode(open_media(path))
        except MediaError as exc:
            result.error = f"{exc.code}: {exc}"
            return result
        if item.decode_error is not None or not item.frames:
            result.error = str(item.decode_error or "no frame decoded")
            return result
        if item.kind == "video":
            return self._check_video(item.frames, result)
        if item.kind != "image":
            result.error = f"not an image or video ({item.kind})"
            return result
        rgb = item.frames[0].rgb
        result.height, result.width = int(rgb.shape[0]), int(rgb.shape[1])
        with Image.open(path) as image:
            result.format = image.format or ""
            result.jpeg_quality = jpeg_quality(image) if image.format == "JPEG" else 0
        pdq = pdq_of(rgb)
        result.pdq, result.pdq_quality = pdq.hex, int(pdq.quality)
        self._faces(rgb, result)
        return result

    def _check_video(self, frames: list[Frame], result: Check) -> Check:
        """A video: its size and the largest face over five frames spread across the clip.

        Videos get no PDQ hash (copies are found by sha256 only); ``format`` is ``video``.
        """
        result.height, result.width = (int(v) for v in frames[0].rgb.shape[:2])
        result.format = "video"
        for frame in frames[::max(1, len(frames) // 5)][:5]:
            found = Check(result.path, result.sha256, result.width, result.height)
            self._faces(frame.rgb, found)
            if found.face_px > result.face_px:
                result.faces, result.face_px = found.faces, found.face_px
                result.detector_score = found.detector_score
        return result

    def _faces(self, rgb: np.ndarray, result: Check) -> None:
        if self.detector is not None:
            faces = [f for f in self.detector.detect(rgb) if f.score >= MIN_DETECTOR_SCORE]
            result.faces = len(faces)
            if faces:
                largest = max(faces, key=lambda f: f.size)
                result.face_px = round(largest.size, 1)
                result.detector_score = round(largest.score, 4)
                result.ffhq_aligned = int(ffhq_aligned(largest.landmarks_array(),
                                                       result.width, result.height))


def qc_path(root: Path, set_name: str) -> Path:
    return root / ".qc" / f"{set_name}.csv"


def read_checks(path: Path) -> dict[str, Check]:
    if not path.exists():
        return {}
    types = {f.name: f.type for f in fields(Check)}
    out = {}
    with open(path, newline="") as handle:
        for record in csv.DictReader(handle):
            values = {k: (int(v) if types[k] == "int" else float(v) if types[k] == "float" else v)
                      for k, v in record.items()}
            out[values["path"]] = Check(**values)
    return out


def write_checks(path: Path, checks: Iterable[Check]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, [f.name for f in fields(Check)], lineterminator="\n")
        writer.writeheader()
        for check in sorted(checks, key=lambda c: c.path):
            writer.writerow(asdict(check))


def check_folder(set_name: str, folder: Path, names: list[str], root: Path, detect: bool = True,
                 log_every: int = 500) -> dict[str, Check]:
    """Check ``folder/NAME`` for each name, reusing earlier results for unchanged files."""
    out_path = qc_path(root, set_name)
    known = read_checks(out_path)
    checker: Checker | None = None
    results: dict[str, Check] = {}
    for number, name in enumerate(names, 1):
        path = folder / name
        old = known.get(name)
        if old is not None and old.sha256 == manifest.sha256_file(path) and (old.pdq or old.error):
            results[name] = old
            continue
        checker = checker or Checker(detect)
        results[name] = checker.check(path, name)
        if number % log_every == 0:
            print(f"{set_name}: {number}/{len(names)} checked", file=sys.stderr, flush=True)
            write_checks(out_path, results.values())
    write_checks(out_path, results.values())
    return results


# --- the shared sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedFile:
    set: str
    folder: str  # under ../shared/data
    path: str  # under that folder
    role: str
    group: str


def shared_files(shared: Path = SHARED) -> list[SharedFile]:
    """The shared files training, calibration or development evaluation use, with their roles."""
    out: list[SharedFile] = []
    for split, role in (("train.txt", "train"), ("val.txt", "calibration")):
        for line in (shared / "faces-aaf" / "splits" / split).read_text().splitlines():
            if line.strip():
                name = line.split()[0]
                out.append(SharedFile("faces-aaf", "faces-aaf", f"images/{name}", role, name))
    for clip in sorted((shared / "video-real").glob("*.mp4")):
        role = "calibration" if clip.name in VIDEO_CALIBRATION else "train"
        out.append(SharedFile("faces-video-real", "video-real", clip.name, role, clip.stem))
    c40 = shared / "eval-dev" / "ffpp-c40-faces"
    for image in sorted(c40.glob("*/*.jpg")):
        out.append(SharedFile("faces-ffpp-c40", "eval-dev/ffpp-c40-faces",
                              str(image.relative_to(c40)), "dev-eval", image.parent.name))
    for video in sorted((shared / "eval-dev" / "ffpp-c23").glob("*.mp4")):
        out.append(SharedFile("faces-ffpp-c23", "eval-dev/ffpp-c23", video.name, "dev-eval",
                              video.stem))
    return out


def shared_rows(files: list[SharedFile], shared: Path = SHARED,
                leave_out: frozenset[tuple[str, str]] = frozenset()
                ) -> dict[str, list[manifest.Row]]:
    """Manifest rows of the shared files, except ``leave_out`` ((set, path) pairs)."""
    rows: dict[str, list[manifest.Row]] = defaultdict(list)
    for f in files:
        if (f.set, f.path) in leave_out:
            continue
        rows[f.set].append(manifest.Row(f.set, f.role, f"shared:{f.folder}", "", f.path,
                                        manifest.sha256_file(shared / f.folder / f.path),
                                        SHARED_LICENCES[f.set]))
    return rows


# --- splitting ---------------------------------------------------------------------------------


@dataclass
class Entry:
    """One candidate file in the cross-set duplicate search."""

    set: str
    path: str
    sha256: str
    pdq: str
    pdq_quality: int
    group: str
    role: str
    priority: int  # lower keeps: shared evaluation, shared training, evaluation-only, split
    mutable: bool  # a gathered file (may be dropped), not a shared one
    label: str = "real"  # a swap and the real picture it was made from are not duplicates


def role_for(source: Source, group: str) -> str:
    """The role of a whole group: cumulative shares against the group's stable rank."""
    rank, edge = stable_rank(source.set, group), 0.0
    for role in ROLE_ORDER:
        edge += source.shares.get(role, 0.0)
        if rank < edge:
            return role
    return next(role for role in reversed(ROLE_ORDER) if role in source.shares)


def judgeable(check: Check, source: Source) -> str:
    """Why a checked file is unusable, or '' when it has a judgeable face."""
    if check.error:
        return f"undecodable: {check.error}"
    if check.faces == 0:
        return "no face found"
    if check.face_px < MIN_FACE_PX:
        return f"face under {MIN_FACE_PX:.0f} px"
    if check.ffhq_aligned and any("GAN" in note for note in source.notes):
        return "FFHQ-aligned in a source known to mix in GAN faces"
    return ""


def find_duplicates(entries: list[Entry]) -> dict[int, str]:
    """Entries to drop (index -> reason) so no photo is kept twice or straddles roles.

    Byte-identical files and PDQ near copies of the same label are clustered; in a cluster that spans sets or
    roles the members of the highest-priority set and group stay and every other gathered
    member goes. Within one group of one set, near copies are kept (a person's neutral and
    smiling studio shots) and only copies (``COPY_BITS``) are thinned to one.
    """
    from deepscreen.banks.index import PdqIndex, pack_pdq

    parent = list(range(len(entries)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs: list[tuple[int, int, int]] = []  # (a, b, distance) with a < b, same label only
    first_of: dict[str, int] = {}
    for i, entry in enumerate(entries):
        j = first_of.setdefault(entry.sha256, i)
        if j != i:
            pairs.append((j, i, 0))
    hashed = [i for i, e in enumerate(entries) if e.pdq and e.pdq_quality >= MIN_PDQ_QUALITY]
    if hashed:
        index = PdqIndex.build(pack_pdq([entries[i].pdq for i in hashed]))
        for start in range(0, len(hashed), 2000):
            block = hashed[start:start + 2000]
            for hit in index.search(pack_pdq([entries[i].pdq for i in block]), NEAR_BITS):
                a, b = block[hit.query], hashed[hit.row]
                # A face swap keeps the rest of the picture, so it is a PDQ near copy of
                # its original: pairs of a real and a fake are evidence, not duplicates.
                if a < b and entries[a].label == entries[b].label:
                    pairs.append((a, b, hit.distance))
    for a, b, _ in pairs:
        parent[find(a)] = find(b)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(entries)):
        clusters[find(i)].append(i)
    drops: dict[int, str] = {}
    for members in clusters.values():
        if len(members) == 1:
            continue
        keeper = min(members, key=lambda i: (entries[i].priority, entries[i].set, entries[i].path))
        home = (entries[keeper].set, entries[keeper].group)
        for i in members:
            if entries[i].mutable and (entries[i].set, entries[i].group) != home:
                k = entries[keeper]
                drops[i] = f"near copy of {k.set}/{k.path} ({k.role})"
    # Copies inside one group: keep one of each copy pair.
    for a, b, distance in pairs:
        if distance > COPY_BITS or a in drops or b in drops:
            continue
        first, second = sorted((a, b), key=lambda i: (entries[i].priority, entries[i].path))
        if entries[second].mutable:
            drops[second] = f"copy of {entries[first].set}/{entries[first].path}"
    return drops


def held_out_copies(entries: list[Entry]) -> dict[int, str]:
    """Shared held-out photos (calibration, dev-eval) that copy a shared training photo.

    The shared sets' own splits are fixed, but a calibration photo that is a copy of a
    training photo (All-Age-Faces has such pairs) measures nothing: it is left out of the
    manifest's held-out rows, and the manifest, not the split file, is the list to use.
    """
    from deepscreen.banks.index import PdqIndex, pack_pdq

    train = [i for i, e in enumerate(entries) if not e.mutable and e.role == "train"]
    held = [i for i, e in enumerate(entries) if not e.mutable and e.role != "train"]
    out: dict[int, str] = {}
    by_sha = {entries[i].sha256: i for i in train}
    for i in held:
        if entries[i].sha256 in by_sha:
            out[i] = f"identical to {entries[by_sha[entries[i].sha256]].path} (train)"
    hashed = [i for i in train if entries[i].pdq_quality >= MIN_PDQ_QUALITY]
    queries = [i for i in held if i not in out and entries[i].pdq_quality >= MIN_PDQ_QUALITY]
    if hashed and queries:
        index = PdqIndex.build(pack_pdq([entries[i].pdq for i in hashed]))
        for hit in index.search(pack_pdq([entries[i].pdq for i in queries]), COPY_BITS):
            i, j = queries[hit.query], hashed[hit.row]
            if entries[i].label == entries[j].label and entries[i].set == entries[j].set:
                out.setdefault(i, f"copy of {entries[j].path} (train, {hit.distance} bits)")
    return out


def split(root: Path, shared: Path = SHARED, manifest_path: Path = manifest.MANIFEST,
          sets: Iterable[str] | None = None) -> dict[str, Counter[str]]:
    """Dedupe every set against all others, assign roles and write the manifest rows.

    Returns, per gathered set, how many files were kept per role and dropped per reason.
    """
    wanted = set(sets) if sets else {s.set for s in ALL_SOURCES}
    entries: list[Entry] = []
    shared_checks: dict[str, dict[str, Check]] = {}
    for f in shared_files(shared):
        if not f.path.endswith(".jpg"):
            continue
        if f.set not in shared_checks:
            shared_checks[f.set] = read_checks(qc_path(root, f.set))
        check = shared_checks[f.set].get(f.path)
        if check is None:
            raise RuntimeError(f"{f.set}/{f.path} is not checked: run 'check --shared' first")
        label = "fake" if f.path.startswith("fake/") else "real"
        entries.append(Entry(f.set, f.path, check.sha256, check.pdq, check.pdq_quality, f.group,
                             f.role, 0 if f.role == "dev-eval" else 1, False, label))
    report: dict[str, Counter[str]] = {}
    for source in ALL_SOURCES:
        checks = read_checks(qc_path(root, source.set))
        git_dir = mirror_git_dir(source.repo)
        counts: Counter[str] = Counter()
        for path in selected_paths(source, git_dir):
            check = checks.get(path)
            if check is None:
                raise RuntimeError(f"{source.set}/{path} is not checked: run 'check' first")
            reason = judgeable(check, source)
            if reason:
                counts[f"dropped: {reason.split(':')[0]}"] += 1
                continue
            group = source.group_of(path)
            entries.append(Entry(source.set, path, check.sha256, check.pdq, check.pdq_quality,
                                 group, role_for(source, group),
                                 2 if len(source.shares) == 1 else 3, True, source.label))
        report[source.set] = counts
    drops = find_duplicates(entries)
    leaks = held_out_copies(entries)
    for i in leaks:
        report.setdefault(entries[i].set, Counter())[
            f"left out ({entries[i].role}): copy of a training photo"] += 1
    kept: dict[str, list[manifest.Row]] = defaultdict(list)
    sources = by_set()
    for i, e in enumerate(entries):
        if not e.mutable:
            continue
        if i in drops:
            report[e.set][f"dropped: {drops[i].split(' of ')[0]}"] += 1
            continue
        report[e.set][e.role] += 1
        source = sources[e.set]
        kept[e.set].append(manifest.Row(e.set, e.role, f"github:{source.repo}", source.commit,
                                        e.path, e.sha256, source.licence))
    with open(root / ".qc" / "drops.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["set", "path", "reason"])
        for i in sorted({**drops, **leaks}, key=lambda i: (entries[i].set, entries[i].path)):
            writer.writerow([entries[i].set, entries[i].path, drops.get(i) or leaks[i]])
    for set_name in sorted(wanted & set(kept)):
        manifest.replace_set(set_name, kept[set_name], manifest_path)
    left_out = frozenset((entries[i].set, entries[i].path) for i in leaks)
    for set_name, rows in shared_rows(shared_files(shared), shared, left_out).items():
        manifest.replace_set(set_name, rows, manifest_path)
    return report


# --- describing --------------------------------------------------------------------------------


def describe(root: Path, manifest_path: Path = manifest.MANIFEST) -> str:
    """A markdown table: per set, files per role, picture and face sizes, JPEG quality."""
    rows = manifest.read(manifest_path)
    lines = ["| set | files | train / calibration / dev-eval | picture px (short side) | "
             "face px p5-p50-p95 | JPEG quality p5-p95 | terms |", "|---|---|---|---|---|---|---|"]
    by_name: dict[str, list[manifest.Row]] = defaultdict(list)
    for row in rows:
        by_name[row.set].append(row)
    for name, set_rows in sorted(by_name.items()):
        roles = Counter(r.role for r in set_rows)
        checks = read_checks(qc_path(root, name))
        got = [checks[r.path] for r in set_rows if r.path in checks]
        sides = [min(c.width, c.height) for c in got if c.width]
        faces = [c.face_px for c in got if c.face_px]
        quality = [c.jpeg_quality for c in got if c.jpeg_quality]

        def spread(values: list[float], points: tuple[int, ...]) -> str:
            if not values:
                return "-"
            return "-".join(f"{np.percentile(values, p):.0f}" for p in points)

        lines.append(f"| {name} | {len(set_rows)} | {roles['train']} / {roles['calibration']} / "
                     f"{roles['dev-eval']} | {spread(sides, (0, 100))} | "
                     f"{spread(faces, (5, 50, 95))} | {spread(quality, (5, 95))} | "
                     f"{set_rows[0].licence} |")
    return "\n".join(lines)


def _iter_sources(names: list[str] | None) -> Iterator[Source]:
    table = by_set()
    unknown = set(names or ()) - set(table)
    if unknown:
        raise SystemExit(f"unknown set(s): {', '.join(sorted(unknown))}")
    return (table[n] for n in names) if names else iter(ALL_SOURCES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.face_data", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=manifest.DEFAULT_MIRROR)
    parser.add_argument("--shared-dir", type=Path, default=SHARED)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("extract", "check"):
        command = sub.add_parser(name)
        command.add_argument("--set", action="append", dest="sets")
        if name == "check":
            command.add_argument("--shared", action="store_true",
                                 help="hash the shared photo sets (no face detection)")
    sub.add_parser("split")
    sub.add_parser("describe")
    args = parser.parse_args(argv)
    root = data_root()
    if args.command == "extract":
        for source in _iter_sources(args.sets):
            print(f"{source.set}: {extract(source, root, args.mirror)} files written")
    elif args.command == "check" and args.shared:
        by_folder: dict[str, list[SharedFile]] = defaultdict(list)
        for f in shared_files(args.shared_dir):
            if f.path.endswith(".jpg"):
                by_folder[f.set].append(f)
        for set_name, files in by_folder.items():
            folder = args.shared_dir / files[0].folder
            check_folder(set_name, folder, [f.path for f in files], root, detect=False)
            print(f"{set_name}: {len(files)} hashed")
    elif args.command == "check":
        for source in _iter_sources(args.sets):
            paths = selected_paths(source, mirror_git_dir(source.repo, args.mirror))
            results = check_folder(source.set, root / source.set, paths, root)
            bad = sum(1 for c in results.values() if judgeable(c, source))
            print(f"{source.set}: {len(results)} checked, {bad} without a judgeable face")
    elif args.command == "split":
        for set_name, counts in split(root, args.shared_dir).items():
            print(f"{set_name}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    else:
        print(describe(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
