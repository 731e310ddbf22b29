"""Signal ``faces``: does a face in the image or video look swapped or reenacted?

Per sampled frame: detect faces (MTCNN), align each with the shared five-point alignment,
score the crops with the self-blended-images model (``face_sbi.onnx``). Video faces are
linked into tracks (one per person); a track's score is the mean of its frame scores, and
the item's score is its most manipulated track, so a single odd frame does not decide alone.

Options (``signal_options['faces']``):
  model_dir       folder holding face_sbi.onnx/.json and the detector [package models/]
  threads         threads per item: frames detected in parallel, face-model intra-op
                  threads [1: scanning already runs one worker process per core]
  min_face_px     smallest face (shorter box side, pixels) that is scored [64]
  detect_min_px   smallest face the detector looks for [48]
  max_faces       faces scored per frame, largest first [8]
  redetect_every  video: full detection on every Nth sampled frame; the frames between
                  look only around the previous frame's faces (5x cheaper), falling back
                  to a full search when they find none. 1 searches every frame [4]
  heatmap_cells   heatmap grid size in the evidence [14]
  thumbnails      add JPEG data URIs (key frame with boxes, crops with heatmaps) [false]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import DeepscreenError
from ..faces.align import align_face
from ..faces.detect import DETECTOR_VERSION, Face, FaceDetector
from ..faces.model import FaceModel, ModelNotInstalled
from ..faces.runs import StreamingDetection, detect_frames
from ..faces.track import link_tracks
from ..faces.visual import frame_with_boxes, heatmap_grid, heatmap_overlay, jpeg_data_uri
from ..findings import Finding
from ..media import Frame, FrameListener, Item
from .base import Signal
from .registry import register

_OPTIONS = frozenset({"model_dir", "threads", "min_face_px", "detect_min_px", "max_faces",
                      "redetect_every", "heatmap_cells", "thumbnails"})

_MAX_THUMBNAIL_FACES = 6  # crops shown per item: the best frame of each of the top tracks


@dataclass
class _ScoredFace:
    frame: Frame
    face: Face
    track: int
    slot: int  # position among the faces detected in its frame
    score: float | None = None  # None: too small to judge
    heatmap: np.ndarray | None = None
    crop: np.ndarray | None = None


@register
class FacesSignal(Signal):
    name: ClassVar[str] = "faces"
    version: ClassVar[str] = "1"
    kinds = frozenset({"image", "video"})
    needs_pixels = True
    description = ("Manipulated faces (swap, reenactment): MTCNN detection, self-blended-images "
                   "model per face, tracks over video time.")

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        opts = self.options
        unknown = set(opts) - _OPTIONS
        if unknown:
            raise DeepscreenError(f"signal_options.faces: unknown option(s) "
                                  f"{', '.join(sorted(unknown))}; known: {', '.join(sorted(_OPTIONS))}")
        self._model_dir = Path(opts["model_dir"]).expanduser() if opts.get("model_dir") else None
        self._threads = int(_number(opts, "threads", 1, 1, 64))
        self._min_face = _number(opts, "min_face_px", 64, 12, 10_000)
        self._detect_min = _number(opts, "detect_min_px", min(48.0, self._min_face), 12, 10_000)
        self._max_faces = int(_number(opts, "max_faces", 8, 1, 1000))
        self._redetect_every = int(_number(opts, "redetect_every", 4, 1, 1000))
        self._cells = int(_number(opts, "heatmap_cells", 14, 1, 64))
        self._thumbnails = bool(opts.get("thumbnails", False))
        self._detector: FaceDetector | None = None
        self._model: FaceModel | None = None
        self._unavailable: str | None = None  # why the models cannot load, once known
        self._pool: ThreadPoolExecutor | None = None
        # Detection started by prefetch() for the item being decoded: (item, its stream).
        self._streaming: tuple[Item, StreamingDetection] | None = None
        # Scores computed on the detection threads, by (frame index, time, slot).
        self._prescored: dict[tuple[int, float, int],
                              tuple[float, np.ndarray, np.ndarray | None]] = {}

    # --- lazily loaded models: scanning without faces installed costs nothing ---------------

    def _load(self) -> str | None:
        if self._model is None and self._unavailable is None:
            try:
                self._model = FaceModel(self._model_dir, threads=self._threads,
                                        providers=self.config.onnx_providers)
            except ModelNotInstalled:
                self._unavailable = "face model not installed"
            except (ValueError, OSError) as exc:
                self._unavailable = f"face model unusable: {exc}"
        if self._model is not None and self._detector is None:
            # model_dir may hold only the face model (a retrained one, or a test's); the
            # detector then comes from the package.
            folders = [d for d in (self._model_dir, None) if d is None or
                       (d / "face_detector_pnet.onnx").is_file()]
            try:
                self._detector = FaceDetector(folders[0], min_face_px=self._detect_min,
                                              providers=self.config.onnx_providers)
            except FileNotFoundError:
                self._unavailable = "face detector not installed"
        return self._unavailable

    # --- the signal -----------------------------------------------------------------------

    def inspect(self, item: Item) -> Finding:
        reason = self._load()
        if reason is not None:
            return self.abstain(reason)
        assert self._model is not None and self._detector is not None
        frames = item.frames
        if not frames:
            return self.abstain("no decoded frames")
        detections = [found[: self._max_faces * 4] for found in self._detect_all(item)]
        tracks = link_tracks([[f.box for f in faces] for faces in detections])
        track_of = {member: track.id for track in tracks for member in track.members}
        faces = [_ScoredFace(frame, face, track_of[(t, j)], j)
                 for t, (frame, found) in enumerate(zip(frames, detections, strict=True))
                 for j, face in enumerate(found)]
        common = {"frames_sampled": len(frames), "faces_detected": len(faces),
                  "detector": DETECTOR_VERSION, "min_face_px": self._min_face}
        if not faces:
            return self.abstain("no face found", **common)
        judged = self._judgeable(faces)
        if not judged:
            largest = max(f.face.size for f in faces)
            return self.abstain(f"faces too small to judge (largest {largest:.0f} px, "
                                f"minimum {self._min_face:.0f} px)", **common,
                                faces=[self._face_evidence(f) for f in faces])
        self._score(judged)
        return self._finding(item, faces, common)

    def _detect_all(self, item: Item) -> list[list[Face]]:
        """Faces in every frame: streamed while decoding when :meth:`prefetch` ran, else now.

        onnxruntime and OpenCV release the GIL, so the runs really run in parallel.
        """
        assert self._detector is not None
        streamed, self._streaming = self._streaming, None
        if streamed is not None and streamed[0] is item:
            found = streamed[1].results(item.frames)
            if found is not None:
                return found
        self._prescored = {}  # scores from a stream that did not match are void
        pool = self._get_pool() if self._threads > 1 else None
        return detect_frames(self._detector, item.frames, self._redetect_every, pool)

    def prefetch(self, item: Item) -> FrameListener | None:
        """Start detecting faces in each video frame as soon as it is decoded."""
        self._streaming = None
        if item.kind != "video" or self._load() is not None:
            return None
        assert self._detector is not None
        self._prescored = {}
        stream = StreamingDetection(self._detector, self._redetect_every,
                                    self._get_pool().submit, self._score_streamed)
        self._streaming = (item, stream)
        return stream

    def _get_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="faces")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def _judgeable(self, faces: list[_ScoredFace]) -> list[_ScoredFace]:
        """Faces big enough to score, at most ``max_faces`` per frame (largest first)."""
        by_frame: dict[int, list[_ScoredFace]] = {}
        for f in faces:
            by_frame.setdefault(f.frame.index, []).append(f)
        return [group[j] for group in by_frame.values()
                for j in self._judged_slots([f.face for f in group])]

    def _judged_slots(self, found: list[Face]) -> list[int]:
        """Which of one frame's faces get scored: big enough, at most ``max_faces``."""
        big = [j for j, face in enumerate(found) if face.size >= self._min_face]
        return sorted(big, key=lambda j: -found[j].size)[: self._max_faces]

    def _score(self, faces: list[_ScoredFace]) -> None:
        """Score faces, reusing the scores computed while the video was decoding."""
        done, self._prescored = self._prescored, {}
        todo = []
        for f in faces:
            known = done.get((f.frame.index, f.frame.time_s, f.slot))
            if known is None:
                todo.append(f)
            else:
                f.score, f.heatmap, f.crop = known
        if todo:
            for f, known in zip(todo, self._predict([(f.frame, f.face) for f in todo]),
                                strict=True):
                f.score, f.heatmap, f.crop = known

    def _predict(self, faces: list[tuple[Frame, Face]]
                 ) -> list[tuple[float, np.ndarray, np.ndarray | None]]:
        """Align and score faces: (score, heatmap, crop if thumbnails are wanted) each."""
        assert self._model is not None
        info = self._model.info
        crops = np.stack([align_face(frame.rgb, face.landmarks_array(), info.input_size,
                                     info.align_margin).crop for frame, face in faces])
        prediction = self._model.predict(crops)
        return [(float(score), heat, crop if self._thumbnails else None)
                for crop, score, heat in zip(crops, prediction.scores, prediction.heatmaps,
                                             strict=True)]

    def _score_streamed(self, frame: Frame, found: list[Face]) -> None:
        """Score one frame's faces as soon as they are detected (on a detection thread)."""
        found = found[: self._max_faces * 4]
        slots = self._judged_slots(found)
        if slots:
            results = self._predict([(frame, found[j]) for j in slots])
            for j, known in zip(slots, results, strict=True):
                self._prescored[(frame.index, frame.time_s, j)] = known

    def _finding(self, item: Item, faces: list[_ScoredFace], common: dict[str, Any]) -> Finding:
        assert self._model is not None
        info = self._model.info
        scored = [f for f in faces if f.score is not None]
        tracks = _track_summaries(scored)
        best = max(tracks, key=lambda t: t["score"])
        evidence: dict[str, Any] = {
            **common,
            "model": {"name": info.name, "version": info.version, "threshold": info.threshold},
            "item_score_rule": "max over tracks of the mean per-frame face score",
            "tracks": tracks,
            "faces": [self._face_evidence(f) for f in faces],
        }
        if item.kind == "video":
            evidence["timeline"] = _timeline(item.frames, scored)
        if self._thumbnails:
            evidence["thumbnails"] = self._thumbnail_evidence(faces, tracks, info.threshold)
        n = len(tracks)
        people = "face" if n == 1 else "faces"
        return Finding(
            signal=self.name, version=f"{self.version}+{info.name}-{info.version}",
            score=min(1.0, max(0.0, best["score"])), labels=(f"faces:{n}",),
            summary=f"{n} {people} scored; most manipulated-looking: track {best['id']} "
                    f"(mean {best['score']:.3f}, max {best['max_score']:.3f})",
            evidence=evidence,
        )

    def _face_evidence(self, f: _ScoredFace) -> dict[str, Any]:
        data: dict[str, Any] = {"track": f.track, "frame": f.frame.index,
                                "time_s": round(f.frame.time_s, 3), **f.face.to_dict(),
                                "size_px": round(f.face.size, 1)}
        if f.score is None:
            data["score"] = None
            data["skipped"] = "too small" if f.face.size < self._min_face else "over max_faces"
        else:
            data["score"] = round(f.score, 4)
            if f.heatmap is not None:
                data["heatmap"] = heatmap_grid(f.heatmap, self._cells)
        return data

    def _thumbnail_evidence(self, faces: list[_ScoredFace], tracks: list[dict[str, Any]],
                            threshold: float | None) -> dict[str, Any]:
        scored = [f for f in faces if f.score is not None]
        key = max(scored, key=lambda f: f.score or 0.0)
        on_key_frame = [f for f in faces if f.frame.index == key.frame.index]
        picture = frame_with_boxes(key.frame.rgb, [f.face.box for f in on_key_frame],
                                   [f.score for f in on_key_frame], threshold)
        crops = []
        for track in sorted(tracks, key=lambda t: -t["score"])[:_MAX_THUMBNAIL_FACES]:
            top = max((f for f in scored if f.track == track["id"]), key=lambda f: f.score or 0.0)
            if top.crop is None or top.heatmap is None:
                continue
            crops.append({"track": track["id"], "frame": top.frame.index,
                          "time_s": round(top.frame.time_s, 3), "score": round(top.score or 0, 4),
                          "image": jpeg_data_uri(heatmap_overlay(top.crop, top.heatmap))})
        return {"key_frame": {"frame": key.frame.index, "time_s": round(key.frame.time_s, 3),
                              "image": jpeg_data_uri(picture)},
                "crops": crops}


