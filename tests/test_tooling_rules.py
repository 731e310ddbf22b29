"""Tooling rules: every tool format named from its structure, negatives left alone, rules as data."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

import tooling_samples as samples
from deepscreen.tooling import MatchContext, RuleError, identify, load_rules
from deepscreen.tooling.rules import parse_rules

from media_factory import image_bytes

RULES = load_rules()
NO_FACESET = MatchContext(faceset_enabled=False)


def matched(data: bytes, name: str = "", **kwargs) -> list[str]:
    result = identify(memoryview(data), RULES, name=name, sha256=hashlib.sha256(data).hexdigest(),
                      context=kwargs.pop("context", NO_FACESET), **kwargs)
    assert not result.rule_errors
    return [m.rule.name for m in result.matches]


@pytest.mark.parametrize(("build", "rule"), [
    (lambda: samples.dfl_jpeg(), "deepfacelab-aligned-jpeg"),
    (lambda: samples.dfl_jpeg(protocol=3), "deepfacelab-aligned-jpeg"),  # DFL's Python 3.6 builds
    (samples.dfl_png, "deepfacelab-aligned-png"),
    (samples.dfl_model_weights, "deepfacelab-model-weights"),
    (samples.dfl_model_data, "deepfacelab-model-data"),
    (samples.dfl_summary, "deepfacelab-model-summary"),
    (samples.dfl_faceset_pak, "deepfacelab-faceset-pak"),
    (samples.dfm_onnx, "deepfacelab-dfm"),
    (lambda: samples.dfm_onnx(amp=True), "deepfacelab-dfm"),
    (lambda: samples.zip_of({n: b"x" for n in samples.workspace_names()}), "deepfacelab-workspace"),
    (lambda: samples.tar_of({n: b"x" for n in samples.workspace_names()}, "w:gz"), "deepfacelab-workspace"),
    (samples.faceswap_png, "faceswap-aligned-png"),
    (samples.faceswap_patch_png, "faceswap-patch-output"),
    (samples.faceswap_fsa, "faceswap-alignments"),
    (samples.faceswap_keras, "faceswap-model"),
    (samples.faceswap_h5, "faceswap-model"),
    (samples.faceswap_state, "faceswap-model-state"),
    (samples.inswapper_onnx, "inswapper-128-graph"),
    (lambda: samples.swapper_onnx(256), "oneshot-swapper-graph"),
    (lambda: samples.swapper_onnx(512), "oneshot-swapper-graph"),
    (lambda: samples.swapper_onnx(256, [1, 3, 112, 112]), "oneshot-swapper-image-source-graph"),
    (lambda: samples.torch_zip(samples.SIMSWAP_SHAPES), "simswap-generator-pth"),
    (lambda: samples.torch_zip(samples.GFPGAN_SHAPES, under="params_ema"), "gfpgan-pth"),
    (lambda: samples.enhancer_onnx("gfpgan"), "gfpgan-onnx"),
    (lambda: samples.enhancer_onnx("codeformer"), "codeformer-onnx"),
])
def test_each_tool_format_is_recognised(build, rule: str) -> None:
    assert rule in matched(build())


def test_inswapper_needs_its_emap_last_and_its_exact_inputs() -> None:
    assert "inswapper-128-graph" not in matched(samples.inswapper_onnx(emap_last=False))
    assert "inswapper-128-graph" not in matched(samples.inswapper_onnx(target_size=96))
    assert "oneshot-swapper-graph" not in matched(samples.swapper_onnx(300))  # not a face-crop size


@pytest.mark.parametrize("data", [
    samples.classifier_onnx(),
    image_bytes("JPEG", 200, 150),
    image_bytes("PNG", 200, 150),
    image_bytes("TIFF", 64, 64),
    samples.zip_of({"report.pdf": b"%PDF-1.4", "photos/holiday.jpg": image_bytes("JPEG", 64, 48)}),
    samples.tar_of({"src/main.py": b"print(1)", "README.md": b"# hi"}),
    pickle.dumps({"learning_rate": 0.1, "weights": np.zeros(4)}, 4),
    pickle.dumps([1, 2, 3]),
    b'{"name": "thing", "version": 2}',
    b"just some text\n",
    bytes(range(256)) * 8,
], ids=["onnx-classifier", "jpeg", "png", "tiff", "zip", "tar", "pickle", "list-pickle",
        "json", "text", "binary"])
def test_ordinary_files_match_nothing(data: bytes) -> None:
    assert matched(data) == []


def test_a_jpeg_app15_that_is_not_dfl_is_not_called_dfl() -> None:
    other = samples.insert_jpeg_segment(image_bytes("JPEG", 64, 64), 0xEF, b"Ducky\x00" + bytes(20))
    assert matched(other) == []
    not_a_face = samples.insert_jpeg_segment(image_bytes("JPEG", 64, 64), 0xEF, pickle.dumps({"a": 1}))
    assert matched(not_a_face) == []


def test_name_hint_raises_confidence_but_a_name_alone_matches_nothing() -> None:
    data = samples.dfl_model_weights()
    plain = identify(memoryview(data), RULES, name="weights.npy", context=NO_FACESET)
    hinted = identify(memoryview(data), RULES, name="victim_SAEHD_encoder.npy", context=NO_FACESET)
    assert plain.score == pytest.approx(0.8) and hinted.score == pytest.approx(0.97)
    assert hinted.matches[0].name_matched
    assert matched(pickle.dumps({"a": 1}), name="victim_SAEHD_encoder.npy") == []
    assert matched(b"hello", name="inswapper_128.onnx") == []


def test_known_sha256_is_matched_from_the_item_hash() -> None:
    digest = "e4a3f08c753cb72d04e10aa0f7dbe3deebbf39567d4ead6dce08e98aa49e16af"
    result = identify(memoryview(b"irrelevant"), RULES, sha256=digest, context=NO_FACESET)
    assert [m.rule.name for m in result.matches] == ["known-swap-model-sha256"]
    assert result.matches[0].evidence["file"] == "inswapper_128.onnx"
    assert result.score == 1.0 and "tooling:known-file" in result.labels


def test_unsafe_pickle_in_a_dfl_face_is_named(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    record = samples.dfl_face_record()
    record["xseg_mask"] = Payload()
    result = identify(memoryview(samples.dfl_jpeg(record)), RULES, context=NO_FACESET)
    assert {m.rule.name for m in result.matches} == {"unsafe-pickle-callable", "deepfacelab-aligned-jpeg"}
    assert "tooling:unsafe-pickle" in result.labels
    assert not marker.exists()


def test_weak_rules_do_not_carry_the_tooling_label() -> None:
    result = identify(memoryview(samples.torch_zip(samples.GFPGAN_SHAPES, under="params_ema")), RULES,
                      context=NO_FACESET)
    assert "tooling" not in result.labels
    assert {"tooling-weak", "tooling:face-enhancer"} <= set(result.labels)


def test_every_builtin_rule_is_documented_with_a_source_and_in_docs() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "tooling.md").read_text(encoding="utf-8")
    for rule in RULES.rules:
        assert rule.source, rule.name
        assert rule.description, rule.name
        assert f"`{rule.name}`" in docs, f"{rule.name} is not described in docs/tooling.md"


def test_a_new_tool_is_added_with_a_rules_file_and_no_code(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("""
version: 1
rules:
  - name: acme-swapper
    version: 1
    tool: ACME FaceSwap 3000
    labels: [tooling, "tooling:oneshot-swap-model"]
    confidence: 0.8
    description: ACME's swapper, inputs face and identity.
    source: example
    match:
      onnx:
        inputs: [{name: input, shape: ['*', 3, 224, 224]}]
        outputs_count: 1
