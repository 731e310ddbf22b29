"""PDQ and vPDQ on real photos and videos from ../shared/data (skipped when absent).

False matches are what would hurt a real user, so these tests look for them: no two
different face photos within the threshold, no two different real videos matching, while
edited copies of real media still match.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from deepscreen.banks import FrameHash, hamming, hash_item, match_videos, pdq_dihedral, pdq_of
from deepscreen.media import decode, open_media

pytestmark = pytest.mark.shared_data


def _thumb(path: Path) -> np.ndarray:
    gray = np.asarray(Image.open(path).convert("L").resize((32, 32)), dtype=np.float64)
    return (gray - gray.mean()) / (gray.std() + 1e-9)


def test_different_face_photos_never_match(shared_data: Path) -> None:
    files = sorted((shared_data / "faces-aaf" / "images").glob("*.jpg"))[:400]
    hashes = [pdq_of(np.asarray(Image.open(f).convert("RGB"))) for f in files]
    assert all(h.quality >= 50 for h in hashes)
    packed = np.stack([np.frombuffer(bytes.fromhex(h.hex), np.uint8) for h in hashes])
    distances = np.unpackbits(packed[:, None, :] ^ packed[None, :, :], axis=2).sum(axis=2)
    close = [(i, j) for i, j in zip(*np.nonzero(distances <= 31), strict=True) if i < j]
    # The folder holds a few duplicates (same photo re-saved, re-cropped or turned grey);
    # every pair PDQ calls a match must be one of those, judged by the pixels.
    for i, j in close:
        correlation = float((_thumb(files[i]) * _thumb(files[j])).mean())
        assert correlation > 0.9, (files[i].name, files[j].name, distances[i, j])
    typical = np.median(distances[np.triu_indices(len(files), 1)])
    assert 110 <= typical <= 140  # unrelated photos sit near half of 256 bits apart


def test_edited_copies_of_a_real_photo_match(shared_data: Path) -> None:
    path = sorted((shared_data / "faces-aaf" / "images").glob("*.jpg"))[7]
    photo = Image.open(path).convert("RGB")
    banked = pdq_of(np.asarray(photo)).hex
    edits = {
        "mirror + jpeg 30": photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "rotate 90 + half size": photo.rotate(90, expand=True).resize(
            (photo.height // 2, photo.width // 2)),
        "grey": photo.convert("L").convert("RGB"),
    }
    for name, edited in edits.items():
        buf = io.BytesIO()
        edited.save(buf, format="JPEG", quality=30)
        _, variants = pdq_dihedral(np.asarray(Image.open(io.BytesIO(buf.getvalue()))))
        assert min(hamming(v, banked) for v in variants) <= 31, name


def _reencode(path: Path, width: int) -> bytes:
    out_buf = io.BytesIO()
    with av.open(str(path)) as src, av.open(out_buf, mode="w", format="mp4") as out:
        fps = src.streams.video[0].average_rate or 25
        stream = out.add_stream("mpeg4", rate=fps)
        first = True
        for frame in src.decode(video=0):
            image = frame.to_image()
            height = round(image.height * width / image.width / 2) * 2
            if first:
                stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
                stream.bit_rate = 300_000
                stream.codec_context.gop_size = round(float(fps))
                first = False
            for packet in stream.encode(av.VideoFrame.from_image(image.resize((width, height)))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return out_buf.getvalue()


def test_real_videos_match_their_reencoded_copy_and_nothing_else(shared_data: Path) -> None:
    clips = sorted((shared_data / "video-real").glob("*.mp4"))[:8]
    frames = {c.name: hash_item(decode(open_media(c))).frames for c in clips}
    target = clips[1]
    copy = hash_item(decode(open_media(_reencode(target, 320)))).frames
    for clip in clips:
        result = match_videos(copy, frames[clip.name])
        if clip == target:
            assert result.matches(), result
            assert result.query_match_percent >= 90
        else:
            assert result.query_match_percent < 20, clip.name
    for a in clips:
        for b in clips:
            if a.name < b.name:
                assert not match_videos(frames[a.name], frames[b.name]).matches(), (a, b)


def test_real_video_frames_do_not_match_unrelated_face_photos(shared_data: Path) -> None:
    # Frame-vs-photo matching searches every sampled frame against banked photos, so its
    # false-match rate is per frame: talking-head frames against portrait photos is the
    # closest unrelated pairing this data has.
    photos = sorted((shared_data / "faces-aaf" / "images").glob("*.jpg"))[:400]
    banked = np.stack([np.frombuffer(bytes.fromhex(pdq_of(np.asarray(
        Image.open(p).convert("RGB"))).hex), np.uint8) for p in photos])
    frames = [f for clip in sorted((shared_data / "video-real").glob("*.mp4"))
              for f in hash_item(decode(open_media(clip))).frames if f.quality >= 50]
    assert len(frames) >= 150
    queries = np.stack([np.frombuffer(bytes.fromhex(f.hex), np.uint8) for f in frames])
    distances = np.unpackbits(queries[:, None, :] ^ banked[None, :, :], axis=2).sum(axis=2)
    assert distances.min() > 31  # the default bank threshold


def test_real_video_hashes_agree_with_the_vpdq_package(shared_data: Path) -> None:
    # A partner's bank is often made with Meta's vpdq; our hashes of the same file must
    # match it under the vPDQ rule. Frames at the same time hash alike; where a sampled
    # frame is a non-reference B-frame, our decoder lands one frame later (see media.video).
    vpdq = pytest.importorskip("vpdq")
    clips = sorted((shared_data / "video-real").glob("*.mp4"))
    matched = []
    for clip in clips:
        theirs = [FrameHash(f.hex, f.quality, f.timestamp)
                  for f in vpdq.computeHash(str(clip), seconds_per_hash=1)]
        ours = hash_item(decode(open_media(clip))).frames
        assert len(ours) == len(theirs), clip.name
        for mine, other in zip(ours, theirs, strict=True):
            if abs(mine.time_s - other.time_s) < 1e-3:
                assert hamming(mine.hex, other.hex) <= 16, (clip.name, mine.time_s)
        matched.append(match_videos(ours, theirs).matches())
    # One clip (d12) changes its whole picture between neighbouring frames, so a frame one
    # step later is a different picture; every other clip matches.
    assert sum(matched) >= len(clips) - 1, [c.name for c, m in zip(clips, matched, strict=True) if not m]
