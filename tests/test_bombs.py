"""Decompression bombs are refused with a clear reason, before the work they ask for.

How fast is measured by bench/bench_bombs.py (BENCHMARKS.md); here only the refusal, its
code and its reason, and that no signal but the exact digests looks at a refused item.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deepscreen import ScanConfig, Scanner

import media_factory as mf

BOMBS = {
    "pixel flood PNG": (lambda: mf.png_declaring(100_000, 100_000), "too-many-pixels",
                        "decompression bomb"),
    "64k x 64k PNG": (lambda: mf.png_declaring(65_535, 65_535), "too-many-pixels", "pixel limit"),
    "64k x 64k GIF": (lambda: mf.gif_declaring(65_535, 65_535), "too-many-pixels", "pixel limit"),
    "GIF frame flood": (lambda: mf.gif_frame_flood(12_000), "too-many-frames",
                        "animation_max_file_frames"),
    "zip bomb": (lambda: mf.zip_bomb(20 << 20), "archive-bomb", "zip bomb"),
    "overlapping zip bomb": (lambda: mf.overlapping_zip_bomb(300), "archive-bomb", "overlap"),
    "nested zips": (lambda: mf.nested_zips(6), "archive-too-deep", "archive_max_depth"),
    "gzip bomb": (lambda: mf.gzip_bomb(20 << 20), "archive-bomb", "decompression bomb"),
    "tar.gz bomb": (lambda: mf.tar_gz_bomb(20 << 20), "archive-bomb", "decompression bomb"),
    "nested mp4 boxes": (lambda: mf.nested_mp4(20_000), None, None),
    "huge XMP": (lambda: mf.png_with_xmp(5 << 20), "metadata-too-large", "max_metadata_bytes"),
}


@pytest.mark.parametrize("case", list(BOMBS))
def test_bomb_is_refused_with_its_reason(tmp_path: Path, case: str) -> None:
    build, code, words = BOMBS[case]
    with Scanner(ScanConfig(home=tmp_path)) as scanner:
        report = scanner.scan(build(), name=case)
    assert report.action == "quarantine"
    errors = [r.error for r in report.walk() if r.error]
    assert errors, "a bomb must never be screened as if it were fine"
    if code is not None:
        assert errors[-1]["code"] == code
        assert words in errors[-1]["message"]
        refused = next(r for r in report.walk() if r.error and r.error["code"] == code)
        # Nothing but the exact digests looked at it: no parser spent time on the bomb.
        looked = [f.signal for f in refused.findings if not f.abstained and f.signal not in
                  ("media", "archive")]
        assert looked in ([], ["hashes"])
    assert report.verdict.reasons[0].action == "quarantine"
