"""train.manifest: rows round-trip, sets replace cleanly, verify and overlap catch what they must,
and rebuild brings files back from a bare git mirror and from the shared folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from train import manifest
from train.manifest import Row

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}


def _git(git_dir: Path, *args: str, data: bytes | None = None) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], input=data, env=GIT_ENV,
                          capture_output=True, check=True).stdout.decode().strip()


def bare_repo_with(git_dir: Path, files: dict[str, bytes]) -> str:
    """A bare repository (``git init --bare``) with one commit holding ``files``; its hash."""
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    folders: dict[str, list[str]] = {}
    for path, content in files.items():
        blob = _git(git_dir, "hash-object", "-w", "--stdin", data=content)
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder, []).append(f"100644 blob {blob}\t{name}")
    # Nested folders: build each tree from the deepest up (paths here are one level deep).
    root_entries = folders.pop("", [])
    for folder, entries in folders.items():
        tree = _git(git_dir, "mktree", data=("\n".join(entries) + "\n").encode())
        root_entries.append(f"040000 tree {tree}\t{folder}")
    root = _git(git_dir, "mktree", data=("\n".join(root_entries) + "\n").encode())
    return _git(git_dir, "commit-tree", root, "-m", "faces")


def _row(set_name: str, path: str, content: bytes, role: str = "train", source: str = "shared:x",
         commit: str = "") -> Row:
    import hashlib

    return Row(set_name, role, source, commit, path, hashlib.sha256(content).hexdigest(), "CC0")


def test_rows_round_trip_sorted_and_validated(tmp_path: Path) -> None:
    table = tmp_path / "m.csv"
    rows = [_row("faces-b", "z.jpg", b"1"), _row("faces-a", "y.jpg", b"2", "dev-eval"),
            _row("faces-a", "x.jpg", b"3", "calibration")]
    manifest.write(rows, table)
    assert manifest.read(table) == sorted(rows, key=lambda r: (r.set, r.path))
    assert table.read_text().splitlines()[0] == ",".join(manifest.FIELDS)
    with pytest.raises(ValueError, match="role"):
        _row("faces-a", "q.jpg", b"4", role="test")
    with pytest.raises(ValueError, match="40-hex"):
        _row("faces-a", "q.jpg", b"4", source="github:o/n", commit="abc")
    (tmp_path / "bad.csv").write_text("set,path\n")
    with pytest.raises(ValueError, match="header"):
        manifest.read(tmp_path / "bad.csv")


def test_replace_set_touches_only_its_set(tmp_path: Path) -> None:
    table = tmp_path / "m.csv"
    manifest.write([_row("faces-a", "1.jpg", b"1"), _row("faces-a", "2.jpg", b"2"),
                    _row("voice-b", "1.wav", b"3")], table)
    manifest.replace_set("faces-a", [_row("faces-a", "3.jpg", b"4", "dev-eval")], table)
    assert [(r.set, r.path, r.role) for r in manifest.read(table)] == [
        ("faces-a", "3.jpg", "dev-eval"), ("voice-b", "1.wav", "train")]
    with pytest.raises(ValueError, match="belong to set"):
        manifest.replace_set("faces-a", [_row("voice-b", "2.wav", b"5")], table)


def test_verify_sees_a_changed_byte_and_overlap_an_identical_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "faces-a").mkdir(parents=True)
    content = bytes(range(256)) * 4
    (data / "faces-a" / "1.jpg").write_bytes(content)
    rows = [_row("faces-a", "1.jpg", content), _row("faces-a", "gone.jpg", b"x")]
    assert manifest.verify(rows, data) == [f"missing: {data / 'faces-a' / 'gone.jpg'}"]
    changed = bytearray(content)
    changed[100] ^= 1
    (data / "faces-a" / "1.jpg").write_bytes(bytes(changed))
    assert any("sha256 differs" in p for p in manifest.verify(rows[:1], data))
    test_set = tmp_path / "independent"
    test_set.mkdir()
    (test_set / "copy.jpg").write_bytes(content)
    (test_set / "other.jpg").write_bytes(b"unrelated")
    hits = manifest.overlap(rows, test_set)
    assert len(hits) == 1 and "copy.jpg" in hits[0] and "faces-a/1.jpg" in hits[0]
    assert manifest.overlap(rows, test_set, roles=("dev-eval",)) == []  # only training counts


def test_rebuild_from_a_bare_mirror_and_the_shared_folder(tmp_path: Path) -> None:
    mirror, shared, data = tmp_path / "mirror", tmp_path / "shared", tmp_path / "data"
    files = {"faces/a.jpg": b"first face", "faces/b.jpg": b"second face", "README": b"r"}
    commit = bare_repo_with(mirror / "acme+faces" / "repo", files)
    (shared / "faces-aaf" / "images").mkdir(parents=True)
    (shared / "faces-aaf" / "images" / "1.jpg").write_bytes(b"shared face")
    rows = [_row("faces-acme", "faces/a.jpg", files["faces/a.jpg"], source="github:acme/faces",
                 commit=commit),
            _row("faces-acme", "faces/b.jpg", files["faces/b.jpg"], "dev-eval",
                 source="github:acme/faces", commit=commit),
            _row("faces-aaf", "images/1.jpg", b"shared face", source="shared:faces-aaf")]
    table = tmp_path / "m.csv"
    manifest.write(rows, table)
    args = ["--manifest", str(table), "--data-root", str(data), "rebuild", "--mirror", str(mirror),
            "--shared", str(shared)]
    assert manifest.main(args) == 0
    assert (data / "faces-acme" / "faces" / "b.jpg").read_bytes() == b"second face"
    assert (data / "faces-aaf" / "images" / "1.jpg").read_bytes() == b"shared face"
    assert manifest.main(["--manifest", str(table), "--data-root", str(data), "verify"]) == 0
    # A file lost or changed since is brought back by the next rebuild, and only that set
    # is touched when --set says so.
    (data / "faces-acme" / "faces" / "a.jpg").write_bytes(b"tampered")
    assert manifest.main(["--manifest", str(table), "--data-root", str(data), "verify"]) == 1
    assert manifest.main([*args, "--set", "faces-acme"]) == 0
    assert (data / "faces-acme" / "faces" / "a.jpg").read_bytes() == b"first face"
    # A path missing at that commit is reported, not silently skipped.
    lost = _row("faces-acme", "faces/c.jpg", b"?", source="github:acme/faces", commit=commit)
    manifest.write([*rows, lost], table)
    assert manifest.main(args) == 1
