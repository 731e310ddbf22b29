"""The ``hashes`` signal through the real scan pipeline: images, video, broken files."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import deepscreen
from deepscreen.banks import BankStore, NewEntry, hash_item, open_store
from deepscreen.banks.hashing import hamming
from deepscreen.config import ScanConfig
from deepscreen.findings import Finding
from deepscreen.media import decode, open_media

from media_factory import audio_bytes, image_bytes, texture, video_bytes


def _hashes_finding(report) -> Finding:
    return next(f for f in report.findings if f.signal == "hashes")


def _config(tmp_path: Path) -> ScanConfig:
    return ScanConfig(home=tmp_path / "home", signals=("hashes",))


def _bank_file(config: ScanConfig, data: bytes, name: str = "ncii", **bank: object
               ) -> BankStore:
    """Create a bank and add the file's hashes, as 'deepscreen bank add' does."""
    store = open_store(config)
    store.create_bank(name, **bank)
    hashes = hash_item(decode(open_media(data)))
    entries = [NewEntry("sha256", hashes.sha256, {"case_id": "c-1"}),
               NewEntry("md5", hashes.md5)]
    if hashes.pdq is not None:
        entries.append(NewEntry("pdq", hashes.pdq.hex, {"case_id": "c-1"}))
    if hashes.frames:
        entries.append(NewEntry("vpdq", "[" + ",".join(
            f'"{f.to_vpdq()}"' for f in hashes.frames) + "]", {"case_id": "c-1"}))
    store.add_entries(name, entries)
    return store


def _jpeg(rgb: np.ndarray, quality: int = 50) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def test_banked_image_is_blocked_with_evidence(tmp_path: Path) -> None:
    config = _config(tmp_path)
    original = image_bytes("PNG", 640, 480, seed=5)
    _bank_file(config, original)
    report = deepscreen.scan(original, config=config)
    assert report.verdict.action == "block"
    finding = _hashes_finding(report)
    assert finding.score == 1.0
    assert set(finding.labels) == {"bank-match", "bank:ncii", "exact-match", "pdq-match"}
    kinds = {m["signal_type"] for m in finding.evidence["matches"]}
    assert kinds == {"sha256", "md5", "pdq"}
    assert finding.evidence["hashes"]["pdq"]["quality"] >= 50
    assert all(m["bank"] == "ncii" for m in finding.evidence["matches"])


def test_rotated_reencoded_copy_matches_by_pdq_only(tmp_path: Path) -> None:
    config = _config(tmp_path)
    original = texture(640, 480, seed=6)
    _bank_file(config, _jpeg(original, 95))
    copy = _jpeg(np.rot90(np.asarray(Image.fromarray(original).resize((400, 300))), 1), 40)
    report = deepscreen.scan(copy, config=config)
    finding = _hashes_finding(report)
    assert report.verdict.action == "block"
    assert "pdq-match" in finding.labels and "exact-match" not in finding.labels
    (match,) = finding.evidence["matches"]
    assert match["signal_type"] == "pdq" and match["distance"] <= 31
    # the variant names the turn that brings the item back to the banked picture
    assert match["dihedral_variant"] == "rotate-90-cw"
    assert match["metadata"] == {"case_id": "c-1"}


def test_unrelated_image_does_not_match_and_reports_its_hashes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _bank_file(config, image_bytes("PNG", 640, 480, seed=7))
    report = deepscreen.scan(image_bytes("JPEG", 640, 480, seed=8), config=config)
    finding = _hashes_finding(report)
    assert report.verdict.action == "allow"
    assert finding.score == 0.0 and finding.labels == ()
    assert finding.evidence["banks_checked"] == ["ncii"]
    assert len(finding.evidence["hashes"]["pdq"]["hash"]) == 64
    assert "no match in 1 bank" in finding.summary


def test_no_banks_configured(tmp_path: Path) -> None:
    config = _config(tmp_path)
    finding = _hashes_finding(deepscreen.scan(image_bytes("PNG"), config=config))
    assert finding.score == 0.0 and finding.summary == "no hash banks configured"
    assert len(finding.evidence["hashes"]["sha256"]) == 64
    assert len(finding.evidence["hashes"]["pdq"]["hash"]) == 64  # a reviewer may bank it later
    assert not (config.home / "banks.sqlite").exists()  # scanning never creates a database


