"""Feature windows for every voice file in the manifest, cached per set.

Each file is decoded by Deepscreen's own decoder (mono 16 kHz), put through a condition
(:mod:`train.voice.conditions`), then through exactly the scan-time path of
:func:`deepscreen.voice.features.prepare`: loudness normalisation, speech mask, 3 s windows.
Training files are seen clean and under one random condition, with random gain and silence
trimming, up to ``TRAIN_WINDOWS`` windows each; development files under every condition of
:data:`EVAL_CONDITIONS`, all their windows up to ``EVAL_WINDOWS``.

The cache is one ``.npz`` per set and role under ``DATA_ROOT/voice-cache/``, written when the
set is done, so an interrupted build resumes at the next set.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import av
import numpy as np

from deepscreen.voice.features import MIN_SPEECH_S, prepare
from train import manifest

from .conditions import EVAL_CONDITIONS, Condition, apply, random_condition, random_gain_and_trim
from .generators import load_16k
from .sources import role_for, speechresearch_system

TRAIN_WINDOWS = 4
EVAL_WINDOWS = 5
MAX_SECONDS = 8.0  # longer files are cut: their first 8 s give 4 windows
# Raw digit recordings are only the input of the digit strings.
SKIPPED_SETS = ("voice-fsdd-digits", "voice-fsdd-digits-dev")


def class_of(set_name: str) -> int:
    """1 for synthetic speech, 0 for real, from the set's name."""
    if set_name.endswith("-fake"):
        return 1
    if set_name.endswith("-real"):
        return 0
    raise ValueError(f"set {set_name!r} names no class")


def system_of(row: manifest.Row) -> str:
    """The system a file comes from, for per-source tables."""
    if row.set in ("voice-sr-fake", "voice-sr-real", "voice-ns-fake", "voice-ns-real"):
        return speechresearch_system(row.path)
    if row.set == "voice-tortoise-fake":
        return "tortoise"
    if row.set == "voice-classical-fake":
        return PurePosixPath(row.path).parts[0]
    return row.set.removeprefix("voice-")


def voice_rows(role: str | None = None) -> list[manifest.Row]:
    return [r for r in manifest.read() if r.set.startswith("voice-") and r.set not in SKIPPED_SETS
            and (role is None or r.role == role)]


