"""Real faces from video clips, as extra training crops next to the All-Age-Faces photos.

Photos and video frames differ in ways a blending detector notices: video faces are softer,
re-encoded and lit differently. Self-blending real *video* faces teaches the model that those
traits belong to real faces too (the pair's real and fake share them), so only the blend is a
cue.

Video clips have no 49-point landmarks, only the detector's five points. The blend mask then
comes from the mean All-Age-Faces face shape, fitted to each face's five points by a
similarity transform: a plausible face outline that the mask's own random deformation varies
further.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np

from deepscreen.faces.align import align_face, landmarks5_from_49, transform_points
from deepscreen.faces.detect import FaceDetector

from .data import CropCache, load_crop_cache

MIN_FACE_PX = 64  # the runtime scores faces from 64 px; smaller ones teach nothing useful


def fit_shape(mean49: np.ndarray, points5: np.ndarray) -> np.ndarray:
    """The mean 49-point shape moved onto a face's five points (similarity, least squares)."""
    anchor = landmarks5_from_49(mean49)
    # Umeyama fit of the shape's five anchor points onto the detected ones.
    src, dst = anchor.astype(np.float64), np.asarray(points5, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = (s * sign).sum() / max((src_c**2).sum() / len(src), 1e-9)
    shift = dst_mean - scale * rotation @ src_mean
    return (np.asarray(mean49, np.float64) @ (scale * rotation).T + shift).astype(np.float32)


def sample_frames(path: Path, fps: float) -> list[np.ndarray]:
    """RGB frames of ``path`` at about ``fps`` frames per second (decoded in order)."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        next_time = 0.0
        for frame in container.decode(stream):
            if frame.time is None or frame.time + 1e-6 < next_time:
                continue
            frames.append(frame.to_ndarray(format="rgb24"))
            next_time = frame.time + 1.0 / fps
    return frames


def build_video_cache(clips: list[Path], out_dir: Path, size: int, margin: float,
                      mean49: np.ndarray, fps: float) -> CropCache:
    """Detect, align and store the largest face of each sampled frame of every clip.

    ``mean49`` is the mean All-Age-Faces shape in crop coordinates (same size and margin).
    Reuses an existing cache built from the same clips, size, margin and rate.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    meta_path = out_dir / "meta.json"
    key = {"clips": [c.name for c in clips], "size": size, "margin": margin, "fps": fps}
    if meta_path.exists() and json.loads(meta_path.read_text()).get("key") == key:
        return load_crop_cache(out_dir)
    detector = FaceDetector(min_face_px=MIN_FACE_PX, max_side=640)
    crops, shapes, names = [], [], []
    for clip in clips:
        for index, rgb in enumerate(sample_frames(clip, fps)):
            faces = [f for f in detector.detect(rgb)
                     if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= MIN_FACE_PX]
            if not faces:
                continue
            face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            points5 = np.asarray(face.landmarks, np.float32)
            aligned = align_face(rgb, points5, size, margin)
            crops.append(aligned.crop)
            shapes.append(fit_shape(mean49, transform_points(points5, aligned.matrix)))
            names.append(f"{clip.name}#{index}")
    array = np.lib.format.open_memmap(out_dir / "crops.npy", mode="w+", dtype=np.uint8,
                                      shape=(len(crops), size, size, 3))
    if crops:
        array[:] = np.stack(crops)
    array.flush()
    np.save(out_dir / "landmarks.npy", np.asarray(shapes, np.float32).reshape(-1, 49, 2))
    meta_path.write_text(json.dumps({"size": size, "margin": margin, "requested": len(names),
                                     "names": names, "key": key}))
    return load_crop_cache(out_dir)


def mean_shape(cache: CropCache) -> np.ndarray:
    """Mean 49-point landmarks of an aligned crop cache (crop coordinates)."""
    return np.asarray(cache.landmarks, np.float32).mean(axis=0)


def concat_caches(first: CropCache, second: CropCache) -> CropCache:
    """One cache holding both (in memory); names stay unique by their prefixes."""
    if (first.size, first.margin) != (second.size, second.margin):
        raise ValueError("caches differ in crop size or margin")
    return CropCache(np.concatenate([np.asarray(first.crops), np.asarray(second.crops)]),
                     np.concatenate([first.landmarks, second.landmarks]),
                     first.names + second.names, first.size, first.margin)


