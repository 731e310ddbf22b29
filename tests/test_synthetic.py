"""The ``synthetic`` signal: patch sampling, the NPR residual, scoring, video, policy, report.

Most tests use a tiny ONNX model built here with the real IO contract (patches in, three
logits out): its "diffusion" logit is ``GAIN * (mean brightness - 0.5)``, so brighter
patches look more generated and a test can place the evidence where it wants. The shipped
model is tested at the end, on images made at test time.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepscreen.config import ScanConfig
from deepscreen.findings import Finding
from deepscreen.html_report import render_synthetic
from deepscreen.media import decode, open_media
from deepscreen.policy import Policy
from deepscreen.scan import Scanner
from deepscreen.signals import available_signals
from deepscreen.signals.synthetic import SyntheticSignal
from deepscreen.synthetic import SyntheticDetector, SyntheticModel, grid_patches, npr_residual
from deepscreen.synthetic.model import MODELS_DIR

from media_factory import texture, video_bytes

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

GAIN = 8.0


def write_tiny_model(folder: Path, threshold: float = 0.6, grid: int = 4, families: int = 2) -> Path:
    """``families`` 2: classes real, gan, diffusion (attribution); 1: real, generated."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [
        helper.make_node("ReduceMean", ["patches"], ["mean"], axes=[1, 2, 3], keepdims=1),  # N x 1 x 1 x 1
        helper.make_node("Reshape", ["mean", "shape"], ["m"]),  # N x 1
        helper.make_node("Sub", ["m", "half"], ["centred"]),
        helper.make_node("Mul", ["centred", "gain"], ["v"]),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "minus30"], ["low"]),
        helper.make_node("Concat", ["z", "low", "v"] if families == 2 else ["z", "v"], ["logits"], axis=1),
    ]
    inits = [
        helper.make_tensor("shape", TensorProto.INT64, [2], [-1, 1]),
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("gain", TensorProto.FLOAT, [], [GAIN]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("minus30", TensorProto.FLOAT, [], [-30.0]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("patches", TensorProto.FLOAT, ["n", 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / "synthetic_npr.onnx").write_bytes(model.SerializeToString())
    (folder / "synthetic_npr.json").write_text(
        json.dumps(
            {
                "name": "tiny",
                "version": "0",
                "patch": 64,
                "grid": grid,
                "classes": ["real", "gan", "diffusion"] if families == 2 else ["real", "generated"],
                "threshold": threshold,
                "attribution_min_share": 0.7,
            }
        )
    )
    return folder


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    return write_tiny_model(tmp_path / "model")


def _signal(model_dir: Path, **options: object) -> SyntheticSignal:
    return SyntheticSignal(
        ScanConfig(
            signals=("synthetic",), signal_options={"synthetic": {"model_dir": str(model_dir), **options}}
        )
    )


def _item(data: bytes):
    item = open_media(data)
    decode(item)
    return item


def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


# --- patch sampling and the residual (no model) ---------------------------------------------


def test_a_megapixel_image_gives_a_4x4_grid_of_native_patches_on_the_jpeg_block_grid() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (800, 1000, 3), dtype=np.uint8)
    grid = grid_patches(rgb, 64, 4)
    assert (grid.rows, grid.cols) == (4, 4) and grid.patches.shape == (16, 64, 64, 3)
    for (x, y, w, h), patch in zip(grid.boxes, grid.patches, strict=True):
        assert x % 8 == 0 and y % 8 == 0 and x + w <= 1000 and y + h <= 800
        assert np.array_equal(patch, rgb[y : y + h, x : x + w])  # native pixels, never resized
    xs = sorted({b[0] for b in grid.boxes})
    assert xs[0] < 250 and xs[-1] > 750  # spread over the whole width


def test_small_images_get_fewer_patches_and_too_small_ones_are_refused() -> None:
    assert grid_patches(np.zeros((100, 140, 3), np.uint8)).patches.shape[0] == 2
    with pytest.raises(ValueError, match="smaller than one 64 px patch"):
        grid_patches(np.zeros((63, 500, 3), np.uint8))


def test_npr_residual_is_zero_on_nearest_upsampled_content_and_not_on_camera_like_noise() -> None:
    rng = np.random.default_rng(1)
    low = rng.random((2, 3, 16, 16)).astype(np.float32)
    upsampled = np.repeat(np.repeat(low, 2, axis=2), 2, axis=3)
    assert np.abs(npr_residual(upsampled)).max() == 0.0
    noisy = rng.random((1, 3, 32, 32)).astype(np.float32)
    residual = npr_residual(noisy)
    assert np.all(residual[:, :, ::2, ::2] == 0)  # each block's anchor pixel
    assert residual[0, 1, 4, 5] == pytest.approx(noisy[0, 1, 4, 5] - noisy[0, 1, 4, 4])
    assert residual[0, 2, 7, 6] == pytest.approx(noisy[0, 2, 7, 6] - noisy[0, 2, 6, 6])


def test_the_detector_averages_patch_log_odds_and_maps_where_the_evidence_is(tiny_model: Path) -> None:
    rgb = np.full((256, 256, 3), 128, np.uint8)
    rgb[:64, 192:] = 255  # one bright corner patch: top right
    result = SyntheticDetector(SyntheticModel(tiny_model)).score(rgb)
    scores = result.patch_scores
    assert scores.shape == (4, 4)
    assert (
        scores[0, 3] == scores.max() and scores[0, 3] > 0.95 and scores[3, 0] == pytest.approx(0.5, abs=0.02)
    )
    expected = 1 / (1 + np.exp(-np.mean(GAIN * (np.where(np.arange(16) == 3, 1.0, 128 / 255) - 0.5))))
    assert result.score == pytest.approx(expected, abs=1e-3)
    assert result.family_shares["diffusion"] > 0.99


# --- the signal -------------------------------------------------------------------------------


def test_the_signal_is_registered() -> None:
    assert available_signals()["synthetic"] is SyntheticSignal


def test_scores_an_image_with_attribution_and_patch_map(tiny_model: Path) -> None:
    bright = np.full((320, 320, 3), 250, np.uint8)
    finding = _signal(tiny_model).inspect(_item(_png(bright)))
    assert finding.score is not None and finding.score > 0.9
    assert "pixels-generated" in finding.labels and "synthetic:diffusion" in finding.labels
    assert finding.evidence["attribution"]["family"] == "diffusion"
    assert finding.evidence["patch_map"]["rows"] == 4 and len(finding.evidence["patch_map"]["scores"][0]) == 4
    dark = _signal(tiny_model).inspect(_item(_png(np.full((320, 320, 3), 40, np.uint8))))
    assert dark.score is not None and dark.score < 0.1 and dark.labels == ()
    assert dark.evidence["attribution"]["family"] == "undetermined"


def test_a_model_with_one_generated_class_detects_but_never_attributes(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "one-class", families=1)
    finding = _signal(model).inspect(_item(_png(np.full((320, 320, 3), 250, np.uint8))))
    assert finding.score is not None and finding.score > 0.9
    assert finding.evidence["attribution"]["family"] == "undetermined"
    assert finding.evidence["attribution"]["available"] is False
    assert finding.labels == ("pixels-generated", "synthetic:undetermined")


def test_abstains_on_images_too_small_to_judge(tiny_model: Path) -> None:
    finding = _signal(tiny_model).inspect(_item(_png(np.full((40, 200, 3), 200, np.uint8))))
    assert finding.score is None and "too small" in (finding.abstained or "")


def test_abstains_without_a_model(tmp_path: Path) -> None:
    finding = _signal(tmp_path / "nothing").inspect(_item(_png(np.zeros((128, 128, 3), np.uint8))))
    assert finding.abstained == "synthetic-image model not installed"


def test_a_malformed_model_description_abstains_with_the_reason(tiny_model: Path) -> None:
    (tiny_model / "synthetic_npr.json").write_text(json.dumps({"version": "1", "patch": 64}))
    finding = _signal(tiny_model).inspect(_item(_png(np.zeros((128, 128, 3), np.uint8))))
    assert finding.abstained is not None and "malformed" in finding.abstained


def test_video_frames_are_scored_with_a_timeline(tiny_model: Path) -> None:
    data = video_bytes(seconds=4.0, width=192, height=128)
    finding = _signal(tiny_model, max_frames=3).inspect(_item(data))
    assert finding.score is not None
    assert finding.evidence["frames_scored"] == 3 and len(finding.evidence["timeline"]) == 3
    assert [p["time_s"] for p in finding.evidence["timeline"]] == sorted(
        p["time_s"] for p in finding.evidence["timeline"]
    )


def test_unknown_options_are_a_configuration_error(tiny_model: Path) -> None:
    from deepscreen.errors import DeepscreenError

    with pytest.raises(DeepscreenError, match="unknown option"):
        _signal(tiny_model, frames=3)


# --- policy and report --------------------------------------------------------------------------


def test_the_default_policy_labels_generated_pixels_apart_from_declared_provenance(tiny_model: Path) -> None:
    policy = Policy.default()
    rule = next(r for r in policy.rules if r.name == "pixels-look-generated")
    assert rule.action == "label" and rule.reason == "pixels look generated"
    with Scanner(
        ScanConfig(signals=("synthetic",), signal_options={"synthetic": {"model_dir": str(tiny_model)}}),
        policy,
    ) as scanner:
        flagged = scanner.scan(_png(np.full((256, 256, 3), 250, np.uint8)))
        clean = scanner.scan(_png(np.full((256, 256, 3), 30, np.uint8)))
    assert flagged.action == "label"
    assert [r.reason for r in flagged.verdict.reasons] == ["pixels look generated"]
    assert clean.action == "allow"


def test_the_policy_threshold_is_the_shipped_models_calibrated_threshold() -> None:
    info = json.loads((MODELS_DIR / "synthetic_npr.json").read_text())
    rule = next(r for r in Policy.default().rules if r.name == "pixels-look-generated")
    assert rule.when.min_score == pytest.approx(info["threshold"], abs=1e-4)


def test_the_html_report_shows_score_attribution_and_patch_map() -> None:
    finding = Finding(
        signal="synthetic",
        version="1",
        score=0.91,
        labels=("pixels-generated",),
        evidence={
            "model": {"threshold": 0.8},
            "attribution": {"family": "<b>gan</b>", "shares": {"gan": 0.8, "diffusion": 0.2}},
            "patch_map": {"rows": 1, "cols": 2, "patch_px": 64, "scores": [[0.95, 0.3]]},
        },
    )
    html = render_synthetic(finding, "image")
    assert "0.910" in html and "above the threshold 0.800" in html
    assert "&lt;b&gt;gan&lt;/b&gt;" in html and "<b>gan</b>" not in html
    assert html.count("<rect") == 2 and 'class="patch-map"' in html
    abstained = render_synthetic(Finding.abstain("synthetic", "1", "image too small <x>"), "image")
    assert "image too small &lt;x&gt;" in abstained


# --- the shipped model --------------------------------------------------------------------------


def test_the_shipped_model_reads_only_the_neighbouring_pixel_residual() -> None:
    """Exported with its NPR front end: content whose every 2x2 block is flat leaves a zero
    residual, so two such images score exactly alike whatever they show; a camera-like image
    (noise inside the blocks) does not."""
    detector = SyntheticDetector(SyntheticModel())
    info = detector.model.info
    assert info.classes[0] == "real" and info.patch == 64 and 0.5 <= info.threshold < 1
    flat_blocks = []
    for seed in (0, 1):
        low = texture(192, 160, seed)
        flat_blocks.append(detector.score(np.asarray(Image.fromarray(low).resize((384, 320), Image.NEAREST))))
    assert flat_blocks[0].score == pytest.approx(flat_blocks[1].score, abs=1e-6)
    assert np.allclose(flat_blocks[0].patch_scores, flat_blocks[1].patch_scores, atol=1e-6)
    noise = np.random.default_rng(0).normal(0, 8, (320, 384, 3))
    camera = (texture(384, 320, 0).astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
    result = detector.score(camera)
    assert abs(result.score - flat_blocks[0].score) > 1e-3
    assert detector.score(camera).score == result.score  # deterministic
    assert 0.0 <= result.score <= 1.0 and result.patch_scores.shape == (4, 4)
