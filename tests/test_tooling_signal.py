"""The ``tooling`` signal in the pipeline: findings, labels, policy verdicts, archives, face sets."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import tooling_samples as samples
from deepscreen import Policy, ScanConfig, Scanner
from deepscreen.errors import DeepscreenError
from deepscreen.faces.detect import Face
from deepscreen.media import MediaKind, open_media
from deepscreen.signals.tooling import ToolingSignal
from deepscreen.tooling import MatchContext, identify, load_rules

from media_factory import image_bytes


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    with Scanner(ScanConfig(signals=("tooling",))) as scan:
        yield scan


def tooling(report):
    return report.finding("tooling")


def test_dfl_face_is_labelled_by_the_default_policy(scanner: Scanner) -> None:
    report = scanner.scan(samples.dfl_jpeg(), name="00042_0.jpg")
    finding = tooling(report)
    assert finding.score == pytest.approx(0.97)
    assert {"tooling", "tooling:deepfacelab-aligned-face"} <= set(finding.labels)
    match = finding.evidence["matches"][0]
    assert match["rule"] == "deepfacelab-aligned-jpeg" and match["version"] == "1"
    assert match["matched"]["in"] == "jpeg-app15"
    assert match["matched"]["values"]["face_type"] == "whole_face"
    assert "source" in match and "DFLJPG.py" in match["source"]
    assert report.action == "label"
    assert [r.rule for r in report.verdict.reasons] == ["deepfake-tooling"]


def test_ordinary_photo_is_checked_and_allowed(scanner: Scanner) -> None:
    report = scanner.scan(image_bytes("JPEG", 640, 480), name="holiday.jpg")
    finding = tooling(report)
    assert finding.score == 0.0 and finding.labels == ()
    assert finding.evidence["read"]["format"] == "jpeg"
    assert report.action == "allow"


def test_swap_model_that_media_cannot_decode_is_still_named(scanner: Scanner, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(samples.inswapper_onnx())
    report = scanner.scan(path)
    assert report.item.kind == "unknown"
    finding = tooling(report)
    assert finding.labels[:2] == ("tooling", "tooling:oneshot-swap-model")
    assert finding.evidence["read"]["onnx"]["last_initializer"]["dims"] == [512, 512]
    assert {r.rule for r in report.verdict.reasons} == {"unscannable", "deepfake-tooling"}


def test_pickle_exploit_is_quarantined_and_not_run(scanner: Scanner, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    record = samples.dfl_face_record()
    record["source_filename"] = Payload()
    report = scanner.scan(samples.dfl_jpeg(record))
    assert not marker.exists()
    assert report.action == "quarantine"
    assert "unsafe-pickle" in {r.rule for r in report.verdict.reasons}
    assert "calls posix.system" in tooling(report).summary or "calls os.system" in tooling(report).summary


def test_face_enhancer_gets_the_weak_rule(scanner: Scanner) -> None:
    report = scanner.scan(samples.torch_zip(samples.GFPGAN_SHAPES, under="params_ema"), name="GFPGANv1.4.pth")
    assert "tooling" not in tooling(report).labels
    assert [r.rule for r in report.verdict.reasons if r.rule != "unscannable"] == ["deepfake-tooling-weak"]


def test_operators_can_quarantine_or_block_tooling() -> None:
    policy = Policy.from_mapping({"rules": [
        {"name": "no-swap-models", "when": {"label": "tooling:oneshot-swap-model"}, "action": "block"},
        {"name": "hold-tooling", "when": {"label": "tooling"}, "action": "quarantine"}]})
    with Scanner(ScanConfig(signals=("tooling",)), policy) as strict:
        assert strict.scan(samples.swapper_onnx()).action == "block"
        assert strict.scan(samples.dfl_jpeg()).action == "quarantine"
        assert strict.scan(image_bytes("PNG", 32, 32)).action == "allow"


def test_archive_listing_from_the_media_layer_is_used() -> None:
    # The archive helper puts every member name on the archive's own item; the signal must
    # judge the layout from it without opening the archive again.
    item = open_media(samples.zip_of({"readme.txt": b"x"}))
    item.archive_listing = samples.workspace_names()
    finding = ToolingSignal(ScanConfig()).inspect(item)
    match = finding.evidence["matches"][0]
    assert match["rule"] == "deepfacelab-workspace"
    assert match["matched"]["listing_from"] == "item"
    assert {"src-faces", "model-files", "merged-frames"} <= set(match["matched"]["groups"])


def test_kinds_include_archive_only_when_the_media_layer_has_it() -> None:
    assert {"image", "video", "audio", "unknown"} <= ToolingSignal.kinds
    assert ("archive" in ToolingSignal.kinds) == ("archive" in get_args(MediaKind))
    assert not ToolingSignal.needs_pixels


def test_options_are_checked_and_extra_rules_load(tmp_path: Path) -> None:
    with pytest.raises(DeepscreenError, match="unknown option"):
        ToolingSignal(ScanConfig(signal_options={"tooling": {"colour": 1}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{name: x}]")
    with pytest.raises(DeepscreenError, match="missing"):
        ToolingSignal(ScanConfig(signal_options={"tooling": {"rules": [str(bad)]}}))
    only = tmp_path / "only.yaml"
    only.write_text("rules: [{name: any-json, version: 1, tool: t, labels: [tooling], confidence: 0.5,"
                    " description: d, match: {json: {keys_all: [name]}}}]")
    options = {"tooling": {"rules": str(only), "builtin_rules": False}}
    signal = ToolingSignal(ScanConfig(signal_options=options))
    assert [r.name for r in signal.rules.rules] == ["any-json"]
    assert signal.inspect(open_media(b'{"name": 1}')).labels == ("tooling",)


def test_signals_command_lists_the_tooling_rules() -> None:
    from deepscreen.cli import app, load_commands
    load_commands()
    result = CliRunner().invoke(app, ["signals"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "tooling rules" in result.output
    for name in ("deepfacelab-aligned-jpeg", "inswapper-128-graph", "faceset-aligned-crops"):
        assert name in result.output


# --- face sets ---------------------------------------------------------------------------------

class _StubDetector:
    """Returns one face per crop with eyes at a chosen place: tests the geometry judgement
    alone. The real detector on real faces is tested below with shared data."""

    def __init__(self, jitter: float) -> None:
        self.rng = np.random.default_rng(0)
        self.jitter = jitter

    def detect(self, rgb: np.ndarray) -> list[Face]:
        size = rgb.shape[1]
        dx, dy = self.rng.normal(0, self.jitter * size, 2)
        left, right = (0.38 * size + dx, 0.45 * size + dy), (0.62 * size + dx, 0.45 * size + dy)
        rest = ((0.5 * size, 0.6 * size), (0.4 * size, 0.7 * size), (0.6 * size, 0.7 * size))
        return [Face((0.2 * size, 0.2 * size, 0.8 * size, 0.85 * size), 0.99, (left, right, *rest))]


def _crop_archive(count: int, names: str = "{i:05d}_0.jpg", size: int = 128) -> bytes:
    return samples.zip_of({names.format(i=i): samples.square_crop(i, size) for i in range(count)})


@pytest.mark.parametrize(("jitter", "expected"), [(0.002, True), (0.06, False)])
def test_faceset_geometry_decides_on_eye_positions(jitter: float, expected: bool) -> None:
    context = MatchContext(face_detector=lambda: _StubDetector(jitter))
    result = identify(memoryview(_crop_archive(24, "crops/face{i}.jpg")), load_rules(), context=context)
    names = [m.rule.name for m in result.matches]
    assert ("faceset-aligned-crops" in names) is expected
    if expected:
        evidence = result.matches[0].evidence
        assert evidence["identity_judged"] is False and evidence["sampled"] == 16
        assert "tooling:faceset" in result.labels and "tooling" not in result.labels


def test_faceset_by_extraction_names_needs_no_detector() -> None:
    context = MatchContext(face_detector=None)
    named = identify(memoryview(_crop_archive(24)), load_rules(), context=context)
    assert [m.rule.name for m in named.matches] == ["faceset-extracted-names"]
    other = identify(memoryview(_crop_archive(24, "pics/IMG_{i:04d}.jpg")), load_rules(), context=context)
    assert other.matches == []
    few = identify(memoryview(_crop_archive(10)), load_rules(), context=context)
    assert few.matches == []


def test_faceset_needs_square_crops_of_one_size() -> None:
    photos = {f"{i:05d}_0.jpg": image_bytes("JPEG", 160 + i, 120, seed=i) for i in range(24)}
    result = identify(memoryview(samples.zip_of(photos)), load_rules(), context=MatchContext())
    assert result.matches == []


@pytest.mark.shared_data
def test_real_aligned_faces_make_a_faceset_and_raw_photos_do_not(shared_data: Path) -> None:
    from deepscreen.faces.align import align_face, landmarks5_from_49
    aaf = shared_data / "faces-aaf"
    points = {}
    with (aaf / "landmarks49.csv").open() as handle:
        for line in handle:
            parts = line.strip().split(",")
            if len(parts) == 99 and len(points) < 400:
                try:
                    points[parts[0]] = np.array(parts[1:], float).reshape(49, 2)
                except ValueError:
                    continue
    chosen = sorted(points)[::13][:24]
    aligned, raw = {}, {}
    for index, name in enumerate(chosen):
        rgb = np.asarray(Image.open(aaf / "images" / name).convert("RGB"))
        crop = align_face(rgb, landmarks5_from_49(points[name]), 256).crop
        out = io.BytesIO()
        Image.fromarray(crop).save(out, "JPEG", quality=90)
        aligned[f"faces/{index:04d}.jpg"] = out.getvalue()
        raw[f"photos/{name}"] = (aaf / "images" / name).read_bytes()
    signal = ToolingSignal(ScanConfig())
    found = signal.inspect(open_media(samples.zip_of(aligned)))
    assert "tooling:faceset" in found.labels
    assert found.evidence["matches"][0]["matched"]["eye_spread"] < 0.02
    assert signal.inspect(open_media(samples.zip_of(raw))).labels == ()


def test_pickle_file_path_items_are_memory_mapped(tmp_path: Path, scanner: Scanner) -> None:
    path = tmp_path / "me_SAEHD_data.dat"
    path.write_bytes(samples.dfl_model_data())
    finding = tooling(scanner.scan(path))
    assert finding.score == pytest.approx(0.99)
    assert finding.evidence["matches"][0]["name_also_fits"] is True
    assert pickle.loads(path.read_bytes())["iter"] == 120_000  # the sample is a real DFL-shaped pickle
