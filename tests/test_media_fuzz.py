"""Corrupted media never raises out of decode and never hangs: a deterministic mutation fuzz."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from deepscreen.media import Limits, decode, open_media

from media_factory import audio_bytes, image_bytes, video_bytes

SEEDS = {
    "jpeg": lambda: image_bytes("JPEG", 96, 64),
    "png": lambda: image_bytes("PNG", 96, 64),
    "webp": lambda: image_bytes("WEBP", 96, 64),
    "gif": lambda: image_bytes("GIF", 96, 64),
    "tiff": lambda: image_bytes("TIFF", 96, 64),
    "heif": lambda: image_bytes("HEIF", 96, 64),
    "mp4": lambda: video_bytes("mp4", seconds=1.0, width=64, height=48),
    "webm": lambda: video_bytes("webm", "libvpx-vp9", seconds=1.0, width=64, height=48),
    "avi": lambda: video_bytes("avi", "mpeg4", seconds=1.0, width=64, height=48),
    "wav": lambda: audio_bytes("wav", seconds=0.3),
    "mp3": lambda: audio_bytes("mp3", "libmp3lame", seconds=0.3),
    "flac": lambda: audio_bytes("flac", "flac", seconds=0.3),
}


def mutations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        buf = bytearray(data)
        match i % 4:
            case 0:  # truncate anywhere
                buf = buf[: int(rng.integers(1, len(buf)))]
            case 1:  # flip bytes in the header region, where parsers make decisions
                for pos in rng.integers(0, min(len(buf), 512), size=8):
                    buf[pos] ^= int(rng.integers(1, 256))
            case 2:  # flip bytes anywhere
                for pos in rng.integers(0, len(buf), size=32):
                    buf[pos] ^= int(rng.integers(1, 256))
            case 3:  # splice a random block in the middle
                at = int(rng.integers(0, len(buf)))
                buf[at:at] = rng.bytes(int(rng.integers(1, 2048)))
        out.append(bytes(buf))
    return out


@pytest.mark.parametrize("fmt", list(SEEDS))
def test_mutated_files_decode_or_fail_cleanly(fmt: str) -> None:
    rng = np.random.default_rng(zlib.crc32(fmt.encode()))
    limits = Limits(decode_timeout_s=10)
    for data in mutations(SEEDS[fmt](), rng, 24):
        item = decode(open_media(data, limits))
        assert item.decoded
        if item.decode_error is None:
            assert item.frames or item.audio is not None
        else:
            assert item.decode_error.code and str(item.decode_error)
