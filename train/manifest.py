"""The data manifest: every file that training, calibration or development evaluation uses.

``train/data-manifest.csv`` has one row per file::

    set,role,source,commit,path,sha256,licence

- ``set``: a short name for a group of files from one source (``faces-utkface``, ``voice-ljs``).
- ``role``: ``train``, ``calibration`` or ``dev-eval``.
- ``source``: where the file comes from, one of
  ``github:OWNER/NAME`` (a public repository; ``commit`` is the 40-hex commit and ``path`` the
  file's path in it), ``shared:FOLDER`` (``../shared/data/FOLDER``, the data this workplace
  provides; ``commit`` is empty and ``path`` is relative to that folder), or
  ``generated:GENERATOR`` (made by this project's own code from other manifest rows;
  ``commit`` is empty, ``path`` is the output path, and the generator is a registered
  function, see :data:`GENERATORS`).
- ``sha256`` of the file's bytes, so a rebuilt copy can be checked and no test file can
  slip into training unnoticed (:func:`overlap`).

A file lives at ``DATA_ROOT/SET/PATH`` once rebuilt. The data itself never enters the project
repository: ``python -m train.manifest rebuild`` brings it back from the sources (a local
mirror of git repositories, or ``git clone`` from GitHub), and ``verify`` checks every hash.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

MANIFEST = Path(__file__).with_name("data-manifest.csv")
FIELDS = ("set", "role", "source", "commit", "path", "sha256", "licence")
ROLES = ("train", "calibration", "dev-eval")
DEFAULT_DATA_ROOT = Path(os.environ.get("DEEPSCREEN_DATA", Path(__file__).resolve().parents[2] / "data"))
DEFAULT_SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
DEFAULT_MIRROR = Path(os.environ.get("DEEPSCREEN_MIRROR", "/work/.mirror"))

# Generated rows are rebuilt by a function of the project, looked up by name, that writes
# every file of its set under the data root (it reads its inputs from other rows). While
# ``rebuild`` runs them, $DEEPSCREEN_MANIFEST and $DEEPSCREEN_SHARED name the manifest and
# the shared folder in use, so a generator reads the same rows and files.
GENERATORS: dict[str, Callable[[Path], None]] = {}


def generator(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    """Register ``fn(data_root)`` as the way to rebuild the rows of ``generated:NAME``."""
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        GENERATORS[name] = fn
        return fn
    return register


@dataclass(frozen=True)
class Row:
    set: str
    role: str
    source: str
    commit: str
    path: str
    sha256: str
    licence: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"{self.set}/{self.path}: role {self.role!r} is not one of {ROLES}")
        if not self.source.startswith(("github:", "shared:", "generated:")):
            raise ValueError(f"{self.set}/{self.path}: unknown source {self.source!r}")
        if self.source.startswith("github:") and len(self.commit) != 40:
            raise ValueError(f"{self.set}/{self.path}: a github row needs its 40-hex commit")

    def local_path(self, data_root: Path) -> Path:
        return data_root / self.set / self.path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read(path: Path = MANIFEST) -> list[Row]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise ValueError(f"{path}: header must be {','.join(FIELDS)}")
        return [Row(**record) for record in reader]


def write(rows: Iterable[Row], path: Path = MANIFEST) -> None:
    """Write rows sorted by set and path, so diffs stay small and merges stay easy."""
    ordered = sorted(set(rows), key=lambda r: (r.set, r.path, r.role))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FIELDS)
        writer.writerows(astuple(row) for row in ordered)


def replace_set(set_name: str, rows: Iterable[Row], path: Path = MANIFEST) -> None:
    """Put ``rows`` in the manifest in place of every earlier row of ``set_name``."""
    new = list(rows)
    if any(row.set != set_name for row in new):
        raise ValueError(f"every row must belong to set {set_name!r}")
    write([row for row in read(path) if row.set != set_name] + new, path)


def rows_for_files(set_name: str, role: str, source: str, commit: str, root: Path,
                   files: Iterable[Path], licence: str) -> list[Row]:
    """Manifest rows for files under ``root`` (their path is taken relative to it)."""
    return [Row(set_name, role, source, commit, str(Path(f).relative_to(root)),
                sha256_file(Path(f)), licence) for f in files]


def files_of(set_name: str, data_root: Path = DEFAULT_DATA_ROOT, role: str | None = None,
             path: Path = MANIFEST) -> list[Path]:
    """Local paths of a set's files (optionally one role), in manifest order."""
    return [row.local_path(data_root) for row in read(path)
            if row.set == set_name and (role is None or row.role == role)]


def _git_dir(repo: str, mirror: Path, cache: Path) -> Path:
    """A git directory holding ``repo``: the local mirror if present, else a clone from GitHub."""
    local = mirror / repo.replace("/", "+")
    if local.exists():
        candidates = [local, *sorted(local.glob("*.git")), *sorted(local.glob("*/"))]
        for candidate in candidates:
            if (candidate / "HEAD").exists() and (candidate / "objects").exists():
                return candidate
    target = cache / (repo.replace("/", "+") + ".git")
    if not target.exists():
        subprocess.run(["git", "clone", "--bare", "--filter=blob:none",
                        f"https://github.com/{repo}.git", str(target)], check=True)
    return target


