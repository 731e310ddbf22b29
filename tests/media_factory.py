"""Build small media files of every supported format in memory, for tests and benchmarks."""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction

import av
import numpy as np
from PIL import Image


def texture(width: int = 256, height: int = 192, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture: structured enough for perceptual hashing and codecs."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 16), max(2, width // 16), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BICUBIC))


def image_bytes(fmt: str, width: int = 256, height: int = 192, seed: int = 0, **save: object) -> bytes:
    """Encode a texture as ``fmt`` (JPEG, PNG, WEBP, GIF, TIFF, BMP, HEIF, AVIF)."""
    if fmt.upper() in ("HEIF", "HEIC", "AVIF"):
        import pillow_heif

        pillow_heif.register_heif_opener()
        if fmt.upper() == "AVIF" and hasattr(pillow_heif, "register_avif_opener"):
            pillow_heif.register_avif_opener()
    buf = io.BytesIO()
    Image.fromarray(texture(width, height, seed)).save(buf, format=fmt.upper().replace("HEIC", "HEIF"),
                                                      **save)
    return buf.getvalue()


def video_bytes(container: str = "mp4", codec: str = "libx264", seconds: float = 3.0,
                fps: int = 10, width: int = 160, height: int = 120, seed: int = 0,
                gop: int | None = None, frames: list[np.ndarray] | None = None,
                display_rotation: int = 0) -> bytes:
    """Encode a moving texture (or the given RGB ``frames``) as a short video with PyAV.

    ``display_rotation`` is stored as the stream's display matrix (FFmpeg's angle,
    counterclockwise: -90 is how phones mark portrait video recorded as landscape).
    """
    base = texture(width * 2, height * 2, seed)
    if frames is not None:
        height, width = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        if display_rotation:
            stream.set_display_rotation(display_rotation)
        for i in range(len(frames) if frames is not None else int(seconds * fps)):
            dx = (i * 3) % width
            pixels = frames[i] if frames is not None else base[:height, dx:dx + width]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def audio_bytes(container: str = "wav", codec: str = "pcm_s16le", seconds: float = 1.0,
                rate: int = 22050) -> bytes:
    """Encode a one-second tone with PyAV."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = stream.codec_context.format.name if stream.codec_context.format else "s16"
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.3 * np.sin(2 * np.pi * 440 * t)
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, tone.size, frame_size):
            chunk = tone[start:start + frame_size]
            planar = fmt.endswith("p")
            base = fmt.rstrip("p")
            if base == "s16":
                data = (chunk * 32767).astype(np.int16)
            elif base == "s32":
                data = (chunk * 2**31 * 0.99).astype(np.int32)
            else:
                data = chunk.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format=fmt, layout="mono")
            del planar
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels but holds almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def nested_mp4(depth: int = 10_000) -> bytes:
    """An MP4 whose moov box nests ``depth`` container boxes inside each other."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    inner = b""
    for _ in range(depth):
        inner = struct.pack(">I4s", 8 + len(inner), b"trak") + inner
    moov = struct.pack(">I4s", 8 + len(inner), b"moov") + inner
    return ftyp + moov


# --- decompression bombs (tests/test_bombs.py, bench/bench_bombs.py) ---------------------------


def zip_bomb(uncompressed: int = 200 << 20) -> bytes:
    """A ZIP with one member of ``uncompressed`` zero bytes (deflate: about 1000:1)."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z, z.open("zeros.bin", "w") as member:
        block = b"\x00" * (1 << 20)
        for _ in range(uncompressed >> 20):
            member.write(block)
    return buf.getvalue()


def overlapping_zip_bomb(entries: int = 1000, kernel_bytes: int = 1 << 20) -> bytes:
    """A non-recursive zip bomb (Fifield 2019, "full overlap"): every central directory entry
    points at one local header whose data is a highly compressed kernel, so ``entries`` x
    ``kernel_bytes`` come out of one kernel."""
    kernel = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = kernel.compress(b"\x00" * kernel_bytes) + kernel.flush()
    crc = zlib.crc32(b"\x00" * kernel_bytes)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(packed), kernel_bytes,
                        1, 0) + b"k" + packed
    central = b""
    for i in range(entries):
        name = f"f{i}".encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(packed),
                               kernel_bytes, len(name), 0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), len(local), 0)
    return local + central + end


def nested_zips(levels: int = 10) -> bytes:
    """A PNG inside ``levels`` ZIPs, each inside the next."""
    import zipfile

    data, name = image_bytes("PNG", 32, 32), "x.png"
    for level in range(levels):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(name, data)
        data, name = buf.getvalue(), f"level{level}.zip"
    return data


def gzip_bomb(uncompressed: int = 200 << 20) -> bytes:
    import gzip

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g:
        block = b"\x00" * (1 << 20)
        for _ in range(uncompressed >> 20):
            g.write(block)
    return buf.getvalue()


def tar_gz_bomb(uncompressed: int = 200 << 20) -> bytes:
    """A TAR.GZ holding one file of zeros: the TAR header declares it honestly; the bomb is
    in the gzip stream's ratio."""
    import gzip
    import tarfile

    class _Zeros(io.RawIOBase):
        def __init__(self, left: int) -> None:
            self.left = left

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            n = min(len(buffer), self.left)
            buffer[:n] = b"\x00" * n
            self.left -= n
            return n

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as g, \
            tarfile.open(fileobj=g, mode="w|") as t:
        info = tarfile.TarInfo("zeros.bin")
        info.size = uncompressed
        t.addfile(info, _Zeros(uncompressed))
    return buf.getvalue()


def gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose logical screen and only frame declare ``width`` x ``height``."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return header + frame + b";"


def gif_frame_flood(frames: int = 20_000) -> bytes:
    """An animated GIF of ``frames`` one-pixel frames: tiny file, a frame per 20 bytes."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    control = b"!\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms
    frame = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x4c\x01\x00"
    return header + (control + frame) * frames + b";"


def png_with_xmp(packet_bytes: int = 8 << 20) -> bytes:
    """A small PNG carrying an iTXt XMP packet of ``packet_bytes``."""
    body = (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>"
            + b"<rdf:li>A</rdf:li>" * (packet_bytes // 18) + b"</rdf:RDF></x:xmpmeta>")
    data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + body
    chunk = (struct.pack(">I", len(data)) + b"iTXt" + data
             + struct.pack(">I", zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF))
    png = image_bytes("PNG", 64, 48)
    return png[:33] + chunk + png[33:]
