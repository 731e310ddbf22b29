"""The c2pa signal on Content Credentials signed at test time, and on real c2pa-rs fixtures."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deepscreen.config import ScanConfig
from deepscreen.errors import DeepscreenError
from deepscreen.findings import Finding
from deepscreen.media import Limits
from deepscreen.scan import Scanner
from deepscreen.signals.c2pa import TRUST_ANCHORS_ENV, C2paSignal, reader_settings
from fixtures_c2pa import (
    CAPTURE,
    COMPOSITE_AI,
    TRAINED,
    SigningPki,
    created_action,
    make_pki,
    sign_media,
    tamper_pixels,
)

from media_factory import audio_bytes, image_bytes


@pytest.fixture(scope="module")
def pki() -> SigningPki:
    return make_pki()


@pytest.fixture(scope="module")
def ai_jpeg(pki: SigningPki) -> bytes:
    return sign_media(pki, [created_action(TRAINED)])


@pytest.fixture
def anchors_file(pki: SigningPki, tmp_path: Path) -> Path:
    path = tmp_path / "anchors.pem"
    path.write_bytes(pki.ca_pem)
    return path


def c2pa_finding(data: bytes, **options: object) -> Finding:
    config = ScanConfig(signals=("c2pa",), signal_options={"c2pa": dict(options)})
    with Scanner(config) as scanner:
        finding = scanner.scan(data, name="item").finding("c2pa")
    assert finding is not None
    return finding


@pytest.fixture(autouse=True)
def _no_anchor_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ANCHORS_ENV, raising=False)


def test_signed_ai_image_is_valid_declared_and_not_trusted_without_anchors(ai_jpeg: bytes) -> None:
    finding = c2pa_finding(ai_jpeg)
    assert finding.score is None and finding.abstained is None
    assert {"c2pa-present", "c2pa-valid", "ai-declared"} <= set(finding.labels)
    assert "c2pa-trusted" not in finding.labels and "c2pa-invalid" not in finding.labels
    evidence = finding.evidence
    assert evidence["validation_state"] == "Valid"
    # Untrusted is reported as a status, never as an integrity failure.
    assert [f["code"] for f in evidence["failures"]] == ["signingCredential.untrusted"]
    assert evidence["integrity_failures"] == []
    manifest = evidence["active_manifest"]
    assert manifest["signer"]["common_name"] == "Deepscreen Test Signer"
    assert manifest["signer"]["organization"] == "Deepscreen Test Studio"
    assert manifest["claim_generator_info"][0] == {"name": "deepscreen-tests", "version": "1"}
    assert manifest["actions"][0] == {"action": "c2pa.created", "digital_source_type": TRAINED,
                                      "software_agent": "Test Generator 1.0"}
    assert evidence["ai_declarations"][0]["label"] == "ai-declared"
    json.dumps(finding.to_dict())  # evidence must be JSON-serialisable for the report


def test_trust_anchor_option_makes_the_signer_trusted(ai_jpeg: bytes, anchors_file: Path) -> None:
    finding = c2pa_finding(ai_jpeg, trust_anchors=str(anchors_file))
    assert {"c2pa-present", "c2pa-valid", "c2pa-trusted"} <= set(finding.labels)
    assert finding.evidence["validation_state"] == "Trusted"
    assert finding.evidence["failures"] == []


def test_trust_anchor_env_var_is_read(ai_jpeg: bytes, anchors_file: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(anchors_file))
    assert "c2pa-trusted" in c2pa_finding(ai_jpeg).labels


def test_an_unrelated_anchor_does_not_trust_the_signer(ai_jpeg: bytes) -> None:
    other_ca = make_pki().ca_pem.decode()  # inline PEM text is accepted too
    finding = c2pa_finding(ai_jpeg, trust_anchors=other_ca)
    assert "c2pa-trusted" not in finding.labels and "c2pa-valid" in finding.labels


@pytest.mark.parametrize("content", [None, b"not a certificate\n"])
def test_bad_trust_anchor_configuration_is_a_clear_error(tmp_path: Path,
                                                         content: bytes | None) -> None:
    path = tmp_path / "anchors.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DeepscreenError, match="trust anchors"):
        C2paSignal(ScanConfig(signal_options={"c2pa": {"trust_anchors": str(path)}}))


def test_pixels_changed_after_signing_are_invalid(ai_jpeg: bytes, anchors_file: Path) -> None:
    finding = c2pa_finding(tamper_pixels(ai_jpeg), trust_anchors=str(anchors_file))
    assert {"c2pa-present", "c2pa-invalid"} <= set(finding.labels)
    assert "c2pa-valid" not in finding.labels and "c2pa-trusted" not in finding.labels
    assert "assertion.dataHash.mismatch" in finding.evidence["integrity_failures"]
    assert "do not validate" in finding.summary


def test_damaged_manifest_is_invalid_not_a_crash(ai_jpeg: bytes) -> None:
    start = ai_jpeg.index(b"jumb")
    damaged = ai_jpeg[:start + 64] + b"\x00" * 64 + ai_jpeg[start + 128:]
    finding = c2pa_finding(damaged)
    assert {"c2pa-present", "c2pa-invalid"} <= set(finding.labels)
    assert "signal-error" not in finding.labels


def test_generative_edit_is_ai_edited_not_ai_generated(pki: SigningPki) -> None:
    jpeg = sign_media(pki, [
        created_action(CAPTURE, agent="Test Camera"),
        {"action": "c2pa.edited", "digitalSourceType": COMPOSITE_AI,
         "softwareAgent": {"name": "Test Fill", "version": "2"}},
    ])
    labels = set(c2pa_finding(jpeg).labels)
    assert {"ai-edited-declared", "source:digitalCapture",
            "source:compositeWithTrainedAlgorithmicMedia"} <= labels
    assert "ai-declared" not in labels


def test_declared_ai_audio(pki: SigningPki) -> None:
    wav = sign_media(pki, [created_action(TRAINED, agent="Test Voice")], audio_bytes("wav"),
                     mime="audio/wav")
    finding = c2pa_finding(wav)
    assert {"c2pa-present", "c2pa-valid", "ai-declared"} <= set(finding.labels)


def test_camera_capture_declares_no_ai(pki: SigningPki) -> None:
    labels = set(c2pa_finding(sign_media(pki, [created_action(CAPTURE)])).labels)
    assert labels == {"c2pa-present", "c2pa-valid", "source:digitalCapture"}


@pytest.mark.parametrize("data", [image_bytes("JPEG", 64, 48), image_bytes("PNG", 64, 48),
                                  audio_bytes("wav")], ids=["jpeg", "png", "wav"])
def test_no_manifest_abstains(data: bytes) -> None:
    finding = c2pa_finding(data)
    assert finding.abstained == "no C2PA manifest" and finding.labels == ()


def test_truncated_file_without_credentials_abstains() -> None:
    finding = c2pa_finding(image_bytes("JPEG", 64, 48)[:300])
    assert finding.abstained is not None and finding.abstained.startswith("no C2PA manifest")
    assert finding.labels == ()


def test_reader_settings_never_fetch() -> None:
    verify = reader_settings("PEM")["verify"]
    assert verify["remote_manifest_fetch"] is False and verify["ocsp_fetch"] is False


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request made to it."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/manifest.c2pa", requests
    finally:
        server.shutdown()
        server.server_close()


def test_remote_manifest_is_reported_and_never_fetched(
        pki: SigningPki, recording_server: tuple[str, list[str]]) -> None:
    url, requests = recording_server
    jpeg = sign_media(pki, remote_url=url)
    finding = c2pa_finding(jpeg)
    assert set(finding.labels) == {"c2pa-present", "c2pa-remote"}
    assert finding.evidence["remote_url"] == url
    assert requests == []  # the upload named a URL; the gateway did not call it


def test_default_policy_labels_tampered_credentials(ai_jpeg: bytes) -> None:
    with Scanner(ScanConfig(signals=("c2pa",))) as scanner:
        verdict = scanner.scan(tamper_pixels(ai_jpeg)).verdict
    assert verdict.action == "label"
    assert {"tampered-credentials", "ai-generated-declared"} <= {r.rule for r in verdict.reasons}


# --- real c2pa-rs fixtures (../shared/data/provenance/c2pa) ---------------------------------

REAL_EXPECTED = {
    "C.jpg": {"c2pa-present", "c2pa-valid", "ai-declared"},  # created as algorithmicMedia
    "CA.jpg": {"c2pa-present", "c2pa-valid"},
    "CACA.jpg": {"c2pa-present", "c2pa-valid"},
    "video1.mp4": {"c2pa-present", "c2pa-valid"},
    "legacy.mp4": {"c2pa-present", "c2pa-valid"},
    "XCA.jpg": {"c2pa-present", "c2pa-invalid"},
    "E-sig-CA.jpg": {"c2pa-present", "c2pa-invalid"},
    "adobe-20220124-E-clm-CAICAI.jpg": {"c2pa-present", "c2pa-invalid"},
    "prerelease.jpg": {"c2pa-present", "c2pa-invalid"},
    "ocsp.jpg": {"c2pa-present", "c2pa-valid", "ai-edited-declared"},
}


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(REAL_EXPECTED))
def test_real_fixture_labels(shared_data: Path, name: str) -> None:
    finding = c2pa_finding((shared_data / "provenance" / "c2pa" / name).read_bytes())
    labels = {label for label in finding.labels if not label.startswith("source:")}
    assert labels == REAL_EXPECTED[name]


@pytest.mark.shared_data
def test_real_fixture_failure_codes(shared_data: Path) -> None:
    folder = shared_data / "provenance" / "c2pa"
    codes = {name: c2pa_finding((folder / name).read_bytes()).evidence["integrity_failures"]
             for name in ("XCA.jpg", "E-sig-CA.jpg")}
    assert codes == {"XCA.jpg": ["assertion.dataHash.mismatch"],
                     "E-sig-CA.jpg": ["claimSignature.mismatch"]}


@pytest.mark.shared_data
def test_real_adobe_generative_fill(shared_data: Path) -> None:
    finding = c2pa_finding((shared_data / "provenance" / "c2pa" / "ocsp.jpg").read_bytes())
    manifest = finding.evidence["active_manifest"]
    assert manifest["signer"]["organization"] == "Adobe Inc."
    assert manifest["claim_generator_info"][0]["name"] == "Adobe Photoshop"
    edits = [a for a in manifest["actions"] if a["action"] == "c2pa.edited"]
    assert edits[0]["software_agent"] == "Adobe Firefly"
    assert edits[0]["digital_source_type"] == COMPOSITE_AI
    # The Firefly-generated ingredient was composited in: editing, not generation as a whole.
    via = [d["via"] for d in finding.evidence["ai_declarations"] if d["via"]]
    assert via == [["componentOf ocsp.jpg"]]


@pytest.mark.shared_data
def test_real_no_manifest_abstains(shared_data: Path) -> None:
    finding = c2pa_finding((shared_data / "provenance" / "c2pa" / "no_manifest.jpg").read_bytes())
    assert finding.abstained == "no C2PA manifest"


@pytest.mark.parametrize("signal", ["c2pa", "xmp"])
def test_items_over_the_size_limit_are_not_read(ai_jpeg: bytes, tmp_path: Path,
                                                signal: str) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(ai_jpeg)
    config = ScanConfig(signals=(signal,), limits=Limits(max_bytes=len(ai_jpeg) - 1))
    with Scanner(config) as scanner:
        finding = scanner.scan(path).finding(signal)
    assert finding is not None and finding.labels == ()
    assert finding.abstained is not None and "size limit" in finding.abstained