def _rebuild_rows(rows: list[Row], data_root: Path, mirror: Path, shared: Path) -> Iterator[str]:
    """Bring back every file of ``rows``; yield one problem line for each that failed."""
    cache = data_root / ".git-cache"
    by_repo: dict[tuple[str, str], list[Row]] = {}
    generated: set[str] = set()
    for row in rows:
        target = row.local_path(data_root)
        if target.exists() and sha256_file(target) == row.sha256:
            continue
        if row.source.startswith("github:"):
            by_repo.setdefault((row.source[7:], row.commit), []).append(row)
        elif row.source.startswith("shared:"):
            origin = shared / row.source[7:] / row.path
            if not origin.exists():
                yield f"missing in ../shared/data: {origin}"
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(origin.read_bytes())
        else:
            generated.add(row.source[10:])
    for (repo, commit), repo_rows in by_repo.items():
        try:
            git_dir = _git_dir(repo, mirror, cache)
        except (subprocess.CalledProcessError, OSError) as exc:
            yield f"cannot reach {repo}: {exc}"
            continue
        for row in repo_rows:
            blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{row.path}"],
                                  capture_output=True)
            if blob.returncode != 0:
                yield f"{repo}@{commit[:10]}:{row.path}: {blob.stderr.decode(errors='replace').strip()}"
                continue
            target = row.local_path(data_root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob.stdout)
    registry = _load_generators() if generated else {}
    os.environ["DEEPSCREEN_SHARED"] = str(shared)
    for name in sorted(generated):
        if name not in registry:
            yield f"no generator named {name!r} (registered: {', '.join(registry) or 'none'})"
            continue
        try:
            registry[name](data_root)
        except (OSError, KeyError, ValueError) as exc:
            # A generator reads other rows' files: those sets must be rebuilt first (or with it).
            yield f"generator {name!r} failed (are the sets it reads from rebuilt?): {exc}"


def _load_generators() -> dict[str, Callable[[Path], None]]:
    """Import the modules that register generators (they need the ``train`` extra)."""
    import importlib

    for module in GENERATOR_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            print(f"generator module {module} unavailable: {exc}", file=sys.stderr)
    # Run as ``python -m train.manifest`` this file is ``__main__``, while the generator
    # modules register with ``train.manifest``, the same file imported under its own name.
    canonical = sys.modules.get("train.manifest")
    return {**GENERATORS, **(getattr(canonical, "GENERATORS", {}) or {})}


# Modules whose import registers entries in GENERATORS.
GENERATOR_MODULES: tuple[str, ...] = ("train.face_conditions", "train.voice.generators",
                                     "train.synthetic.generators")


def verify(rows: list[Row], data_root: Path) -> list[str]:
    """One line per file that is missing or whose bytes differ from the manifest."""
    problems = []
    for row in rows:
        target = row.local_path(data_root)
        if not target.exists():
            problems.append(f"missing: {target}")
        elif sha256_file(target) != row.sha256:
            problems.append(f"sha256 differs: {target}")
    return problems


def overlap(rows: Iterable[Row], folder: Path, roles: tuple[str, ...] = ("train",)) -> list[str]:
    """Files under ``folder`` (an independent test set) byte-identical to a row of ``roles``.

    A training file identical to a test file voids that test's result; run this before
    reporting any number measured on ``folder``.
    """
    trained = {row.sha256: row for row in rows if row.role in roles}
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        row = trained.get(sha256_file(path))
        if row is not None:
            hits.append(f"{path} == {row.set}/{row.path} ({row.role})")
    return hits


def _summary(rows: list[Row]) -> str:
    counts = Counter((row.set, row.role, row.licence) for row in rows)
    width = max((len(s) for s, _, _ in counts), default=3)
    lines = [f"{'set':<{width}}  {'role':<11}  {'files':>6}  licence"]
    lines += [f"{s:<{width}}  {r:<11}  {n:>6}  {lic}" for (s, r, lic), n in sorted(counts.items())]
    lines.append(f"{len(rows)} files in {len({s for s, _, _ in counts})} sets")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.manifest",
        description="Rebuild, verify and audit the data listed in train/data-manifest.csv.")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT,
                        help="where the files live, as DATA_ROOT/SET/PATH (default: %(default)s, "
                             "or $DEEPSCREEN_DATA)")
    sub = parser.add_subparsers(dest="command", required=True)
    rebuild = sub.add_parser("rebuild", help="bring back every file from its source, then verify")
    rebuild.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR,
                         help="folder of bare git mirrors named OWNER+NAME (else git clone from GitHub)")
    rebuild.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    rebuild.add_argument("--set", action="append", dest="sets", help="only these sets (repeatable)")
    sub.add_parser("verify", help="check that every file is present with its sha256")
    sub.add_parser("summary", help="files per set, role and licence")
    check = sub.add_parser("overlap", help="list test files byte-identical to a training file")
    check.add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    rows = read(args.manifest)
    if args.command == "summary":
        print(_summary(rows))
        return 0
    if args.command == "overlap":
        hits = overlap(rows, args.folder)
        print("\n".join(hits) if hits else f"no file under {args.folder} is a training file")
        return 1 if hits else 0
    if args.command == "rebuild":
        os.environ["DEEPSCREEN_MANIFEST"] = str(args.manifest)
        if args.sets:
            rows = [row for row in rows if row.set in set(args.sets)]
        for problem in _rebuild_rows(rows, args.data_root, args.mirror, args.shared):
            print(problem, file=sys.stderr)
    problems = verify(rows, args.data_root)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(rows) - len(problems)} of {len(rows)} files present and verified")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
