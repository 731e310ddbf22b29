"""A short seeded slice of the fuzz campaign (bench/fuzz.py), in the test suite.

Three mutations of every campaign format, from the campaign's own seed samples and
mutators, scanned in-process by the real Scanner: each must get a verdict. The campaign
itself (10,000 files per format, in worker processes with memory and time limits) is run
by hand; its figures are in BENCHMARKS.md.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest
from bench.fuzz import MUTATORS, mutate, seed_makers

from deepscreen import ScanConfig, Scanner
from deepscreen.media import Limits
from deepscreen.policy import ACTIONS

FORMATS = list(seed_makers())


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory):
    config = ScanConfig(home=tmp_path_factory.mktemp("home"),
                        limits=Limits(decode_timeout_s=10, archive_timeout_s=20))
    with Scanner(config) as scanner:
        yield scanner


def test_mutations_are_deterministic() -> None:
    seed = seed_makers()["png"]()
    assert mutate(seed, 13, "png", 7) == mutate(seed, 13, "png", 7)
    assert mutate(seed, 13, "png", 7) != mutate(seed, 14, "png", 7)
    names = {mutate(seed, 13, "png", i)[0].split("+")[0] for i in range(len(MUTATORS))}
    assert names == set(MUTATORS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_seeded_slice_gets_a_verdict(scanner: Scanner, fmt: str, tmp_path: Path) -> None:
    seed = seed_makers()[fmt]()
    first = scanner.scan(seed, name=f"seed.{fmt}")
    assert first.error is None, (fmt, first.error)  # the seed itself is screenable
    for index in (1, 5, 6):  # byte-set, length-field, huge-dimensions
        mutation, data = mutate(seed, 13, fmt, index + zlib.crc32(fmt.encode()) % 10 * 10)
        report = scanner.scan(data, name=f"{fmt}-{index}")
        assert report.action in ACTIONS, (fmt, mutation)
