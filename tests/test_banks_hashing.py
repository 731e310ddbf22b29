"""PDQ hashing with dihedral variants, hash-value rules and the vPDQ matching rule."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deepscreen.banks import (
    DIHEDRAL_VARIANTS,
    FrameHash,
    hamming,
    match_videos,
    normalize_value,
    pdq_dihedral,
    pdq_of,
)
from deepscreen.banks.hashing import bits_to_hex, parse_vpdq, serialize_vpdq
from deepscreen.errors import BankError

from media_factory import texture

ORIGINAL = texture(640, 480, seed=11)


def _jpeg_roundtrip(rgb: np.ndarray, quality: int = 60) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _best(query: np.ndarray, banked_hex: str) -> tuple[int, str]:
    """Smallest distance over the query's 8 dihedral variants, as the matcher searches."""
    _, variants = pdq_dihedral(query)
    distances = [hamming(v, banked_hex) for v in variants]
    best = int(np.argmin(distances))
    return distances[best], DIHEDRAL_VARIANTS[best]


def test_pdq_hex_is_msb_first_64_hex_chars() -> None:
    bits = np.zeros(256, dtype=np.int64)
    bits[0] = 1
    bits[255] = 1
    assert bits_to_hex(bits) == "80" + "0" * 60 + "01"
    pdq = pdq_of(ORIGINAL)
    assert len(pdq.hex) == 64 and int(pdq.hex, 16) >= 0 and pdq.quality >= 50


@pytest.mark.parametrize(("name", "transform"), [
    ("jpeg re-encode", lambda a: _jpeg_roundtrip(a, 40)),
    ("resize to half", lambda a: np.asarray(Image.fromarray(a).resize((320, 240)))),
    ("mirror", lambda a: a[:, ::-1]),
    ("flip upside down", lambda a: a[::-1]),
    ("rotate 90", lambda a: np.rot90(a, 1)),
    ("rotate 180", lambda a: np.rot90(a, 2)),
    ("rotate 270 + jpeg", lambda a: _jpeg_roundtrip(np.ascontiguousarray(np.rot90(a, 3)))),
])
def test_modified_copies_stay_within_threshold(name: str, transform) -> None:
    banked = pdq_of(ORIGINAL).hex
    distance, _ = _best(np.ascontiguousarray(transform(ORIGINAL)), banked)
    assert distance <= 31, name


def test_dihedral_variant_names_the_transform() -> None:
    banked = pdq_of(ORIGINAL).hex
    assert _best(np.ascontiguousarray(ORIGINAL[:, ::-1]), banked)[1] == "flip-horizontal"
    assert _best(np.ascontiguousarray(np.rot90(ORIGINAL, 2)), banked)[1] == "rotate-180"
    assert _best(ORIGINAL, banked) == (0, "original")


def test_unrelated_image_is_far() -> None:
    banked = pdq_of(ORIGINAL).hex
    for seed in range(20, 25):
        distance, _ = _best(texture(640, 480, seed=seed), banked)
        assert distance > 31


def test_flat_image_has_low_quality() -> None:
    flat = np.full((200, 300, 3), 128, dtype=np.uint8)
    pdq = pdq_of(flat)
    assert pdq.quality < 50 and not pdq.usable


def test_grayscale_input_is_accepted() -> None:
    gray = ORIGINAL[:, :, 0]
    assert pdq_of(gray).quality >= 50
    with pytest.raises(ValueError, match="H x W x 3"):
        pdq_of(np.zeros((4, 4, 4), dtype=np.uint8))


@pytest.mark.parametrize(("signal_type", "value", "expected"), [
    ("sha256", "AB" * 32, "ab" * 32),
    ("md5", " " + "0f" * 16 + "\n", "0f" * 16),
    ("pdq", "f" * 64, "f" * 64),
])
def test_normalize_value_accepts_and_canonicalises(signal_type, value, expected) -> None:
    assert normalize_value(signal_type, value) == expected


@pytest.mark.parametrize(("signal_type", "value", "message"), [
    ("pdq", "f" * 63, "64 hex"),
    ("sha256", "g" * 64, "64 hex"),
    ("md5", "ab" * 32, "32 hex"),
    ("tmk", "ab", "unknown signal type"),
    ("vpdq", "not json", "not a JSON list"),
    ("vpdq", "[]", "non-empty"),
    ("vpdq", '["abc,50,0.0"]', "malformed vpdq frame"),
    ("vpdq", f'["{"a" * 64},101,0.0"]', "quality must be 0-100"),
])
def test_normalize_value_rejects_malformed(signal_type, value, message) -> None:
    with pytest.raises(BankError, match=message):
        normalize_value(signal_type, value)


def test_vpdq_serialisation_round_trips() -> None:
    frames = (FrameHash("a" * 64, 100, 0.0), FrameHash("b" * 64, 49, 1.5))
    text = serialize_vpdq(frames)
    assert text == f'["{"a" * 64},100,0.000","{"b" * 64},49,1.500"]'
    assert parse_vpdq(text) == frames


def _flip(hex_value: str, bits: int) -> str:
    return f"{int(hex_value, 16) ^ ((1 << bits) - 1):064x}"


def test_vpdq_rule_percentages_quality_and_dedupe() -> None:
    rng = np.random.default_rng(0)
    hashes = [f"{int(rng.integers(0, 2**63)):016x}" * 4 for _ in range(5)]
    banked = [FrameHash(h, 100, float(i)) for i, h in enumerate(hashes)]
    # 4 of 5 query frames are near copies (10 bits off), one is unrelated; a duplicate and a
    # low-quality frame must not count.
    query = [FrameHash(_flip(h, 10), 90, float(i)) for i, h in enumerate(hashes[:4])]
    query += [FrameHash(_flip(hashes[0], 10), 90, 9.0), FrameHash(hashes[4], 10, 7.0),
              FrameHash("0" * 64, 80, 8.0)]
    result = match_videos(query, banked)
    assert result.query_frames == 5 and result.compared_frames == 5
    assert result.query_match_percent == pytest.approx(80.0)
    assert result.compared_match_percent == pytest.approx(80.0)
    assert result.matched_query_times == (0.0, 1.0, 2.0, 3.0)
    assert result.matches(80.0, 0.0)
    assert not result.matches(81.0, 0.0)
    assert not match_videos(query, banked, distance=9).matches()


def test_vpdq_rule_with_no_usable_frames_never_matches() -> None:
    low = [FrameHash("a" * 64, 10, 0.0)]
    result = match_videos(low, low)
    assert result.query_frames == 0 and not result.matches(0.0, 0.0)
