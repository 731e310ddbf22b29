"""The ``faces`` signal end to end, with a tiny ONNX model that keeps the real IO contract.

The tiny model's logit is ``GAIN * mean(normalised crop)``: brighter faces score higher, so a
test can make one person "more manipulated" than another and check which track wins.
"""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from deepscreen.config import ScanConfig
from deepscreen.faces.align import align_face
from deepscreen.media import decode, open_media
from deepscreen.scan import Scanner
from deepscreen.signals.faces import FacesSignal

from media_factory import video_bytes

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

SIZE = 64  # crop size of the tiny model
GAIN = 4.0
MARGIN = 0.3
FACE_PHOTO = "00000A02.jpg"


def write_tiny_model(folder: Path, threshold: float = 0.5) -> Path:
    """face_sbi.onnx + face_sbi.json with input [N,3,S,S] -> logit [N], mask [N,1,S/8,S/8]."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "gain"], ["logit"]),
        helper.make_node("ReduceMean", ["input"], ["grey"], axes=[1], keepdims=1),
        helper.make_node("AveragePool", ["grey"], ["mask"], kernel_shape=[8, 8], strides=[8, 8]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_face_sbi",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, SIZE // 8, SIZE // 8])],
        initializer=[helper.make_tensor("gain", TensorProto.FLOAT, [], [GAIN])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "face_sbi.onnx"))
    meta = {"name": "face-sbi-tiny", "version": "test", "input_size": SIZE, "input_name": "input",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "outputs": {"logit": "logit", "mask": "mask"}, "align_margin": MARGIN,
            "threshold": threshold}
    (folder / "face_sbi.json").write_text(json.dumps(meta))
    return folder


def expected_score(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """What the tiny model must give for this face, computed without the signal."""
    crop = align_face(rgb, landmarks, SIZE, MARGIN).crop.astype(np.float64)
    return float(1 / (1 + np.exp(-GAIN * ((crop / 255 - 0.5) / 0.5).mean())))


def make_config(model_dir: Path, **options: object) -> ScanConfig:
    return ScanConfig(signals=("faces",),
                      signal_options={"faces": {"model_dir": str(model_dir), **options}})


def item_from(data: bytes):  # type: ignore[no-untyped-def]
    return decode(open_media(data, name="test"))


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "models")


@pytest.fixture(scope="module")
def face_rgb(shared_data: Path) -> np.ndarray:
    return np.asarray(Image.open(shared_data / "faces-aaf" / "images" / FACE_PHOTO).convert("RGB"))


def test_abstains_when_the_model_is_not_installed(tmp_path: Path) -> None:
    signal = FacesSignal(make_config(tmp_path / "empty"))
    finding = signal.inspect(item_from(png(np.full((64, 64, 3), 100, np.uint8))))
    assert finding.score is None
    assert finding.abstained == "face model not installed"


def test_abstains_on_a_frame_without_a_face(tiny_model: Path) -> None:
    rng = np.random.default_rng(3)
    finding = FacesSignal(make_config(tiny_model)).inspect(
        item_from(png(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))))
    assert finding.score is None
    assert finding.abstained == "no face found"
    assert finding.evidence["frames_sampled"] == 1


def test_a_malformed_model_description_abstains_with_the_reason(tiny_model: Path) -> None:
    (tiny_model / "face_sbi.json").write_text('{"name": "x"}')
    finding = FacesSignal(make_config(tiny_model)).inspect(
        item_from(png(np.full((64, 64, 3), 100, np.uint8))))
    assert finding.score is None
    assert finding.abstained is not None and "input_size" in finding.abstained


@pytest.mark.shared_data
def test_abstains_on_faces_below_the_minimum_size(tiny_model: Path, face_rgb: np.ndarray) -> None:
    finding = FacesSignal(make_config(tiny_model, min_face_px=400)).inspect(
        item_from(png(face_rgb)))
    assert finding.score is None
    assert finding.abstained is not None and finding.abstained.startswith("faces too small")
    assert "minimum 400 px" in finding.abstained
    assert finding.evidence["faces_detected"] == 1


@pytest.mark.shared_data
def test_abstains_on_a_genuinely_small_face_with_default_options(
        tiny_model: Path, face_rgb: np.ndarray) -> None:
    photo = Image.fromarray(face_rgb)
    small = photo.resize((round(photo.width / 3), round(photo.height / 3)), Image.LANCZOS)
    canvas = Image.new("RGB", (320, 240), (70, 90, 110))
    canvas.paste(small, (100, 60))  # a face of about 50 px: found, but below the 64 px minimum
    finding = FacesSignal(make_config(tiny_model)).inspect(item_from(png(np.asarray(canvas))))
    assert finding.score is None
    assert finding.abstained is not None and finding.abstained.startswith("faces too small")
    face = finding.evidence["faces"][0]
    assert face["score"] is None and face["skipped"] == "too small" and face["size_px"] < 64


@pytest.mark.shared_data
def test_scores_each_face_in_an_image(tiny_model: Path, face_rgb: np.ndarray) -> None:
    finding = FacesSignal(make_config(tiny_model)).inspect(item_from(png(face_rgb)))
    assert finding.abstained is None
    assert finding.labels == ("faces:1",)
    face = finding.evidence["faces"][0]
    # The score is the model's on the crop aligned from the landmarks the evidence reports.
    landmarks = np.array(face["landmarks"], np.float32)
    assert face["score"] == pytest.approx(expected_score(face_rgb, landmarks), abs=2e-3)
    assert finding.score == pytest.approx(face["score"], abs=1e-3)
    assert len(face["landmarks"]) == 5 and len(face["box"]) == 4
    heatmap = np.array(face["heatmap"])
    assert heatmap.shape == (14, 14) and 0 <= heatmap.min() <= heatmap.max() <= 1
    assert "thumbnails" not in finding.evidence  # only when asked for
    assert finding.version == "1+face-sbi-tiny-test"


@pytest.mark.shared_data
def test_thumbnails_are_jpeg_data_uris_when_asked_for(tiny_model: Path,
                                                      face_rgb: np.ndarray) -> None:
    finding = FacesSignal(make_config(tiny_model, thumbnails=True)).inspect(
        item_from(png(face_rgb)))
    thumbs = finding.evidence["thumbnails"]
    assert thumbs["key_frame"]["image"].startswith("data:image/jpeg;base64,")
    assert len(thumbs["crops"]) == 1
    assert thumbs["crops"][0]["image"].startswith("data:image/jpeg;base64,")


def two_person_video(face: np.ndarray, seconds: int = 4, fps: int = 5) -> bytes:
    """A PyAV-encoded clip: a dim person walking on the left, a bright one still on the right."""
    height, width = 480, 800
    dim = (face * 0.6).astype(np.uint8)
    bright = np.clip(face.astype(np.int16) + 70, 0, 255).astype(np.uint8)
    fh, fw = face.shape[:2]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(seconds * fps):
            canvas = np.full((height, width, 3), 60, np.uint8)
            x = 10 + 6 * i  # moves 30 px per second: still overlaps at 1 fps sampling
            canvas[60:60 + fh, x:x + fw] = dim
            canvas[60:60 + fh, width - fw - 10:width - 10] = bright
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


@pytest.mark.shared_data
@pytest.mark.parametrize(("threads", "every"), [(1, 1), (2, 1), (2, 3)])  # 2: parallel threads
def test_video_gets_tracks_a_timeline_and_the_max_track_as_item_score(
        tiny_model: Path, face_rgb: np.ndarray, threads: int, every: int) -> None:
    video = two_person_video(face_rgb)
    with Scanner(make_config(tiny_model, threads=threads, redetect_every=every)) as scanner:
        report = scanner.scan(video, name="two-people.mp4")
    finding = report.finding("faces")
    assert finding is not None and finding.abstained is None, finding
    evidence = finding.evidence
    tracks = evidence["tracks"]
    assert len(tracks) == 2 and finding.labels == ("faces:2",)
    assert all(t["frames"] == 4 for t in tracks)
    by_track = {t["id"]: [f for f in evidence["faces"] if f["track"] == t["id"]] for t in tracks}
    moved = sorted(abs(fs[-1]["box"][0] - fs[0]["box"][0]) for fs in by_track.values())
    assert moved[0] < 10 < 60 < moved[1]  # one person sits still, the other walks 90 px
    bright = max(tracks, key=lambda t: t["score"])
    assert finding.score == pytest.approx(bright["score"], abs=1e-4)
    assert finding.score == pytest.approx(max(t["score"] for t in tracks), abs=1e-4)
    for t in tracks:
        scores = [f["score"] for f in by_track[t["id"]]]
        assert t["score"] == pytest.approx(np.mean(scores), abs=1e-3)
        assert t["max_score"] == pytest.approx(max(scores), abs=1e-4)
    timeline = evidence["timeline"]
    assert [round(p["time_s"]) for p in timeline] == [0, 1, 2, 3]
    for point in timeline:
        at = [f["score"] for f in evidence["faces"] if round(f["time_s"]) == round(point["time_s"])]
        assert point["score"] == pytest.approx(max(at), abs=1e-4)
    assert report.to_json()  # the evidence serialises


@pytest.mark.shared_data
@pytest.mark.parametrize("every", [1, 2])
def test_faces_found_while_decoding_equal_those_found_after(tiny_model: Path,
                                                            face_rgb: np.ndarray,
                                                            every: int) -> None:
    video = two_person_video(face_rgb)
    config = make_config(tiny_model, threads=2, redetect_every=every)
    with Scanner(config) as scanner:  # the Scanner streams frames to the signal
        streamed = scanner.scan(video, name="two-people.mp4").finding("faces")
    signal = FacesSignal(config)
    try:
        after = signal.inspect(item_from(video))  # decoded first, no stream
    finally:
        signal.close()
    assert streamed is not None and streamed.abstained is None
    assert streamed.evidence["faces"] == after.evidence["faces"]
    assert streamed.score == after.score


@pytest.mark.shared_data
def test_a_phone_portrait_video_is_judged_upright(tiny_model: Path, face_rgb: np.ndarray) -> None:
    # Phones store portrait video as landscape frames with the face on its side, plus a display
    # matrix that turns it upright (clockwise: FFmpeg's angle -90). The detector finds no face
    # lying on its side, so only frames turned as players show them can be judged.
    canvas = np.full((480, 352, 3), 60, np.uint8)
    fh, fw = face_rgb.shape[:2]  # 345 x 306
    canvas[40:40 + fh, 20:20 + fw] = face_rgb
    sideways = np.ascontiguousarray(np.rot90(canvas, 1))  # as the phone stores it: 352 x 480
    marked = video_bytes(frames=[sideways] * 10, fps=5, display_rotation=-90)
    unmarked = video_bytes(frames=[sideways] * 10, fps=5)
    with Scanner(make_config(tiny_model)) as scanner:
        upright = scanner.scan(marked, name="portrait.mp4")
        on_its_side = scanner.scan(unmarked, name="sideways.mp4")
    finding = upright.finding("faces")
    assert finding is not None and finding.abstained is None, finding
    assert len(finding.evidence["tracks"]) == 1
    assert (upright.item.width, upright.item.height) == (352, 480)
    box = finding.evidence["faces"][0]["box"]  # in the upright frame, where the face was put
    assert box[0] < 20 + fw and box[1] < 40 + fh and box[2] > 20 and box[3] > 40
    assert on_its_side.finding("faces").abstained == "no face found"


def test_face_model_batches_and_normalises_as_its_json_says(tiny_model: Path) -> None:
    from deepscreen.faces.model import FaceModel

    crops = np.random.default_rng(1).integers(0, 256, (5, SIZE, SIZE, 3), dtype=np.uint8)
    whole = FaceModel(tiny_model).predict(crops)
    split = FaceModel(tiny_model, batch_size=2).predict(crops)
    assert np.allclose(whole.scores, split.scores) and np.allclose(whole.heatmaps, split.heatmaps)
    normalised = (crops.astype(np.float64) / 255 - 0.5) / 0.5
    expected = 1 / (1 + np.exp(-GAIN * normalised.mean(axis=(1, 2, 3))))
    assert np.allclose(whole.scores, expected, atol=1e-5)
    assert whole.heatmaps.shape == (5, SIZE // 8, SIZE // 8)
    with pytest.raises(ValueError, match="uint8 crops"):
        FaceModel(tiny_model).predict(crops[:, :32])


def test_a_model_without_the_promised_output_is_unusable(tiny_model: Path) -> None:
    meta = json.loads((tiny_model / "face_sbi.json").read_text())
    meta["outputs"] = {"logit": "score", "mask": "mask"}
    (tiny_model / "face_sbi.json").write_text(json.dumps(meta))
    finding = FacesSignal(make_config(tiny_model)).inspect(
        item_from(png(np.full((64, 64, 3), 100, np.uint8))))
    assert finding.abstained is not None
    assert finding.abstained.startswith("face model unusable") and "score" in finding.abstained


@pytest.mark.parametrize("options", [{"threads": 0}, {"min_face_px": "big"}, {"tumbnails": True},
                                     {"max_faces": True}])
def test_bad_options_are_configuration_errors_that_name_the_option(
        tmp_path: Path, options: dict[str, object]) -> None:
    from deepscreen.errors import DeepscreenError

    with pytest.raises(DeepscreenError, match=r"signal_options\.faces"):
        FacesSignal(make_config(tmp_path, **options))
