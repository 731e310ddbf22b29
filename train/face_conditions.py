"""Development-evaluation copies of real and manipulated faces under controlled conditions.

The goal asks for at most 2% of real faces flagged at every resolution from 128 to 1024 px and
every JPEG quality from 50 to 95. The gathered sets each come at one size and quality, so a
result per condition needs the same faces re-encoded: this module makes them, from dev-eval
files only, and treats both classes alike (a detector that keys on JPEG quality or size
would show it here rather than pass).

Inputs: the high-resolution real sets' dev-eval files (studio, press) and, from the
FaceForensics++ c40 crops, 40 fakes per method with 40 reals, all chosen by a stable hash.
Each input is written once per condition: JPEG quality 50, 75 and 95 at its own size, and
resized (Lanczos) so its shorter side is 128 or 1024 px, saved at quality 90. The set is
``generated:faces-dev-conditions`` in the manifest and is rebuilt by
``python -m train.manifest rebuild`` after the sets it reads from.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from . import manifest

SET = "faces-dev-conditions"
LICENCE = "copies of dev-eval files under their sources' terms: eval only"
# condition -> (shorter side in px or None to keep the size, JPEG quality)
CONDITIONS: dict[str, tuple[int | None, int]] = {
    "jpeg50": (None, 50), "jpeg75": (None, 75), "jpeg95": (None, 95),
    "short128": (128, 90), "short1024": (1024, 90),
}
REAL_SETS = ("faces-3dsk", "faces-deepface", "faces-london", "faces-canada")
FFPP = "faces-ffpp-c40"
FFPP_PER_CLASS = 40  # per method for fakes, and as many reals


@dataclass(frozen=True)
class Input:
    set: str
    path: str  # the row's path in its set
    label: str  # real or fake

    @property
    def stem(self) -> str:
        return f"{self.set.removeprefix('faces-')}__{Path(self.path).stem}"


def _rank(*parts: str) -> bytes:
    return hashlib.sha256(":".join(parts).encode()).digest()


def inputs(rows: list[manifest.Row]) -> list[Input]:
    """The dev-eval files the conditions are made from, in a stable order."""
    chosen = [Input(r.set, r.path, "real") for r in rows
              if r.role == "dev-eval" and r.set in REAL_SETS]
    ffpp: dict[str, list[manifest.Row]] = {}
    for row in rows:
        if row.set == FFPP and row.role == "dev-eval":
            ffpp.setdefault(Path(row.path).name.split("_")[0], []).append(row)
    for method, method_rows in sorted(ffpp.items()):
        picked = sorted(method_rows, key=lambda r: _rank(SET, r.path))[:FFPP_PER_CLASS]
        label = "real" if method == "Original" else "fake"
        chosen += [Input(r.set, r.path, label) for r in picked]
    return sorted(chosen, key=lambda i: (i.set, i.path))


def output_path(item: Input, condition: str) -> str:
    return f"{condition}/{item.label}/{item.stem}.jpg"


def render(source: Path, condition: str) -> bytes:
    """The bytes of ``source`` under ``condition`` (deterministic for one Pillow build)."""
    side, quality = CONDITIONS[condition]
    with Image.open(source) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    if side is not None:
        scale = side / min(rgb.size)
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=quality, optimize=False, progressive=False)
    return buffer.getvalue()


def _origin(row_set: str, path: str, data_root: Path, shared: Path,
            rows_by_key: dict[tuple[str, str], manifest.Row]) -> Path:
    row = rows_by_key[(row_set, path)]
    origin = (shared / row.source[len("shared:"):] / row.path if row.source.startswith("shared:")
              else row.local_path(data_root))
    if not origin.is_file():
        raise FileNotFoundError(f"{origin} (an input of {SET}) is missing: rebuild {row_set} first")
    return origin


def build(data_root: Path, shared: Path = manifest.DEFAULT_SHARED,
          manifest_path: Path = manifest.MANIFEST) -> list[manifest.Row]:
    """Write every condition of every input under ``data_root/SET``; return their rows."""
    rows = manifest.read(manifest_path)
    by_key = {(r.set, r.path): r for r in rows}
    out = []
    for item in inputs(rows):
        origin = _origin(item.set, item.path, data_root, shared, by_key)
        for condition in CONDITIONS:
            relative = output_path(item, condition)
            target = data_root / SET / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            data = render(origin, condition)
            target.write_bytes(data)
            out.append(manifest.Row(SET, "dev-eval", f"generated:{SET}", "", relative,
                                    hashlib.sha256(data).hexdigest(), LICENCE))
    return out


@manifest.generator(SET)
def rebuild(data_root: Path) -> None:
    build(data_root, Path(os.environ.get("DEEPSCREEN_SHARED", manifest.DEFAULT_SHARED)),
          Path(os.environ.get("DEEPSCREEN_MANIFEST", manifest.MANIFEST)))


if __name__ == "__main__":
    root = Path(os.environ.get("DEEPSCREEN_DATA", manifest.DEFAULT_DATA_ROOT))
    made = build(root)
    manifest.replace_set(SET, made)
    print(f"{SET}: {len(made)} files under {root / SET}")
