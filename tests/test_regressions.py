"""Files the fuzz campaign (bench/fuzz.py) found problems with, each scanned for a verdict.

``tests/regressions/index.json`` says where each file came from (format, mutation index,
campaign seed), what it found and the error code its report must carry now that the
problem is fixed. A sample whose decoder exception escaped the decoders' own handling was
logged as "unexpected"; that must not happen again either.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from deepscreen import ScanConfig, Scanner
from deepscreen.media import Limits
from deepscreen.policy import ACTIONS

SAMPLES = Path(__file__).parent / "regressions"
INDEX = json.loads((SAMPLES / "index.json").read_text())


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory):
    config = ScanConfig(home=tmp_path_factory.mktemp("home"),
                        limits=Limits(decode_timeout_s=10, archive_timeout_s=20))
    with Scanner(config) as scanner:
        yield scanner


def test_every_sample_is_catalogued() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.bin")) == sorted(INDEX)


@pytest.mark.parametrize("name", sorted(INDEX))
def test_regression_sample_gets_a_verdict(scanner: Scanner, name: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    entry = INDEX[name]
    with caplog.at_level(logging.WARNING, logger="deepscreen"):
        report = scanner.scan((SAMPLES / name).read_bytes(), name=name)
    assert report.action in ACTIONS
    if entry.get("expect_code"):
        errors = [r.error for r in report.walk() if r.error]
        assert entry["expect_code"] in [e["code"] for e in errors], (name, report.error)
        if entry.get("expect_words"):  # the refusal names the cause, not a later symptom
            assert any(entry["expect_words"] in e["message"] for e in errors), (name, errors)
    assert not [r for r in caplog.records if "unexpected" in r.getMessage()], entry["found"]