""")
    rules = load_rules([extra])
    result = identify(memoryview(samples.classifier_onnx()), rules, context=NO_FACESET)
    assert [m.rule.name for m in result.matches] == ["acme-swapper"]
    assert result.matches[0].rule.origin == str(extra)


_HEAD = "rules: [{name: a, version: 1, tool: t, description: d, "


@pytest.mark.parametrize(("text", "message"), [
    ("rules: [{name: a}]", "missing"),
    (_HEAD + "labels: [x], confidence: 2, match: {text: {head_regex: a}}}]", "confidence"),
    (_HEAD + "labels: [x], confidence: 1, match: {magic: {}}}]", "unknown matcher"),
    (_HEAD + "labels: [x], confidence: 1, match: {onnx: {colour: 1}}}]", "does not take"),
    (_HEAD + "labels: [x], confidence: 1, match: {sha256: {files: [{sha256: abc}]}}}]", "not a SHA-256"),
    (_HEAD + "labels: [], confidence: 1, match: {unsafe_pickle: {}}}]", "labels"),
    (_HEAD + "labels: [x], confidence: 1, match: {pickle: {in: [jpg-app15]}}}]", "'in' must list"),
    ("version: 9\nrules: []", "not supported"),
    ("rules: {", "YAML"),
])
def test_bad_rules_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules(text, "test.yaml")


def test_duplicate_rule_names_across_files_are_rejected(tmp_path: Path) -> None:
    extra = tmp_path / "dup.yaml"
    extra.write_text("rules: [{name: deepfacelab-dfm, version: 1, tool: t, labels: [x], confidence: 1, "
                     "description: d, match: {unsafe_pickle: {}}}]")
    with pytest.raises(RuleError, match="defined twice"):
        load_rules([extra])


def _mutations(data: bytes, rng, count: int):
    for _ in range(count):
        b = bytearray(data)
        kind = rng.randrange(4)
        if kind == 0:
            b = b[:rng.randrange(len(b))]
        elif kind == 1:
            for _ in range(rng.randrange(1, 20)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 2:
            at = rng.randrange(len(b))
            b[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00"])
        else:
            at = rng.randrange(len(b))
            b = b[:at] + b[at:at + rng.randrange(1, 200)] * rng.randrange(2, 6) + b[at:]
        yield bytes(b)


def test_mutated_tool_files_never_raise() -> None:
    # A short seeded slice of the campaign that found a crash (a ZIP declaring a future
    # version made zipfile raise NotImplementedError); bench-free, deterministic.
    import random
    rng = random.Random(7)
    seeds = [samples.dfl_jpeg(), samples.dfl_png(), samples.dfl_model_weights(), samples.dfl_faceset_pak(),
             samples.dfm_onnx(), samples.faceswap_png(), samples.faceswap_fsa(), samples.faceswap_keras(),
             samples.faceswap_h5(), samples.inswapper_onnx(), samples.torch_zip(samples.SIMSWAP_SHAPES),
             samples.zip_of({n: b"x" for n in samples.workspace_names()}),
             samples.tar_of({n: b"x" for n in samples.workspace_names()}, "w:gz"),
             samples.zip_of({f"{i:05d}_0.jpg": samples.square_crop(i, 32) for i in range(22)})]
    context = MatchContext(face_detector=None)
    for seed in seeds:
        for data in _mutations(seed, rng, 25):
            result = identify(memoryview(data), RULES, context=context)
            assert not result.rule_errors
