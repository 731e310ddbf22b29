"""train.face_data: JPEG quality estimate, FFHQ-alignment flag, roles by group, duplicates."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepscreen.banks.hashing import pdq_of
from train.face_data import (
    Entry,
    ffhq_aligned,
    find_duplicates,
    held_out_copies,
    jpeg_quality,
    role_for,
)
from train.face_sources import Source


def _picture(seed: int, size: int = 256) -> np.ndarray:
    """Smooth random blobs: a picture PDQ hashes with high quality."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((size, size), Image.BICUBIC))


@pytest.mark.parametrize("quality", [50, 75, 95])
def test_jpeg_quality_estimate(quality: int) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_picture(1)).save(buffer, "JPEG", quality=quality)
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        assert abs(jpeg_quality(image) - quality) <= 3
    with Image.open(io.BytesIO(_png())) as image:
        assert jpeg_quality(image) == 0


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_picture(2)).save(buffer, "PNG")
    return buffer.getvalue()


def test_ffhq_alignment_flag() -> None:
    eyes = np.array([[0.375, 0.47], [0.625, 0.47]]) * 1024
    assert ffhq_aligned(eyes, 1024, 1024)
    assert not ffhq_aligned(eyes, 1024, 1400)  # not square
    assert not ffhq_aligned(eyes + np.array([0.0, 120.0]), 1024, 1024)  # eyes lower in the frame
    assert not ffhq_aligned(np.array([[0.40, 0.47], [0.60, 0.47]]) * 1024, 1024, 1024)  # smaller


def test_roles_go_by_group_and_are_stable() -> None:
    source = Source(set="faces-t", repo="o/n", commit="0" * 40, include=(r"\.jpg$",),
                    licence="CC0", population="", group=r"^(\w+)_\d\.jpg$",
                    shares={"train": 0.5, "calibration": 0.25, "dev-eval": 0.25})
    roles = {f"p{i}": role_for(source, source.group_of(f"p{i}_1.jpg")) for i in range(400)}
    assert all(role_for(source, source.group_of(f"p{i}_2.jpg")) == roles[f"p{i}"]
               for i in range(400))  # a person's photos share a role
    counts = {r: sum(1 for v in roles.values() if v == r) for r in ("train", "calibration",
                                                                    "dev-eval")}
    assert 160 <= counts["train"] <= 240 and 70 <= counts["dev-eval"] <= 130
    with pytest.raises(ValueError, match="group pattern"):
        source.group_of("no-match.jpg")
    with pytest.raises(ValueError, match="by person"):
        Source(set="faces-u", repo="o/n", commit="0" * 40, include=(), licence="", population="",
               shares={"train": 0.5, "dev-eval": 0.5})


def _entry(set_name: str, path: str, rgb: np.ndarray, group: str, role: str, priority: int,
           mutable: bool = True, sha: str | None = None, label: str = "real") -> Entry:
    pdq = pdq_of(rgb)
    return Entry(set_name, path, sha or path, pdq.hex, int(pdq.quality), group, role, priority,
                 mutable, label)


def test_duplicates_across_sets_roles_and_copies_within_a_group() -> None:
    photo, other, third = _picture(10), _picture(11), _picture(12)
    resized = np.asarray(Image.fromarray(photo).resize((180, 180)).resize((256, 256)))
    entries = [
        _entry("faces-aaf", "a.jpg", photo, "a", "train", 1, mutable=False),  # shared: stays
        _entry("faces-web", "copy.jpg", resized, "w", "dev-eval", 2),  # near copy: dropped
        _entry("faces-web", "other.jpg", other, "w", "dev-eval", 2),
        _entry("faces-web", "same-bytes.jpg", third, "w", "dev-eval", 2, sha="S"),
        _entry("faces-studio", "dup.jpg", third, "s", "train", 3, sha="S"),  # identical bytes
        _entry("faces-studio", "x1.jpg", other[:, ::-1].copy(), "s1", "train", 3),
        _entry("faces-studio", "x2.jpg", other[:, ::-1].copy(), "s1", "train", 3, sha="x2"),
        # A swap made from other.jpg keeps most of its picture: evidence, not a duplicate.
        _entry("faces-swap", "swap.jpg", other, "t", "dev-eval", 2, sha="swap", label="fake"),
    ]
    drops = find_duplicates(entries)
    assert drops[1].startswith("near copy of faces-aaf/a.jpg (train)")
    assert drops[4].startswith("near copy of faces-web/same-bytes.jpg")
    assert 0 not in drops and 2 not in drops and 3 not in drops and 7 not in drops
    # Two copies inside one group of one set: one is kept.
    assert (5 in drops) != (6 in drops) and "copy of" in drops.get(6, drops.get(5, ""))