def test_flat_image_is_not_matched_by_pdq(tmp_path: Path) -> None:
    config = _config(tmp_path)
    store = open_store(config)
    store.create_bank("ncii")
    flat = np.full((240, 320, 3), 200, dtype=np.uint8)
    flat_pdq = hash_item(decode(open_media(_jpeg(flat)))).pdq
    assert flat_pdq is not None and flat_pdq.quality < 50
    store.add_entries("ncii", [NewEntry("pdq", flat_pdq.hex)])
    other_flat = np.full((240, 320, 3), 60, dtype=np.uint8)
    finding = _hashes_finding(deepscreen.scan(_jpeg(other_flat), config=config))
    assert finding.score == 0.0
    assert "quality" in finding.evidence["hashes"]["pdq_note"]
    assert "too little structure" in finding.summary


def test_exact_match_still_works_on_an_undecodable_file(tmp_path: Path) -> None:
    config = _config(tmp_path)
    broken = image_bytes("JPEG", 320, 240, seed=9)[:400]  # truncated: sniffs as JPEG, won't decode
    _bank_file(config, broken)
    report = deepscreen.scan(broken, config=config)
    assert report.error is not None  # the media layer could not decode it
    finding = _hashes_finding(report)
    assert finding.score == 1.0 and "exact-match" in finding.labels
    assert "pdq-match" not in finding.labels
    assert "could not be decoded" in finding.evidence["hashes"]["pdq_note"]
    assert report.verdict.action == "block"


def test_audio_matches_by_exact_hash(tmp_path: Path) -> None:
    config = _config(tmp_path)
    tone = audio_bytes()
    _bank_file(config, tone)
    finding = _hashes_finding(deepscreen.scan(tone, config=config))
    assert finding.score == 1.0 and "exact-match" in finding.labels
    assert finding.evidence["hashes"]["pdq_note"] == "no PDQ for audio items"


def test_unreachable_bank_database_abstains(tmp_path: Path) -> None:
    config = ScanConfig(home=tmp_path, signals=("hashes",),
                        signal_options={"hashes": {"url": "postgresql://nobody@127.0.0.1:1/x"}})
    finding = _hashes_finding(deepscreen.scan(image_bytes("PNG"), config=config))
    assert finding.score is None and "hash banks unavailable" in finding.abstained


