"""Animated GIF, WebP and APNG are screened like video: every frame, or frames sampled over time."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from deepscreen import Scanner
from deepscreen.banks import NewEntry, hash_item, open_store
from deepscreen.config import ScanConfig
from deepscreen.media import Limits, decode, open_media

from media_factory import texture

FORMATS = ["GIF", "WEBP", "PNG"]  # PNG with save_all is APNG


def animation(fmt: str, frames: list[np.ndarray], durations: list[int] | int = 100, **save: object
              ) -> bytes:
    pictures = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    pictures[0].save(buf, format=fmt, save_all=True, append_images=pictures[1:],
                     duration=durations, loop=0, **save)
    return buf.getvalue()


def blank(width: int = 256, height: int = 192) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def _bank_picture(config: ScanConfig, rgb: np.ndarray) -> None:
    """Bank a still photo by its PDQ, as a reviewer banks a reported image."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    hashes = hash_item(decode(open_media(buf.getvalue())))
    assert hashes.pdq is not None and hashes.pdq.usable
    store = open_store(config)
    store.create_bank("ncii")
    store.add_entries("ncii", [NewEntry("pdq", hashes.pdq.hex, {"case_id": "c-13"})])


@pytest.mark.parametrize("fmt", FORMATS)
def test_banked_photo_as_the_second_frame_is_blocked(tmp_path: Path, fmt: str) -> None:
    # The bypass of issue 13: blank first frame, banked photo second. The still is blocked;
    # the animation must be too, with the frame's time in the evidence.
    photo = texture(256, 192, seed=11)
    config = ScanConfig(home=tmp_path / "home", signals=("hashes",))
    _bank_picture(config, photo)
    data = animation(fmt, [blank(), photo], durations=[500, 500])
    with Scanner(config) as scanner:
        still = scanner.scan(animation(fmt, [photo], durations=500) if fmt != "PNG"
                             else _png(photo))
        report = scanner.scan(data, name=f"anim.{fmt.lower()}")
    assert still.action == "block"
    assert report.action == "block", report.verdict
    assert report.item.animated and report.item.frames_total == 2
    assert report.item.frames_sampled == 2
    match = report.finding("hashes").evidence["matches"][0]
    assert match["signal_type"] == "pdq-frame"
    assert match["video"]["matched_times_s"] == [0.5]
    assert "seen in the animation at 0.5 s" in report.finding("hashes").summary


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def shapes(size: int = 256) -> np.ndarray:
    """A picture with large distinct shapes: PDQ's mirrored variants stay close for it (on
    fine random texture the DCT-derived variants drift past the match threshold)."""
    picture = Image.new("RGB", (size, size), (30, 30, 30))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((20, 20, 120, 90), fill=(220, 40, 40))
    draw.ellipse((140, 60, 240, 170), fill=(40, 200, 90))
    draw.polygon([(30, 170), (100, 110), (120, 180)], fill=(240, 240, 60))
    return np.asarray(picture)


def test_a_mirrored_banked_photo_in_an_animation_matches_too(tmp_path: Path) -> None:
    photo = shapes()
    config = ScanConfig(home=tmp_path / "home", signals=("hashes",))
    _bank_picture(config, photo)
    with Scanner(config) as scanner:
        report = scanner.scan(animation("WEBP", [blank(256, 256), photo[:, ::-1].copy()],
                                        lossless=True))
    assert report.action == "block"
    assert report.finding("hashes").evidence["matches"][0]["dihedral_variant"] == "flip-horizontal"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_frame_when_few_and_frames_are_composited(fmt: str) -> None:
    # The second picture differs from the first only in a corner, so encoders store just that
    # rectangle; the decoded frame must be the whole picture as a viewer shows it.
    first = texture(96, 64, seed=1)
    second = first.copy()
    second[:16, :16] = (250, 0, 0)
    item = decode(open_media(animation(fmt, [first, second, first], durations=[40, 60, 80],
                                       **({"lossless": True} if fmt == "WEBP" else {}))))
    assert item.decode_error is None
    assert [f.time_s for f in item.frames] == [0.0, 0.04, 0.1]
    assert item.duration_s == pytest.approx(0.18)
    tolerance = 40 if fmt == "GIF" else 2  # GIF quantises to 256 colours
    assert np.abs(item.frames[1].rgb.astype(int) - second).mean() < tolerance
    assert item.frames[1].rgb[:16, :16].mean(axis=(0, 1))[0] > 200
    assert np.abs(item.frames[2].rgb.astype(int) - first).mean() < tolerance


