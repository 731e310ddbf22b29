"""The pipeline: one report per item, versioned JSON, errors become verdicts."""

from __future__ import annotations

import io
import json
from typing import ClassVar

import pytest

import deepscreen
from deepscreen import Policy, ScanConfig, Scanner
from deepscreen.signals import Signal, register

from media_factory import image_bytes, video_bytes


@register
class _ExplodingSignal(Signal):
    """A signal with a bug, to prove a signal failure never crashes a scan or allows silently."""

    name = "test-exploding"
    version = "0"
    kinds: ClassVar = frozenset({"image"})

    def inspect(self, item):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


@register
class _BrightnessSignal(Signal):
    """A tiny real signal: mean brightness of the first frame, to check the plumbing."""

    name = "test-brightness"
    version = "0"
    kinds: ClassVar = frozenset({"image", "video"})

    def inspect(self, item):  # type: ignore[no-untyped-def]
        value = float(item.frames[0].rgb.mean()) / 255
        return self.finding(score=value, labels=("bright",) if value > 0.5 else (),
                            summary=f"mean {value:.2f}")


def config(home, *signals: str) -> ScanConfig:
    return ScanConfig(home=home, signals=signals)


def test_scan_bytes_path_and_stream_give_the_same_identity(tmp_path) -> None:
    data = image_bytes("PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    with Scanner(config(tmp_path, "test-brightness")) as scanner:
        reports = [scanner.scan(data), scanner.scan(path), scanner.scan(io.BytesIO(data))]
    assert {r.item.sha256 for r in reports} == {reports[0].item.sha256}
    assert all(r.finding("test-brightness").score is not None for r in reports)


def test_report_json_is_versioned_and_complete(tmp_path) -> None:
    with Scanner(config(tmp_path, "test-brightness")) as scanner:
        report = scanner.scan(image_bytes("JPEG"))
    data = json.loads(report.to_json())
    assert data["schema"] == deepscreen.SCHEMA == "deepscreen.report/1"
    assert set(data) >= {"schema", "deepscreen", "scanned_at", "item", "verdict", "labels",
                         "findings", "policy", "error", "elapsed_ms"}
    assert data["item"]["kind"] == "image" and data["item"]["width"] == 256
    assert data["verdict"]["action"] in ("allow", "label", "quarantine", "block")
    finding = data["findings"][0]
    assert set(finding) == {"signal", "version", "score", "labels", "summary", "abstained",
                            "evidence", "elapsed_ms"}


def test_undecodable_item_gets_the_unscannable_verdict(tmp_path) -> None:
    with Scanner(config(tmp_path, "test-brightness")) as scanner:
        report = scanner.scan(b"\xff\xd8\xff" + b"\x00" * 100)
    assert report.action == "quarantine"
    assert report.error is not None and report.error["code"] == "decode-failed"
    assert "unscannable" in report.labels
    assert report.finding("test-brightness").abstained == "item could not be decoded"


def test_signal_bug_becomes_a_signal_error_finding_and_quarantine(tmp_path) -> None:
    with Scanner(config(tmp_path, "test-exploding")) as scanner:
        report = scanner.scan(image_bytes("PNG"))
    found = report.finding("test-exploding")
    assert "signal-error" in found.labels and "boom" in found.abstained
    assert report.action == "quarantine"


def test_signals_skip_media_kinds_they_do_not_handle(tmp_path) -> None:
    with Scanner(config(tmp_path, "test-exploding")) as scanner:
        report = scanner.scan(video_bytes(seconds=1.0))
    assert report.finding("test-exploding").abstained == "does not handle video"
    assert report.action == "allow"


def test_policy_decides_from_findings(tmp_path) -> None:
    policy = Policy.from_mapping({"rules": [
        {"name": "bright", "when": {"label": "bright"}, "action": "label"}]})
    from PIL import Image

    def png(colour: str) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), colour).save(buf, "PNG")
        return buf.getvalue()

    with Scanner(config(tmp_path, "test-brightness"), policy) as scanner:
        white, black = scanner.scan(png("white")), scanner.scan(png("black"))
    assert white.action == "label" and white.verdict.reasons[0].rule == "bright"
    assert black.action == "allow" and black.verdict.reasons == ()


def test_unknown_signal_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(deepscreen.DeepscreenError, match="unknown signal"):
        Scanner(config(tmp_path, "no-such-signal"))


def test_public_scan_function(tmp_path) -> None:
    report = deepscreen.scan(image_bytes("PNG"), config=config(tmp_path, "test-brightness"))
    assert isinstance(report, deepscreen.Report)


def test_scan_paths_in_parallel_keeps_order(tmp_path) -> None:
    paths = []
    for i in range(4):
        p = tmp_path / f"{i}.png"
        p.write_bytes(image_bytes("PNG", seed=i))
        paths.append(p)
    results = list(deepscreen.scan_paths(paths, config(tmp_path, "test-brightness"), workers=2))
    assert [p for p, _ in results] == paths
    assert all(isinstance(r, deepscreen.Report) for _, r in results)


def test_onnx_providers_come_from_the_config_and_unknown_ones_are_refused(tmp_path) -> None:
    from deepscreen.config import ScanConfig
    from deepscreen.errors import ConfigError

    config = tmp_path / "c.yaml"
    config.write_text("onnx_providers: [CPUExecutionProvider]\n")
    assert ScanConfig.load(config).onnx_providers == ("CPUExecutionProvider",)
    config.write_text("onnx_providers: [NoSuchExecutionProvider, CPUExecutionProvider]\n")
    with pytest.raises(ConfigError, match="NoSuchExecutionProvider not available"):
        ScanConfig.load(config)


def test_opt_in_signals_run_only_when_named() -> None:
    from deepscreen.scan import default_signals
    from deepscreen.signals import available_signals

    registry = available_signals()
    opt_in = {name for name, cls in registry.items() if not cls.enabled_by_default}
    assert "voice" in opt_in and all(registry[name].opt_in_reason for name in opt_in)
    assert not opt_in & set(default_signals())
    with Scanner() as default, Scanner(ScanConfig(signals=("voice",))) as named:
        assert "voice" not in {s.name for s in default.signals}
        assert [s.name for s in named.signals] == ["voice"]