def test_conditions_copy_both_classes_at_each_size_and_quality(tmp_path: Path) -> None:
    import hashlib

    from train import face_conditions, manifest

    data, shared = tmp_path / "data", tmp_path / "shared"
    rows = []
    for set_name, folder, name in (("faces-3dsk", data / "faces-3dsk", "a.jpg"),
                                   ("faces-ffpp-c40", shared / "eval-dev/ffpp-c40-faces/fake",
                                    "Deepfake_000_003_000_000.jpg"),
                                   ("faces-ffpp-c40", shared / "eval-dev/ffpp-c40-faces/real",
                                    "Original_000_000_000.jpg")):
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_picture(len(rows), 300)).save(folder / name, quality=97)
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        if set_name == "faces-3dsk":
            rows.append(manifest.Row(set_name, "dev-eval", "github:o/n", "0" * 40, name, digest, "x"))
        else:
            rows.append(manifest.Row(set_name, "dev-eval", "shared:eval-dev/ffpp-c40-faces",
                                     "", f"{folder.name}/{name}", digest, "x"))
    rows.append(manifest.Row("faces-3dsk", "train", "github:o/n", "0" * 40, "t.jpg", "0" * 64, "x"))
    table = tmp_path / "m.csv"
    manifest.write(rows, table)
    made = face_conditions.build(data, shared, table)
    assert len(made) == 3 * len(face_conditions.CONDITIONS)  # the train row is not an input
    labels = {row.path.split("/")[1] for row in made}
    assert labels == {"real", "fake"}
    by_path = {row.path: row for row in made}
    small = data / face_conditions.SET / "short128/real/3dsk__a.jpg"
    large = data / face_conditions.SET / "short1024/fake/ffpp-c40__Deepfake_000_003_000_000.jpg"
    assert min(Image.open(small).size) == 128 and min(Image.open(large).size) == 1024
    with Image.open(data / face_conditions.SET / "jpeg50/real/3dsk__a.jpg") as image:
        assert abs(jpeg_quality(image) - 50) <= 3 and image.size == (300, 300)
    assert manifest.verify(made, data) == []
    again = face_conditions.build(data, shared, table)  # deterministic: same bytes
    assert {r.path: r.sha256 for r in again} == {p: r.sha256 for p, r in by_path.items()}


def test_manifest_rebuild_runs_the_conditions_generator(tmp_path: Path) -> None:
    """`python -m train.manifest rebuild` (the module as __main__) finds the registered generator
    and feeds it the manifest and shared folder it was given."""
    import hashlib
    import os
    import subprocess
    import sys

    from train import face_conditions, manifest

    shared, made_in, rebuilt = tmp_path / "shared", tmp_path / "a", tmp_path / "b"
    folder = shared / "eval-dev/ffpp-c40-faces/fake"
    folder.mkdir(parents=True)
    Image.fromarray(_picture(5, 224)).save(folder / "FaceSwap_001_002_001_000.jpg")
    data = (folder / "FaceSwap_001_002_001_000.jpg").read_bytes()
    inputs = [manifest.Row("faces-ffpp-c40", "dev-eval", "shared:eval-dev/ffpp-c40-faces", "",
                           "fake/FaceSwap_001_002_001_000.jpg", hashlib.sha256(data).hexdigest(),
                           "x")]
    table = tmp_path / "m.csv"
    manifest.write(inputs, table)
    made = face_conditions.build(made_in, shared, table)
    manifest.write(inputs + made, table)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root}"}
    run = subprocess.run([sys.executable, "-m", "train.manifest", "--manifest", str(table),
                          "--data-root", str(rebuilt), "rebuild", "--shared", str(shared)],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert f"{len(made) + 1} of {len(made) + 1} files present and verified" in run.stdout
    assert (rebuilt / face_conditions.SET / made[0].path).is_file()


def test_shared_held_out_copies_of_training_photos_are_found() -> None:
    photo, other = _picture(20), _picture(21)
    recompressed = np.asarray(Image.fromarray(photo).resize((250, 250)).resize((256, 256)))
    entries = [_entry("faces-aaf", "t.jpg", photo, "t", "train", 1, mutable=False),
               _entry("faces-aaf", "v1.jpg", recompressed, "v1", "calibration", 1, mutable=False),
               _entry("faces-aaf", "v2.jpg", other, "v2", "calibration", 1, mutable=False),
               _entry("faces-aaf", "v3.jpg", other, "v3", "calibration", 1, mutable=False, sha="t.jpg"),
               _entry("faces-web", "w.jpg", photo, "w", "dev-eval", 2)]  # gathered: not this rule
    leaks = held_out_copies(entries)
    assert set(leaks) == {1, 3}
    assert leaks[3].startswith("identical to t.jpg") and "copy of t.jpg" in leaks[1]


def test_checker_records_images_videos_and_undecodable_files(tmp_path: Path) -> None:
    from train.face_data import Checker

    from media_factory import video_bytes

    (tmp_path / "clip.mp4").write_bytes(video_bytes(seconds=1.0))
    Image.fromarray(_picture(3, 200)).save(tmp_path / "p.jpg", quality=80)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    checker = Checker()
    clip = checker.check(tmp_path / "clip.mp4", "clip.mp4")
    assert clip.format == "video" and clip.width > 0 and clip.pdq == "" and not clip.error
    photo = checker.check(tmp_path / "p.jpg", "p.jpg")
    assert (photo.width, photo.height, photo.format) == (200, 200, "JPEG")
    assert abs(photo.jpeg_quality - 80) <= 3 and len(photo.pdq) == 64
    assert photo.faces == 0 and photo.face_px == 0.0  # blobs, no face
    broken = checker.check(tmp_path / "broken.jpg", "broken.jpg")
    assert broken.error and broken.sha256
