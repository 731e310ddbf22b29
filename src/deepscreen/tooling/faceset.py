"""Face sets: an archive of many aligned face crops, the material a face swap is trained on.

What can be judged offline, and what cannot:

* **Aligned crops** can. Extraction tools warp every face to one template, so in a face set
  the crops are square, of one size, hold one face each, and the eyes sit at nearly the same
  place and distance in every crop. Ordinary photo albums do not look like that. A sample of
  members is read (bounded), decoded, and run through Deepscreen's MTCNN detector.
* **Naming** can: DeepFaceLab and faceswap name an extracted face ``<frame>_<index>``.
* **One identity** cannot. Deepscreen has no face-recognition model, and eye geometry or
  colour statistics do not tell people apart reliably; claiming "one person" would be a
  guess. The evidence says so (``identity_judged: false``). A set of aligned crops of several
  people (a swap tool's pre-training set) matches too, which is still tooling material.
"""

from __future__ import annotations

import io
import statistics
from collections import Counter
from typing import Any

import numpy as np
from PIL import Image

from .context import MatchContext
from .facts import Facts, read_facts
from .layout import ALIGNED_NAME, basename, is_image_name

MEMBER_LIMIT = 8 << 20  # bytes read per sampled member
MAX_MEMBER_PIXELS = 16_000_000
IDENTITY_NOTE = ("identity not judged: Deepscreen has no face-recognition model, so whether "
                 "the crops show one person is unknown")


def _sample(images: list[str], count: int) -> list[str]:
    ordered = sorted(images)
    if len(ordered) <= count:
        return ordered
    step = len(ordered) / count
    return [ordered[int(i * step)] for i in range(count)]


def _inspect_members(facts: Facts, images: list[str], count: int) -> list[dict[str, Any]]:
    """Size, squareness, tool metadata and pixels of a sample of image members."""
    assert facts.read_members is not None
    chosen = _sample(images, count)
    data = facts.read_members(chosen, MEMBER_LIMIT)
    found = []
    for name in chosen:
        raw = data.get(name)
        if raw is None:
            continue
        record: dict[str, Any] = {"name": name}
        try:
            with Image.open(io.BytesIO(raw)) as image:
                width, height = image.size
                if width * height > MAX_MEMBER_PIXELS:
                    continue
                record["size"] = (width, height)
                image.draft("RGB", (width, height))
                record["rgb"] = np.asarray(image.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            continue
        record["square"] = abs(width - height) <= 0.02 * max(width, height)
        member_facts = read_facts(memoryview(raw), name=basename(name))
        record["tool_metadata"] = bool(
            "jpeg-app15" in member_facts.pickles or "png-fcwp" in member_facts.pickles
            or "png-itxt-faceswap" in member_facts.literals)
        found.append(record)
    return found


def _geometry(samples: list[dict[str, Any]], detector: Any) -> dict[str, Any]:
    """Single-face share, and the spread of eye centres and eye distance across crops."""
    centres, distances, single = [], [], 0
    for record in samples:
        rgb = record["rgb"]
        height, width = rgb.shape[:2]
        faces = [f for f in detector.detect(rgb) if f.score >= 0.9]
        if len(faces) != 1 or faces[0].size < 0.25 * width:
            continue
        single += 1
        (lx, ly), (rx, ry) = faces[0].landmarks[0], faces[0].landmarks[1]
        centres.append(((lx + rx) / 2 / width, (ly + ry) / 2 / height))
        distances.append(float(np.hypot(rx - lx, ry - ly)) / width)
    result: dict[str, Any] = {"single_face": round(single / len(samples), 3) if samples else 0.0}
    if len(centres) >= 3:
        xs, ys = zip(*centres, strict=True)
        result["eye_spread"] = round(max(statistics.pstdev(xs), statistics.pstdev(ys)), 4)
        result["eye_distance_cv"] = round(statistics.pstdev(distances) / statistics.mean(distances), 4)
        result["eye_centre"] = [round(statistics.mean(xs), 3), round(statistics.mean(ys), 3)]
    return result


def judge_faceset(facts: Facts, params: dict[str, Any], ctx: MatchContext) -> dict[str, Any] | None:
    listing = facts.listing or []
    images = [n for n in listing if is_image_name(n) and "__MACOSX/" not in n]
    if len(images) < int(params.get("min_images", 20)):
        return None
    named = sum(1 for n in images if ALIGNED_NAME.match(basename(n)))
    naming = named / len(images)
    if naming < float(params.get("min_naming", 0.0)):
        return None
    if facts.read_members is None:
        return None
    count = int(params.get("sample", 16))
    key = f"faceset-samples-{count}"
    if key not in ctx.cache:
        ctx.cache[key] = _inspect_members(facts, images, count)
    samples: list[dict[str, Any]] = ctx.cache[key]
    if len(samples) < 3:
        return None
    squares = [s for s in samples if s["square"]]
    sizes = Counter(s["size"] for s in samples)
    dominant = sizes.most_common(1)[0][1] / len(samples)
    min_square = float(params.get("min_square", 0.8))
    if len(squares) / len(samples) < min_square or dominant < min_square:
        return None
    evidence: dict[str, Any] = {
        "images": len(images), "sampled": len(samples),
        "named_like_extracted_faces": round(naming, 3),
        "square": round(len(squares) / len(samples), 3),
        "sizes": {f"{w}x{h}": n for (w, h), n in sizes.most_common(3)},
        "with_tool_metadata": sum(1 for s in samples if s["tool_metadata"]),
        "identity_judged": False, "identity_note": IDENTITY_NOTE,
    }
    if params.get("detect_faces", True):
        if ctx.face_detector is None:
            return None
        geo_key = f"faceset-geometry-{count}"
        if geo_key not in ctx.cache:
            detector = ctx.face_detector()
            ctx.cache[geo_key] = None if detector is None else _geometry(squares, detector)
        geometry = ctx.cache[geo_key]
        if geometry is None:
            return None
        evidence.update(geometry)
        if geometry["single_face"] < float(params.get("min_single_face", 0.6)):
            return None
        if geometry.get("eye_spread", 1.0) > float(params.get("max_eye_spread", 0.02)):
            return None
        if geometry.get("eye_distance_cv", 1.0) > float(params.get("max_eye_distance_cv", 0.12)):
            return None
    return evidence