def test_transparent_areas_are_composited_on_the_page_background() -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (0, 0, 200, 255)  # opaque blue square on transparent
    frames = [Image.fromarray(rgba), Image.fromarray(np.roll(rgba, 4, axis=1))]
    buf = io.BytesIO()
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:], duration=100)
    item = decode(open_media(buf.getvalue()))
    assert item.decode_error is None and len(item.frames) == 2
    assert tuple(item.frames[0].rgb[0, 0]) == (255, 255, 255)  # transparent: white page
    assert tuple(item.frames[0].rgb[16, 16]) == (0, 0, 200)


def test_many_frames_are_sampled_evenly_over_time_honouring_durations() -> None:
    # 40 frames: one held for 4 s in the middle, the rest 100 ms each. Sampling 8 frames
    # evenly over the 7.9 s picks the long frame more than once (it is kept once) and
    # reaches the end of the animation.
    frames = [texture(32, 32, seed=i) for i in range(40)]
    durations = [100] * 40
    durations[20] = 4000
    data = animation("WEBP", frames, durations=durations, lossless=True)
    item = decode(open_media(data, Limits(animation_max_frames=8)))
    assert item.decode_error is None
    assert item.describe().frames_total == 40
    times = [f.time_s for f in item.frames]
    assert len(times) <= 8 and times[0] == 0.0
    assert 2.0 in times  # the long frame starts at 2.0 s
    assert times[-1] > 6.0
    assert times == sorted(set(times))


def test_frames_of_ten_ms_or_less_are_timed_as_browsers_show_them() -> None:
    frames = [texture(32, 32, seed=i) for i in range(3)]
    item = decode(open_media(animation("GIF", frames, durations=[0, 10, 200])))
    assert [f.time_s for f in item.frames] == [0.0, 0.1, 0.2]


def test_more_frames_than_the_file_frame_limit_is_refused_before_decoding() -> None:
    frames = [texture(16, 16, seed=i) for i in range(12)]
    for fmt in FORMATS:
        item = decode(open_media(animation(fmt, frames), Limits(animation_max_file_frames=10)))
        assert item.decode_error is not None and item.decode_error.code == "too-many-frames", fmt
        assert "animation_max_file_frames" in str(item.decode_error)


def test_decoded_pixel_budget_refuses_a_frame_flood() -> None:
    frames = [texture(200, 100, seed=i % 3) for i in range(30)]
    item = decode(open_media(animation("GIF", frames),
                             Limits(animation_max_decoded_pixels=200 * 100 * 29)))
    assert item.decode_error is not None and item.decode_error.code == "too-many-pixels"
    assert "30 frames of 200x100" in str(item.decode_error)
    ok = decode(open_media(animation("GIF", frames),
                           Limits(animation_max_decoded_pixels=200 * 100 * 30)))
    assert ok.decode_error is None


def test_large_canvases_are_scaled_down_like_video_frames() -> None:
    frames = [texture(400, 200, seed=i) for i in range(2)]
    item = decode(open_media(animation("WEBP", frames), Limits(video_max_side=100)))
    assert (item.width, item.height) == (400, 200)
    assert item.frames[0].rgb.shape == (50, 100, 3)


def test_identical_consecutive_frames_are_kept_once() -> None:
    a, b = texture(32, 32, seed=1), texture(32, 32, seed=2)
    item = decode(open_media(animation("PNG", [a, a, a, b])))
    assert [f.time_s for f in item.frames] == [0.0, 0.3]


def _apng_with_wrong_frame_count(data: bytes, declared: int) -> bytes:
    at = data.index(b"acTL")
    body = struct.pack(">II", declared, 0)
    crc = struct.pack(">I", zlib.crc32(b"acTL" + body) & 0xFFFFFFFF)
    return data[:at + 4] + body + crc + data[at + 4 + 8 + 4:]


def test_an_apng_hiding_a_frame_from_its_frame_count_is_undecodable() -> None:
    frames = [blank(32, 32), texture(32, 32, seed=3), texture(32, 32, seed=4)]
    data = _apng_with_wrong_frame_count(animation("PNG", frames), 2)
    item = decode(open_media(data))
    assert item.decode_error is not None and item.decode_error.code == "decode-failed"
    assert "frame" in str(item.decode_error)


def test_every_pixel_signal_sees_every_frame(tmp_path: Path) -> None:
    frames = [blank(128, 96), texture(128, 96, seed=5), texture(128, 96, seed=6)]
    with Scanner(ScanConfig(home=tmp_path, signals=("faces",))) as scanner:
        report = scanner.scan(animation("GIF", frames))
    faces = report.finding("faces")
    assert faces is not None
    if faces.abstained == "face model not installed":
        pytest.skip("face model not installed")
    assert faces.evidence["frames_sampled"] == 3


def test_a_still_gif_is_still_one_frame() -> None:
    item = decode(open_media(animation("GIF", [texture(64, 48)])))
    assert len(item.frames) == 1 and not item.animated
    assert item.describe().frames_sampled is None
