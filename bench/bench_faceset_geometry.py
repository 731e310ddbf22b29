"""Calibrate the face-set geometry rule on real faces: aligned crops against unaligned ones.

Run: ``python bench/bench_faceset_geometry.py [--groups 8] [--record]``. Needs
``../shared/data/faces-aaf`` (All-Age-Faces). It builds groups of 16 photos (disjoint,
chosen by a fixed stride over the sorted file names) in two conditions:

* ``aligned``: each face warped to one template with Deepscreen's own aligner, as swap tools'
  extractors do (two margins: tight and DeepFaceLab-like wide);
* ``centred square``: the same photos cropped to a centred square and resized, unaligned.
  All-Age-Faces are studio-like portraits, so this is a hard negative: real albums vary more.

and prints, per condition, the range of the measures ``faceset-aligned-crops`` thresholds
(single-face share, eye-centre spread, eye-distance variation) and how many groups the rule
accepts. ``--record`` writes the photos used into train/data-manifest.csv (set
``tooling-faceset-calibration``, role calibration).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepscreen.faces.align import align_face, landmarks5_from_49
from deepscreen.faces.detect import FaceDetector
from deepscreen.tooling import load_rules
from deepscreen.tooling.faceset import _geometry

AAF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces-aaf"
GROUP = 16
STRIDE = 37  # spreads each group over the age-sorted file names


def landmarks() -> dict[str, np.ndarray]:
    found = {}
    with (AAF / "landmarks49.csv").open() as handle:
        for line in handle:
            parts = line.strip().split(",")
            if len(parts) == 99:
                try:
                    found[parts[0]] = np.array(parts[1:], float).reshape(49, 2)
                except ValueError:
                    continue
    return found


def crops(names: list[str], points: dict[str, np.ndarray], condition: str) -> list[dict]:
    out = []
    for name in names:
        rgb = np.asarray(Image.open(AAF / "images" / name).convert("RGB"))
        if condition.startswith("aligned"):
            margin = 0.3 if condition == "aligned (tight)" else 0.6
            crop = align_face(rgb, landmarks5_from_49(points[name]), 256, margin=margin).crop
        else:
            height, width = rgb.shape[:2]
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            crop = np.asarray(Image.fromarray(rgb[top:top + side, left:left + side]).resize((256, 256)))
        out.append({"rgb": crop})
    return out


def accepted(geometry: dict, params: dict) -> bool:
    return (geometry["single_face"] >= params["min_single_face"]
            and geometry.get("eye_spread", 1.0) <= params["max_eye_spread"]
            and geometry.get("eye_distance_cv", 1.0) <= params["max_eye_distance_cv"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--record", action="store_true", help="write the files used to the manifest")
    args = parser.parse_args()
    if not AAF.is_dir():
        sys.exit(f"{AAF} is absent: this calibration needs the shared All-Age-Faces folder")
    rule = next(r for r in load_rules().rules if r.name == "faceset-aligned-crops")
    points = landmarks()
    names = sorted(points)
    groups = [names[g * GROUP * STRIDE + 1::STRIDE][:GROUP] for g in range(args.groups)]
    detector = FaceDetector(min_face_px=24)
    print(f"thresholds: {rule.params}")
    print("| condition | groups accepted | single face | eye spread (min-max) "
          "| eye distance CV (min-max) | s/group |")
    print("|---|---|---|---|---|---|")
    for condition in ("aligned (tight)", "aligned (wide, DFL-like)", "centred square, unaligned"):
        results, seconds = [], []
        for group in groups:
            start = time.perf_counter()
            results.append(_geometry(crops(group, points, condition), detector))
            seconds.append(time.perf_counter() - start)
        spread = [r.get("eye_spread", float("nan")) for r in results]
        cv = [r.get("eye_distance_cv", float("nan")) for r in results]
        single = [r["single_face"] for r in results]
        ok = sum(accepted(r, rule.params) for r in results)
        print(f"| {condition} | {ok}/{len(results)} | {min(single):.2f}-{max(single):.2f} | "
              f"{min(spread):.4f}-{max(spread):.4f} | {min(cv):.3f}-{max(cv):.3f} | "
              f"{statistics.median(seconds):.2f} |")
    if args.record:
        from train.manifest import replace_set, rows_for_files
        used = [AAF / "landmarks49.csv"] + [AAF / "images" / n for group in groups for n in group]
        replace_set("tooling-faceset-calibration",
                    rows_for_files("tooling-faceset-calibration", "calibration", "shared:faces-aaf", "",
                                   AAF, used, "All-Age-Faces: research use"))
        print(f"recorded {len(used)} files in train/data-manifest.csv")


if __name__ == "__main__":
    main()