def _number(options: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    """A numeric option within [low, high], or a configuration error that names it."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise DeepscreenError(f"signal_options.faces.{key} must be a number in [{low:g}, {high:g}], "
                              f"got {value!r}")
    return float(value)


def _track_summaries(scored: list[_ScoredFace]) -> list[dict[str, Any]]:
    """Per track: its time span and the mean and max of its per-frame scores."""
    by_track: dict[int, list[_ScoredFace]] = {}
    for f in scored:
        by_track.setdefault(f.track, []).append(f)
    summaries = []
    for track_id, members in sorted(by_track.items()):
        scores = [f.score for f in members if f.score is not None]
        summaries.append({
            "id": track_id,
            "frames": len(members),
            "start_s": round(min(f.frame.time_s for f in members), 3),
            "end_s": round(max(f.frame.time_s for f in members), 3),
            "score": round(float(np.mean(scores)), 4),
            "max_score": round(float(np.max(scores)), 4),
        })
    return summaries


def _timeline(frames: list[Frame], scored: list[_ScoredFace]) -> list[dict[str, Any]]:
    """For every sampled frame: the highest face score in it (None where no face was scored)."""
    best: dict[int, float] = {}
    for f in scored:
        if f.score is not None:
            best[f.frame.index] = max(best.get(f.frame.index, 0.0), f.score)
    return [{"time_s": round(frame.time_s, 3),
             "score": round(best[frame.index], 4) if frame.index in best else None}
            for frame in frames]