@dataclass
class Windows:
    """Windows of one cache: features and, per window, its file, condition and class."""

    bands: np.ndarray  # N x 64 x frames, float16
    file: np.ndarray  # index into ``paths``
    condition: np.ndarray  # condition label per window
    label: np.ndarray  # 1 synthetic, 0 real
    paths: list[str]
    systems: list[str]
    sets: list[str]
    roles: list[str]  # per file: train, calibration or dev-eval

    @classmethod
    def load(cls, path: Path) -> Windows:
        z = np.load(path, allow_pickle=False)
        return cls(z["bands"], z["file_index"], z["condition"], z["label"], list(z["paths"]),
                   list(z["systems"]), list(z["sets"]), list(z["roles"]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, bands=self.bands, file_index=self.file, condition=self.condition, label=self.label,
                 paths=np.array(self.paths), systems=np.array(self.systems), sets=np.array(self.sets),
                 roles=np.array(self.roles))
        tmp.replace(path)

    @classmethod
    def concat(cls, parts: list[Windows]) -> Windows:
        offsets = np.cumsum([0] + [len(p.paths) for p in parts[:-1]])
        return cls(np.concatenate([p.bands for p in parts]),
                   np.concatenate([p.file + o for p, o in zip(parts, offsets, strict=True)]),
                   np.concatenate([p.condition for p in parts]), np.concatenate([p.label for p in parts]),
                   [x for p in parts for x in p.paths], [x for p in parts for x in p.systems],
                   [x for p in parts for x in p.sets], [x for p in parts for x in p.roles])

    def only(self, role: str) -> Windows:
        """The windows of the files with ``role``, files renumbered."""
        keep_files = [i for i, r in enumerate(self.roles) if r == role]
        new_index = np.full(len(self.roles), -1, np.int64)
        new_index[keep_files] = np.arange(len(keep_files))
        keep = np.isin(self.file, keep_files)
        return Windows(self.bands[keep], new_index[self.file[keep]].astype(np.int32), self.condition[keep],
                       self.label[keep], [self.paths[i] for i in keep_files],
                       [self.systems[i] for i in keep_files],
                       [self.sets[i] for i in keep_files], [role] * len(keep_files))


def _windows_of(samples: np.ndarray, limit: int, rng: np.random.Generator | None) -> np.ndarray | None:
    prepared = prepare(samples)
    if prepared.speech_s < MIN_SPEECH_S or not prepared.segments:
        return None
    if len(prepared.segments) > limit:
        keep = (sorted(rng.choice(len(prepared.segments), limit, replace=False)) if rng is not None
                else range(limit))
        prepared.segments = [prepared.segments[i] for i in keep]
    return prepared.band_windows().astype(np.float16)


def build_set(set_name: str, rows: list[manifest.Row], data_root: Path, seed: int) -> Windows:
    rng = np.random.default_rng(seed)
    bands, files, conditions, labels = [], [], [], []
    paths, systems, roles = [], [], []
    for n, row in enumerate(rows):
        if n % 100 == 0:
            print(f"  {set_name}: {n}/{len(rows)}", flush=True)
        try:
            x = load_16k(row.local_path(data_root))[: int(MAX_SECONDS * 16_000)]
        except ValueError as exc:
            print(f"skip {row.set}/{row.path}: {exc}", file=sys.stderr)
            continue
        index = len(paths)
        training = role_for(row.set, row.path, row.role) == "train"
        paths.append(row.path)
        roles.append("train" if training else role_for(row.set, row.path, row.role))
        systems.append(system_of(row))
        variants = [Condition("clean"), random_condition(rng)] if training else list(EVAL_CONDITIONS)
        for condition in variants:
            y = random_gain_and_trim(x, rng) if training else x
            try:
                y = apply(y, condition)
            except (av.error.FFmpegError, ValueError) as exc:
                print(f"{condition.label} failed on {row.path}: {exc}", file=sys.stderr)
                continue
            w = _windows_of(y, TRAIN_WINDOWS if training else EVAL_WINDOWS, rng if training else None)
            if w is None:
                continue
            bands.append(w)
            files += [index] * len(w)
            conditions += [condition.label if not training else condition.name] * len(w)
            labels += [class_of(set_name)] * len(w)
    return Windows(np.concatenate(bands) if bands else np.zeros((0, 64, 298), np.float16),
                   np.asarray(files, np.int32), np.asarray(conditions), np.asarray(labels, np.int8),
                   paths, systems, [set_name] * len(paths), roles)


def cache_path(data_root: Path, set_name: str) -> Path:
    return data_root / "voice-cache" / f"{set_name}.npz"


def load_all(data_root: Path, sets: list[str] | None = None) -> Windows:
    """Every cached set (or the ones named), concatenated; select a role with :meth:`Windows.only`."""
    names = sets or sorted({r.set for r in voice_rows()})
    return Windows.concat([Windows.load(cache_path(data_root, n)) for n in names])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.dataset", description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--set", action="append", dest="sets")
    parser.add_argument("--rebuild", action="store_true", help="recompute sets already cached")
    args = parser.parse_args(argv)
    by_set: dict[str, list[manifest.Row]] = {}
    for row in voice_rows():
        by_set.setdefault(row.set, []).append(row)
    for name, rows in sorted(by_set.items()):
        target = cache_path(args.data_root, name)
        if (args.sets and name not in args.sets) or (target.exists() and not args.rebuild):
            continue
        # Several builders may run side by side (each on its own core): a set being built by
        # one is marked, and the others skip it.
        lock = target.with_suffix(".building")
        lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.touch(exist_ok=False)
        except FileExistsError:
            continue
        try:
            start = time.time()
            windows = build_set(name, rows, args.data_root, seed=zlib.crc32(name.encode()))
            windows.save(target)
        finally:
            lock.unlink()
        print(f"{name:28s} {len(rows):5d} files {len(windows.label):6d} windows {time.time() - start:6.0f} s",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