def _reencode(data: bytes, width: int, height: int) -> bytes:
    """Decode a clip and encode it again smaller, with another codec and a low bitrate."""
    out_buf = io.BytesIO()
    with av.open(io.BytesIO(data)) as src, av.open(out_buf, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 150_000
        # Keyframes on whole seconds: the media layer may sample the nearest keyframe, and
        # this test clip moves fast enough that a 0.2 s offset changes the picture.
        stream.codec_context.gop_size = 10
        for frame in src.decode(video=0):
            rgb = frame.to_image().resize((width, height))
            for packet in stream.encode(av.VideoFrame.from_image(rgb)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return out_buf.getvalue()


def test_banked_video_matches_itself_and_a_reencoded_copy(tmp_path: Path) -> None:
    config = _config(tmp_path)
    clip = video_bytes(seconds=3.0, fps=10, width=160, height=120, seed=3)
    _bank_file(config, clip)
    finding = _hashes_finding(deepscreen.scan(_reencode(clip, 128, 96), config=config))
    assert finding.score == 1.0
    assert "pdq-match" in finding.labels and "exact-match" not in finding.labels
    (match,) = finding.evidence["matches"]
    assert match["signal_type"] == "vpdq"
    assert match["video"]["query_match_percent"] >= 80
    assert match["video"]["matched_times_s"][:2] == [0.0, 1.0]
    assert len(finding.evidence["hashes"]["vpdq"]) == 3


def test_unrelated_video_does_not_match(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _bank_file(config, video_bytes(seed=3))
    finding = _hashes_finding(deepscreen.scan(video_bytes(seed=4), config=config))
    assert finding.score == 0.0


def test_our_frame_hashes_agree_with_the_vpdq_package(tmp_path: Path) -> None:
    vpdq = pytest.importorskip("vpdq")
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes(seconds=3.0, fps=10, seed=3))
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1)
    ours = hash_item(decode(open_media(path))).frames
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        assert abs(mine.time_s - other.timestamp) < 0.11
        assert bin(int(mine.hex, 16) ^ int(other.hex, 16)).count("1") <= 31


def _frames_of(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _sideways_frames() -> list[np.ndarray]:
    upright = _frames_of(video_bytes(seconds=3.0, fps=10, width=240, height=320, seed=3))
    return [np.ascontiguousarray(np.rot90(f, 1)) for f in upright]


def _phone_portrait_pair() -> tuple[bytes, bytes]:
    """The same clip twice: stored on its side with a display matrix (as phones record
    portrait video), and re-encoded upright without one (as most re-encoders write it)."""
    sideways = _sideways_frames()
    return (video_bytes(frames=sideways, fps=10, display_rotation=-90),
            video_bytes(frames=[np.ascontiguousarray(np.rot90(f, -1)) for f in sideways], fps=10))


def test_a_rotated_video_is_hashed_as_stored_and_matched_both_ways(tmp_path: Path) -> None:
    phone, reencoded = _phone_portrait_pair()
    # The phone's bytes without the display matrix: the same stored pictures, not turned.
    stored = hash_item(decode(open_media(video_bytes(frames=_sideways_frames(), fps=10))))
    phone_hashes = hash_item(decode(open_media(phone)))
    upright = hash_item(decode(open_media(reencoded)))
    # Exported and banked hashes are of the pictures as stored, as Meta's vPDQ makes them
    # (two encodes of the same pictures: a few bits apart; the upright pictures: far apart)...
    for as_stored, other, turned in zip(phone_hashes.frames, stored.frames, upright.frames,
                                        strict=True):
        assert hamming(as_stored.hex, other.hex) <= 8 < 64 < hamming(as_stored.hex, turned.hex)
    # ...and the three turned views are there for matching only.
    assert [len(view) for view in phone_hashes.turned_frames] == [3, 3, 3]
    assert set(phone_hashes.to_dict()) == {"kind", "sha256", "md5", "vpdq"}

    # Banked upright, uploaded from the phone; banked from the phone (as a victim would hash
    # it on their own device), uploaded as an upright re-encode. Both match, by a quarter turn.
    for banked, query, turn in ((reencoded, phone, "rotate-90-cw"),
                                (phone, reencoded, "rotate-90-ccw")):
        config = ScanConfig(home=tmp_path / turn, signals=("hashes",))
        _bank_file(config, banked)
        finding = _hashes_finding(deepscreen.scan(query, config=config))
        assert finding.score == 1.0, turn
        (match,) = finding.evidence["matches"]
        assert match["signal_type"] == "vpdq"
        assert match["video"]["query_match_percent"] >= 80
        assert match["dihedral_variant"] == turn


def test_rotated_video_hashes_agree_with_the_vpdq_package(tmp_path: Path) -> None:
    vpdq = pytest.importorskip("vpdq")
    path = tmp_path / "phone.mp4"
    path.write_bytes(_phone_portrait_pair()[0])
    theirs = vpdq.computeHash(str(path), seconds_per_hash=1)
    ours = hash_item(decode(open_media(path))).frames
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        assert bin(int(mine.hex, 16) ^ int(other.hex, 16)).count("1") <= 31


def _slideshow(pictures: list[np.ndarray], seconds_each: int = 1, fps: int = 10,
               size: tuple[int, int] = (320, 240)) -> bytes:
    """A video that shows each picture for ``seconds_each`` seconds (a re-shared photo)."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = fps
        for picture in pictures:
            frame = Image.fromarray(picture).resize(size)
            for _ in range(seconds_each * fps):
                for packet in stream.encode(av.VideoFrame.from_image(frame)):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def test_banked_photo_shown_in_a_video_is_matched_by_its_frames(tmp_path: Path) -> None:
    config = _config(tmp_path)
    photo = texture(640, 480, seed=7)
    _bank_file(config, _jpeg(photo, quality=90))
    video = _slideshow([texture(640, 480, seed=8), photo, photo, texture(640, 480, seed=9)])
    report = deepscreen.scan(video, config=config)
    finding = _hashes_finding(report)
    assert report.verdict.action == "block" and finding.score == 1.0
    assert "pdq-match" in finding.labels and "exact-match" not in finding.labels
    (match,) = finding.evidence["matches"]
    assert match["signal_type"] == "pdq-frame" and match["metadata"] == {"case_id": "c-1"}
    assert match["video"]["matched_times_s"] == [1.0, 2.0]  # only while the photo is shown
    assert match["video"]["query_frames"] == 4
    assert "seen in the video at 1 s, 2 s" in finding.summary


def test_video_without_the_banked_photo_does_not_match_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _bank_file(config, _jpeg(texture(640, 480, seed=7), quality=90))
    video = _slideshow([texture(640, 480, seed=8), texture(640, 480, seed=9)])
    assert _hashes_finding(deepscreen.scan(video, config=config)).score == 0.0
