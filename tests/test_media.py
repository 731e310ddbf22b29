"""Media layer: real type from magic bytes, decoding within limits, bad input never crashes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deepscreen.media import Limits, decode, open_media, sniff

from media_factory import audio_bytes, image_bytes, nested_mp4, png_declaring, video_bytes

IMAGES = [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("TIFF", "tiff"),
          ("HEIF", "heic"), ("AVIF", "avif")]
VIDEOS = [("mp4", "libx264", "mp4"), ("mov", "libx264", "mov"), ("webm", "libvpx-vp9", "webm"),
          ("matroska", "libx264", "mkv"), ("avi", "mpeg4", "avi")]
AUDIOS = [("wav", "pcm_s16le", 22050, "wav"), ("mp3", "libmp3lame", 22050, "mp3"),
          ("flac", "flac", 22050, "flac"), ("ogg", "libopus", 48000, "ogg"),
          ("ipod", "aac", 22050, "m4a")]


@pytest.mark.parametrize(("encoder", "expected"), IMAGES)
def test_images_are_sniffed_and_decoded(encoder: str, expected: str) -> None:
    item = decode(open_media(image_bytes(encoder, 128, 96)))
    assert (item.kind, item.media_type.format) == ("image", expected)
    assert item.decode_error is None
    assert (item.width, item.height) == (128, 96)
    assert item.frames[0].rgb.shape == (96, 128, 3)
    assert item.frames[0].rgb.dtype == np.uint8


@pytest.mark.parametrize(("container", "codec", "expected"), VIDEOS)
def test_videos_are_sniffed_and_sampled_once_per_second(container: str, codec: str,
                                                        expected: str) -> None:
    item = decode(open_media(video_bytes(container, codec, seconds=3.0, fps=10)))
    assert (item.kind, item.media_type.format) == ("video", expected)
    assert item.decode_error is None
    assert item.duration_s == pytest.approx(3.0, abs=0.15)
    assert [round(f.time_s) for f in item.frames] == [0, 1, 2]
    assert all(f.rgb.shape == (120, 160, 3) for f in item.frames)


@pytest.mark.parametrize(("container", "codec", "rate", "expected"), AUDIOS)
def test_audio_is_sniffed_and_decoded_to_mono(container: str, codec: str, rate: int,
                                              expected: str) -> None:
    item = decode(open_media(audio_bytes(container, codec, seconds=1.0, rate=rate)))
    assert (item.kind, item.media_type.format) == ("audio", expected)
    assert item.decode_error is None
    assert item.audio is not None and item.audio.sample_rate == 16_000
    assert item.audio.duration_s == pytest.approx(1.0, abs=0.1)
    assert 0.1 < float(np.abs(item.audio.samples).max()) <= 1.0


def test_type_comes_from_bytes_not_the_file_name(tmp_path) -> None:
    disguised = tmp_path / "holiday.mp3"
    disguised.write_bytes(image_bytes("PNG"))
    item = decode(open_media(disguised))
    assert (item.kind, item.media_type.format) == ("image", "png")
    assert item.decode_error is None


def test_sampling_follows_the_configured_interval_and_frame_budget() -> None:
    data = video_bytes(seconds=4.0, fps=10)
    half = decode(open_media(data, Limits(frame_interval_s=0.5)))
    # A sample may land on the next reference frame (B-frames are not decoded): 0.1 s later.
    assert [f.time_s for f in half.frames] == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5],
                                                             abs=0.11)
    budget = decode(open_media(data, Limits(frame_interval_s=0.1, max_frames=4)))
    assert len(budget.frames) == 4
    assert budget.frames[-1].time_s >= 2.5  # spread over the video, not the first 0.4 s


def test_decoder_threads_are_configurable_and_change_no_pixel() -> None:
    data = video_bytes(seconds=3.0, fps=25, gop=250)
    one = decode(open_media(data, Limits(decode_threads=1)))
    three = decode(open_media(data, Limits(decode_threads=3)))
    assert [f.time_s for f in one.frames] == [f.time_s for f in three.frames]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(one.frames, three.frames, strict=True))
    with pytest.raises(ValueError, match="decode_threads"):
        Limits(decode_threads=0)


def test_a_photo_is_turned_upright_by_its_exif_orientation() -> None:
    stored = np.full((96, 160, 3), 40, np.uint8)
    stored[:32, :32] = 230  # bright block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display", as phone cameras write it
    buf = io.BytesIO()
    Image.fromarray(stored).save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    item = decode(open_media(buf.getvalue()))
    assert (item.width, item.height) == (96, 160)
    rgb = item.frames[0].rgb
    assert rgb.shape[:2] == (160, 96) and rgb[:24, -24:].mean() > 200  # now top-right


@pytest.mark.parametrize(("display_rotation", "corner"), [
    (-90, (0, -1)),  # a phone's portrait video: shown turned clockwise, top-left goes top-right
    (90, (-1, 0)),  # turned counterclockwise: top-left goes bottom-left
    (180, (-1, -1)),
    (0, (0, 0)),
])
def test_video_frames_are_turned_upright_as_players_show_them(
        display_rotation: int, corner: tuple[int, int]) -> None:
    stored = np.full((96, 160, 3), 40, np.uint8)
    stored[:32, :32] = 230  # a bright block in the stored frame's top-left corner
    data = video_bytes(frames=[stored] * 10, fps=10, display_rotation=display_rotation)
    item = decode(open_media(data))
    assert item.decode_error is None
    portrait = display_rotation in (90, -90)
    assert (item.width, item.height) == ((96, 160) if portrait else (160, 96))
    assert item.rotation_deg == display_rotation % 360
    rgb = item.frames[0].rgb
    assert rgb.shape[:2] == ((160, 96) if portrait else (96, 160))
    rows = slice(0, 24) if corner[0] == 0 else slice(-24, None)
    cols = slice(0, 24) if corner[1] == 0 else slice(-24, None)
    assert rgb[rows, cols].mean() > 200  # the block is where a player shows it
    assert rgb.mean() < 80  # and nowhere else


class _Recorder:
    """A frame listener that writes down what it was told, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def frame(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.seen.append((frame.index, frame.time_s))

    def restart(self) -> None:
        self.seen.clear()

    def close(self) -> None:
        pass


@pytest.mark.parametrize("codec", ["libx264", "libvpx-vp9"])
def test_parts_decoded_side_by_side_equal_one_sequential_pass(codec: str) -> None:
    # Keyframes every second: the sampling times split into parts, each decoded by its own
    # decoder; the frames, their times and the order the listener sees must not change.
    container = "mp4" if codec == "libx264" else "webm"
    data = video_bytes(container, codec, seconds=6.0, fps=10, gop=10, seed=7)
    one = decode(open_media(data, Limits(decode_segments=1, frame_interval_s=0.5)))
    recorder = _Recorder()
    from deepscreen.media.video import decode_video

    three = open_media(data, Limits(decode_segments=3, frame_interval_s=0.5))
    decode_video(three, recorder)
    assert three.decode_info["parts"] == 3 and one.decode_info["parts"] == 1
    assert [f.time_s for f in three.frames] == [f.time_s for f in one.frames]
    assert len(one.frames) == 12
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(one.frames, three.frames, strict=True))
    assert recorder.seen == [(f.index, f.time_s) for f in three.frames]


