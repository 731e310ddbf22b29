"""Write bench/face_dev_suite.csv, the face detector's development suite, from the manifest.

Every ``dev-eval`` row of train/data-manifest.csv becomes a labelled row ``path,label,set``.
Gathered files are written ``data:SET/PATH`` (under $DEEPSCREEN_DATA once
``python -m train.manifest rebuild`` has brought them); shared files are written relative to
this folder (``../../shared/data/...``), as bench/ffpp_dev.csv does.

Sets are the reporting groups: one per source, the UTKFace slice also by its filename race
label and by age band, the re-encoded copies (train.face_conditions) one set per JPEG
quality and size, the FaceForensics++ crops one set per method (each with the same 200
real crops, so each method's AUC is measured within one domain), and the tool-published swaps
together with the real pictures they pair with. A file listed in several sets is screened once.

    python bench/make_face_dev_suite.py          # rewrites bench/face_dev_suite.csv
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train import manifest  # noqa: E402
from train.face_sources import by_set  # noqa: E402

SUITE = ROOT / "bench" / "face_dev_suite.csv"
SHARED_PREFIX = "../../shared/data/"
UTK_RACES = {"0": "white", "1": "black", "2": "asian", "3": "indian", "4": "other"}
TOOL_SETS = ("faces-swap-dfl", "faces-dfl-real", "faces-swap-simswap", "faces-simswap-real",
             "faces-swap-ghost", "faces-ghost-real")


def _utk_sets(path: str) -> list[str]:
    age, _, race = Path(path).name.split("_")[:3]
    sets = [f"utkface-{UTK_RACES.get(race, 'other')}"]
    if int(age) <= 12:
        sets.append("utkface-age-0-12")
    elif int(age) >= 60:
        sets.append("utkface-age-60+")
    return sets


def suite_rows(rows: list[manifest.Row]) -> list[tuple[str, str, str]]:
    """(path, label, set) for every dev-eval row, in a stable order."""
    sources = by_set()
    out: list[tuple[str, str, str]] = []
    for row in sorted(rows, key=lambda r: (r.set, r.path)):
        if row.role != "dev-eval":
            continue
        if row.source.startswith("shared:"):
            path = SHARED_PREFIX + row.source[len("shared:"):] + "/" + row.path
            name = Path(row.path).name
            if row.set == "faces-ffpp-c40":
                method = name.split("_")[0]
                if method == "Original":
                    out += [(path, "real", f"ffpp-c40-{m}") for m in
                            ("Deepfake", "Face2Face", "FaceShifter", "FaceSwap", "NeuralTextures")]
                else:
                    out.append((path, "fake", f"ffpp-c40-{method}"))
            elif row.set == "faces-ffpp-c23":
                out.append((path, "real" if name.startswith("real_") else "fake", "ffpp-c23-video"))
            else:
                out.append((path, "real", row.set.removeprefix("faces-")))
            continue
        path = f"data:{row.set}/{row.path}"
        if row.source.startswith("generated:"):  # faces-dev-conditions: CONDITION/LABEL/NAME
            condition, label = row.path.split("/")[:2]
            out.append((path, label, f"condition-{condition}"))
            continue
        source = sources[row.set]
        if row.set in TOOL_SETS:
            out.append((path, source.label, "tool-swaps"))
        elif row.set == "faces-utkface":
            out += [(path, "real", name) for name in _utk_sets(row.path)]
        else:
            out.append((path, source.label, row.set.removeprefix("faces-")))
    return out


def main() -> int:
    rows = suite_rows(manifest.read())
    with open(SUITE, "w", newline="") as handle:
        handle.write("# The face detector's development suite (see train/DATA.md). Written by\n"
                     "# bench/make_face_dev_suite.py from the manifest's dev-eval rows; run with\n"
                     "#   DEEPSCREEN_DATA=... deepscreen eval --csv bench/face_dev_suite.csv\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "label", "set"])
        writer.writerows(rows)
    counts = Counter((name, label) for _, label, name in rows)
    for name in sorted({n for n, _ in counts}):
        print(f"{name}: {counts[(name, 'real')]} real, {counts[(name, 'fake')]} fake")
    files = {(p, label) for p, label, _ in rows}
    print(f"{len(files)} files ({sum(1 for _, lab in files if lab == 'real')} real), "
          f"{len(rows)} rows -> {SUITE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