def test_a_part_that_fails_fails_the_item_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import deepscreen.media.video as video

    def broken(*_: object) -> list:
        raise ValueError("corrupt data in the second half")

    monkeypatch.setattr(video, "_decode_part_alone", broken)
    before = threading.active_count()
    item = decode(open_media(video_bytes(seconds=4.0, fps=10, gop=10), Limits(decode_segments=2)))
    assert item.decode_error is not None and item.decode_error.code == "decode-failed"
    assert "corrupt data in the second half" in str(item.decode_error)
    assert threading.active_count() == before  # no decoder thread outlives the item


def test_long_keyframe_gap_decodes_sequentially_short_gap_seeks() -> None:
    long_gop = decode(open_media(video_bytes(seconds=4.0, fps=25, gop=250)))
    short_gop = decode(open_media(video_bytes(seconds=4.0, fps=25, gop=5)))
    assert len(long_gop.frames) == len(short_gop.frames) == 4
    # One GOP: frames decoded in one forward pass, never more than the whole stream.
    assert long_gop.decode_info["frames_decoded"] <= 100
    # Keyframes every 0.2 s: each sample is a keyframe decoded on its own.
    assert short_gop.decode_info["frames_decoded"] < 20


BAD_INPUTS = {
    "zero bytes": (b"", "empty"),
    "random bytes": (np.random.default_rng(1).bytes(4096), "unsupported-type"),
    "truncated jpeg": (image_bytes("JPEG", 640, 480)[:2500], "decode-failed"),
    "truncated mp4": (video_bytes(seconds=2.0)[:1500], "decode-failed"),
    "png declaring 100000x100000": (png_declaring(100_000, 100_000), "too-many-pixels"),
    "deeply nested mp4 boxes": (nested_mp4(20_000), None),
    "jpeg magic then garbage": (b"\xff\xd8\xff" + b"\x00" * 1000, "decode-failed"),
    "riff wave without data": (b"RIFF\x24\x00\x00\x00WAVEfmt ", "decode-failed"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_recorded_never_raised(case: str) -> None:
    data, code = BAD_INPUTS[case]
    item = decode(open_media(data))
    assert item.decode_error is not None, case
    assert str(item.decode_error)
    if code is not None:
        assert item.decode_error.code == code


def test_pixel_limit_is_configurable() -> None:
    item = decode(open_media(image_bytes("PNG", 200, 100), Limits(max_pixels=10_000)))
    assert item.decode_error is not None and item.decode_error.code == "too-many-pixels"


def test_byte_limit_applies_to_paths_bytes_and_streams(tmp_path) -> None:
    data = image_bytes("PNG", 200, 100)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    limits = Limits(max_bytes=1000)
    import io

    for source in (path, data, io.BytesIO(data)):
        item = decode(open_media(source, limits))
        assert item.decode_error is not None and item.decode_error.code == "too-large"


def test_large_video_frames_are_scaled_down_to_bound_memory() -> None:
    item = decode(open_media(video_bytes(seconds=1.0, width=320, height=240),
                             Limits(video_max_side=160)))
    assert (item.width, item.height) == (320, 240)
    assert item.frames[0].rgb.shape == (120, 160, 3)


def test_video_duration_limit() -> None:
    item = decode(open_media(video_bytes(seconds=3.0), Limits(max_duration_s=1.0)))
    assert item.decode_error is not None and item.decode_error.code == "too-long"


def test_hashes_are_computed_on_open(tmp_path) -> None:
    import hashlib

    data = image_bytes("JPEG")
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    for item in (open_media(path), open_media(data)):
        assert item.sha256 == hashlib.sha256(data).hexdigest()
        assert item.md5 == hashlib.md5(data).hexdigest()
        assert item.size == len(data)


def test_sniff_table() -> None:
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic").format == "heic"
    assert sniff(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf").format == "avif"
    assert sniff(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom").kind == "audio"
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ").format == "mov"
    assert sniff(b"fLaC\x00\x00\x00\x22").format == "flac"
    assert sniff(b"ID3\x04\x00").format == "mp3"
    assert sniff(b"hello world").kind == "unknown"


@pytest.mark.shared_data
def test_shared_bad_images_never_crash(shared_data) -> None:
    for path in sorted((shared_data / "provenance" / "bad-images").iterdir()):
        item = decode(open_media(path))
        assert item.decoded
        if path.stat().st_size == 0:
            assert item.decode_error is not None and item.decode_error.code == "empty"
