"""Fuzz campaign: mutated samples of every supported format through the real Scanner.

    python bench/fuzz.py --per-format 10000 --out /work/data/fuzz [--time-budget 7200]
    python bench/fuzz.py --per-format 200 --formats png,zip --out /tmp/fz   # a short slice
    python bench/fuzz.py --write-benchmarks --out /work/data/fuzz          # figures -> BENCHMARKS.md

Seed samples are made at run time (small files: a campaign of 10,000 mutations per format
fits in CPU-hours) and kept in ``OUT/seeds``, so a resumed campaign mutates the same bytes.
Mutation ``i`` of format ``f`` depends only on (``--seed``, ``f``, ``i``) and the seed
file: any failure can be rebuilt from its index (``--replay FORMAT:INDEX``). Progress is
checkpointed per format in ``OUT/state.json``; running the same command again resumes.

Each mutated file is scanned in a worker process under ``resource.setrlimit`` (address
space and CPU time), one item at a time, with the parent as watchdog:

* crash: the worker died (a signal, an abort in a C decoder, the memory limit)
* hang: no answer within ``--item-timeout`` seconds (the worker is killed and replaced)
* error: ``Scanner.scan`` raised instead of returning a report
* no-verdict: a report without one of the four actions
* memory: a decoder ran out of the address space (its MemoryError became a verdict), or the
  worker's resident memory grew past 90% of ``--memory-mb``

Failures are written to ``OUT/failures/`` (the file and a JSON line with the traceback);
fixed ones become regression samples in ``tests/regressions/``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import multiprocessing as mp
import os
import random
import resource
import signal
import struct
import sys
import tarfile
import tempfile
import time
import traceback
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# --- seed samples -----------------------------------------------------------------------------


def _jpeg_with_xmp(kilobytes: int = 16) -> bytes:
    from media_factory import image_bytes

    fields = "".join(f'<rdf:li xml:lang="x-{i}">description {i}</rdf:li>' for i in range(kilobytes * 20))
    packet = ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
              '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
              'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
              'xmlns:dc="http://purl.org/dc/elements/1.1/" '
              'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
              f'trainedAlgorithmicMedia"><dc:description><rdf:Alt>{fields}</rdf:Alt>'
              '</dc:description></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet.encode()[:65000]
    jpeg = image_bytes("JPEG", 64, 48)
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _animation(fmt: str) -> bytes:
    from PIL import Image

    from media_factory import texture

    frames = [Image.fromarray(texture(48, 32, seed)) for seed in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], duration=[80, 120, 60],
                   loop=0)
    return buf.getvalue()


def _zip() -> bytes:
    from media_factory import image_bytes

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("photos/a.png", image_bytes("PNG", 32, 24))
        z.writestr("photos/b.jpg", image_bytes("JPEG", 32, 24, seed=1))
        z.writestr("notes/", b"")
    return buf.getvalue()


def _tar_gz() -> bytes:
    from media_factory import image_bytes

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in (("a.png", image_bytes("PNG", 32, 24)), ("b.gif", image_bytes("GIF", 32, 24))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _pdf() -> bytes:
    from PIL import Image

    from media_factory import texture

    buf = io.BytesIO()
    Image.fromarray(texture(48, 32)).save(buf, format="PDF")
    return buf.getvalue()


def _c2pa(kind: str) -> bytes:
    from fixtures_c2pa import make_pki, sign_media

    from media_factory import image_bytes, video_bytes

    pki = make_pki()
    if kind == "jpeg":
        return sign_media(pki, source=image_bytes("JPEG", 48, 32, seed=7))
    return sign_media(pki, source=video_bytes("mp4", seconds=0.5, fps=4, width=32, height=32),
                      mime="video/mp4")


def seed_makers() -> dict[str, Callable[[], bytes]]:
    from media_factory import audio_bytes, image_bytes, video_bytes

    small = {"width": 48, "height": 32}
    clip = {"seconds": 0.5, "fps": 4, "width": 32, "height": 32}
    return {
        "jpeg": lambda: image_bytes("JPEG", **small),
        "png": lambda: image_bytes("PNG", **small),
        "gif": lambda: _animation("GIF"),
        "webp": lambda: _animation("WEBP"),
        "apng": lambda: _animation("PNG"),
        "tiff": lambda: image_bytes("TIFF", **small),
        "heic": lambda: image_bytes("HEIF", **small),
        "avif": lambda: image_bytes("AVIF", **small),
        "mp4": lambda: video_bytes("mp4", **clip),
        "mov": lambda: video_bytes("mov", **clip),
        "webm": lambda: video_bytes("webm", "libvpx-vp9", **clip),
        "mkv": lambda: video_bytes("matroska", **clip),
        "wav": lambda: audio_bytes("wav", seconds=0.2, rate=8000),
        "mp3": lambda: audio_bytes("mp3", "libmp3lame", seconds=0.2, rate=22050),
        "flac": lambda: audio_bytes("flac", "flac", seconds=0.2, rate=8000),
        "ogg": lambda: audio_bytes("ogg", "libopus", seconds=0.2, rate=48000),
        "zip": _zip,
        "targz": _tar_gz,
        "pdf": _pdf,
        "c2pa-jpeg": lambda: _c2pa("jpeg"),
        "c2pa-mp4": lambda: _c2pa("mp4"),
        "xmp-jpeg": _jpeg_with_xmp,
    }


def load_seeds(out: Path, formats: list[str]) -> dict[str, bytes]:
    """Seed files from ``OUT/seeds``, made on first use (resumed campaigns reuse them)."""
    folder = out / "seeds"
    folder.mkdir(parents=True, exist_ok=True)
    makers = seed_makers()
    seeds = {}
    for fmt in formats:
        path = folder / f"{fmt}.bin"
        if not path.exists():
            path.write_bytes(makers[fmt]())
        seeds[fmt] = path.read_bytes()
    return seeds


# --- mutations ----------------------------------------------------------------------------------

_EXTREMES = (0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0)


def _bit_flips(data: bytearray, rng: random.Random) -> bytearray:
    for _ in range(rng.choice((1, 2, 4, 8, 32))):
        pos = rng.randrange(len(data)) if rng.random() < 0.5 else rng.randrange(min(len(data), 512))
        data[pos] ^= 1 << rng.randrange(8)
    return data


def _byte_sets(data: bytearray, rng: random.Random) -> bytearray:
    for _ in range(rng.randint(1, 16)):
        data[rng.randrange(len(data))] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
    return data


def _truncate(data: bytearray, rng: random.Random) -> bytearray:
    return data[: rng.randrange(1, len(data))]


def _duplicate_chunk(data: bytearray, rng: random.Random) -> bytearray:
    start = rng.randrange(len(data))
    piece = data[start:start + rng.randint(1, 4096)]
    at = rng.randrange(len(data))
    return data[:at] + piece * rng.choice((1, 2, 8)) + data[at:]


def _splice_random(data: bytearray, rng: random.Random) -> bytearray:
    at = rng.randrange(len(data))
    return data[:at] + bytearray(rng.randbytes(rng.randint(1, 2048))) + data[at + rng.randint(0, 64):]


def _length_fields(data: bytearray, rng: random.Random) -> bytearray:
    """Overwrite what look like length or count fields (16/32-bit, either byte order) near
    structure markers with extreme or off-by-some values."""
    candidates = [m.start() - 4 for m in _MARKERS.finditer(bytes(data[:1 << 16]))
                  if m.start() >= 4]
    for _ in range(rng.randint(1, 4)):
        pos = rng.choice(candidates) if candidates and rng.random() < 0.7 else \
            rng.randrange(max(1, len(data) - 4))
        width = rng.choice((2, 4))
        order = rng.choice(("big", "little"))
        old = int.from_bytes(data[pos:pos + width], order)
        new = rng.choice((*_EXTREMES, old * 2, old + 1, max(0, old - 1), old * 1000))
        data[pos:pos + width] = (new % (1 << (8 * width))).to_bytes(width, order)
    return data


def _huge_dimensions(data: bytearray, rng: random.Random) -> bytearray:
    """Declare enormous pictures where formats keep their size, leaving the data alone."""
    text = bytes(data)
    big = rng.choice((65535, 65500, 40000, 1 << 15, 1 << 20))
    if text.startswith(b"\x89PNG") and len(data) >= 24:
        data[16:24] = struct.pack(">II", big, big)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    elif text[:3] == b"GIF":
        data[6:10] = struct.pack("<HH", big & 0xFFFF, big & 0xFFFF)
    elif text[:2] == b"\xff\xd8":
        sof = max(text.find(b"\xff\xc0"), text.find(b"\xff\xc2"))
        if sof > 0:
            data[sof + 5:sof + 9] = struct.pack(">HH", big & 0xFFFF, big & 0xFFFF)
    elif b"VP8X" in text[:64]:
        at = text.find(b"VP8X") + 12
        data[at:at + 6] = (big - 1).to_bytes(3, "little") * 2
    for box in (b"ispe", b"tkhd", b"stsd"):
        at = text.find(box)
        if at > 0 and rng.random() < 0.5:
            data[at + 12:at + 20] = struct.pack(">II", big, big)
    return data


def _nested_boxes(data: bytearray, rng: random.Random) -> bytearray:
    """Wrap an ISO-BMFF/RIFF/EBML region in thousands of container headers."""
    depth = rng.choice((100, 1000, 5000))
    at = rng.randrange(len(data))
    inner = bytes(data[at:at + rng.randint(8, 256)])
    for _ in range(depth):
        inner = struct.pack(">I4s", 8 + len(inner), rng.choice((b"moov", b"trak", b"meta", b"udta"))) + inner
    return data[:at] + bytearray(inner) + data[at:]


def _looping_references(data: bytearray, rng: random.Random) -> bytearray:
    """Make a structure point back at itself or an earlier part: a ZIP entry at another's
    offset, a PDF object that is its own parent, an MP4 chunk offset to the file start,
    an APNG/GIF frame repeated many times."""
    text = bytes(data)
    if text.startswith(b"PK"):
        cd = text.rfind(b"PK\x01\x02")
        first = text.find(b"PK\x01\x02")
        if cd > 0:
            data[cd + 42:cd + 46] = data[first + 42:first + 46] if rng.random() < 0.5 else b"\x00\x00\x00\x00"
            return data
    if b"/Kids" in text:
        looped = text.replace(b"/Kids [", b"/Kids [1 0 R ", 1)
        return bytearray(looped.replace(b"/Parent ", b"/Parent 1 0 R /X ", 1))
    for box in (b"stco", b"co64"):
        at = text.find(box)
        if at > 0:
            data[at + 12:at + 16] = struct.pack(">I", rng.choice((0, 8, len(data) - 1)))
            return data
    for marker in (b"fcTL", b"ANMF", b"\x21\xf9\x04"):
        at = text.find(marker)
        if at > 0:
            piece = text[at - 4 if marker != b"\x21\xf9\x04" else at:at + 200]
            return bytearray(text[:at] + piece * rng.choice((10, 500)) + text[at:])
    return _duplicate_chunk(data, rng)


def _huge_metadata(data: bytearray, rng: random.Random) -> bytearray:
    """A huge (or huge-declaring) XMP packet where the format keeps metadata."""
    size = rng.choice((60_000, 1 << 20, 4 << 20))
    body = (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>" + b"<rdf:li>A</rdf:li>" * (size // 18)
            + b"</rdf:RDF>")
    text = bytes(data)
    if text[:2] == b"\xff\xd8":
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + body[:65000]
        segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
        return bytearray(text[:2] + segment * rng.choice((1, 20)) + text[2:])
    if text.startswith(b"\x89PNG"):
        chunk_data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + body
        crc = struct.pack(">I", zlib.crc32(b"iTXt" + chunk_data) & 0xFFFFFFFF)
        chunk = struct.pack(">I", len(chunk_data)) + b"iTXt" + chunk_data + crc
        return bytearray(text[:33] + chunk + text[33:])
    return bytearray(text + b"<?xpacket begin=''?>" + body + b"<?xpacket end='w'?>")


_MARKERS = __import__("re").compile(rb"IHDR|IDAT|fcTL|acTL|moov|trak|mdat|ftyp|stsd|VP8|ANMF|RIFF|"
                                    rb"WAVE|fmt |data|OggS|fLaC|PK\x03\x04|PK\x01\x02|ustar|obj|jumb")

MUTATORS: dict[str, Callable[[bytearray, random.Random], bytearray]] = {
    "bit-flip": _bit_flips,
    "byte-set": _byte_sets,
    "truncate": _truncate,
    "duplicate-chunk": _duplicate_chunk,
    "splice-random": _splice_random,
    "length-field": _length_fields,
    "huge-dimensions": _huge_dimensions,
    "nested-boxes": _nested_boxes,
    "looping-references": _looping_references,
    "huge-metadata": _huge_metadata,
}
_ORDER = tuple(MUTATORS)


def mutate(seed_bytes: bytes, campaign_seed: int, fmt: str, index: int) -> tuple[str, bytes]:
    """Mutation ``index`` of ``fmt``: deterministic from its arguments alone. The mutators
    take turns by index; one in five files gets a second, random one stacked on it."""
    rng = random.Random(f"{campaign_seed}:{fmt}:{index}")
    names = [_ORDER[index % len(_ORDER)]]
    if rng.random() < 0.2:
        names.append(rng.choice(_ORDER))
    data = bytearray(seed_bytes)
    for name in names:
        if len(data) >= 2:
            data = MUTATORS[name](data, rng)
    return "+".join(names), bytes(data or b"\x00")


# --- the worker and its watchdog ----------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(conn: Any, seeds: dict[str, bytes], campaign_seed: int, memory_mb: int,
            home: str) -> None:
    os.nice(10)
    os.environ["OMP_NUM_THREADS"] = "1"
    from deepscreen import ScanConfig, Scanner
    from deepscreen.media import Limits
    from deepscreen.policy import ACTIONS

    config = ScanConfig(home=Path(home), limits=Limits(decode_timeout_s=10, archive_timeout_s=20),
                        signal_options={"faces": {"threads": 1}})
    scanner = Scanner(config)
    scanner.scan(seeds[next(iter(seeds))], name="warm-up")  # load models before the limit
    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", _rss_mb()))
    while True:
        job = conn.recv()
        if job is None:
            return
        fmt, index = job
        mutation, data = mutate(seeds[fmt], campaign_seed, fmt, index)
        started = time.perf_counter()
        try:
            report = scanner.scan(data, name=f"{fmt}-{index}")
            outcome = "ok" if report.action in ACTIONS else "no-verdict"
            detail = report.action if outcome == "ok" else repr(report.action)
            code = (report.error or {}).get("code")
            # A decoder that ran into the address-space limit still gives a verdict (the
            # MemoryError becomes decode-failed), but the blow-up is what we look for.
            messages = " ".join(str((r.error or {}).get("message", "")) for r in report.walk())
            if "MemoryError" in messages or "more memory than is available" in messages:
                outcome, detail = "memory", messages[-2000:]
        except BaseException as exc:
            outcome, detail, code = "error", "".join(traceback.format_exception(exc))[-4000:], None
        conn.send((outcome, detail, code, mutation, (time.perf_counter() - started) * 1000,
                   _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


class Pool:
    """Workers with a watchdog: one item each at a time, replaced when they die or hang."""

    def __init__(self, workers: int, seeds: dict[str, bytes], campaign_seed: int,
                 memory_mb: int) -> None:
        self.args = (seeds, campaign_seed, memory_mb, tempfile.mkdtemp(prefix="fuzz-home-"))
        self.ctx = mp.get_context("spawn")
        self.slots = [self._start() for _ in range(workers)]

    def _start(self) -> tuple[Any, Any]:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        process.start()
        if not parent.poll(300):
            raise RuntimeError("fuzz worker did not start")
        parent.recv()
        return process, parent

    def run(self, slot: int, fmt: str, index: int, timeout: float) -> dict[str, Any]:
        process, conn = self.slots[slot]
        conn.send((fmt, index))
        if conn.poll(timeout):
            try:
                outcome, detail, code, mutation, ms, rss, peak = conn.recv()
                return {"outcome": outcome, "detail": detail, "code": code, "mutation": mutation,
                        "ms": ms, "rss_mb": rss, "peak_mb": peak}
            except EOFError:
                pass
            result = {"outcome": "crash", "detail": f"worker exited {process.exitcode}"}
        else:
            result = {"outcome": "hang", "detail": f"no verdict within {timeout:g} s"}
        if process.is_alive():
            process.kill()
        process.join(5)
        if result["outcome"] == "crash":
            result["detail"] = f"worker exited with {process.exitcode}"
        self.slots[slot] = self._start()
        return result

    def close(self) -> None:
        for process, conn in self.slots:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
            process.join(5)
            if process.is_alive():
                process.kill()


# --- the campaign -------------------------------------------------------------------------------


def _state(out: Path) -> dict[str, Any]:
    path = out / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"formats": {}}


def _save_state(out: Path, state: dict[str, Any]) -> None:
    tmp = out / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(out / "state.json")


def _record_failure(out: Path, seeds: dict[str, bytes], campaign_seed: int, fmt: str, index: int,
                    result: dict[str, Any]) -> None:
    folder = out / "failures"
    folder.mkdir(exist_ok=True)
    mutation, data = mutate(seeds[fmt], campaign_seed, fmt, index)
    path = folder / f"{fmt}-{index}-{result['outcome']}.bin"
    path.write_bytes(data)
    with (out / "failures.jsonl").open("a") as f:
        f.write(json.dumps({"format": fmt, "index": index, "mutation": mutation, "file": path.name,
                            "sha256": hashlib.sha256(data).hexdigest(), **result}) + "\n")


def campaign(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    formats = args.formats.split(",") if args.formats else list(seed_makers())
    seeds = load_seeds(out, formats)
    state = _state(out)
    state["seed"] = state.get("seed", args.seed)
    if state["seed"] != args.seed:
        raise SystemExit(f"{out} holds a campaign with --seed {state['seed']}; use another --out")
    deadline = time.monotonic() + args.time_budget
    pool = Pool(1, seeds, args.seed, args.memory_mb)
    try:
        # Round-robin over the formats in slices, so a time-bounded run covers all of them.
        while time.monotonic() < deadline:
            pending = [f for f in formats if state["formats"].get(f, {}).get("done", 0) < args.per_format]
            if not pending:
                break
            for fmt in pending:
                entry = state["formats"].setdefault(fmt, {"done": 0, "failures": 0, "slowest_ms": 0.0,
                                                          "slowest_index": None, "peak_mb": 0.0,
                                                          "outcomes": {}, "codes": {},
                                                          "total_ms": 0.0})
                stop = min(args.per_format, entry["done"] + args.slice)
                for index in range(entry["done"], stop):
                    result = pool.run(0, fmt, index, args.item_timeout)
                    outcome = result["outcome"]
                    if outcome == "ok" and result["rss_mb"] > args.memory_mb * 0.9:
                        outcome = result["outcome"] = "memory"
                    entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1
                    if result.get("code"):
                        entry["codes"][result["code"]] = entry["codes"].get(result["code"], 0) + 1
                    if outcome != "ok":
                        entry["failures"] += 1
                        _record_failure(out, seeds, args.seed, fmt, index, result)
                    else:
                        entry["total_ms"] += result["ms"]
                        if result["ms"] > entry["slowest_ms"]:
                            entry["slowest_ms"], entry["slowest_index"] = result["ms"], index
                        entry["peak_mb"] = max(entry["peak_mb"], result["peak_mb"])
                    entry["done"] = index + 1
                _save_state(out, state)
                print(f"{fmt}: {entry['done']} done, {entry['failures']} failures, slowest "
                      f"{entry['slowest_ms']:.0f} ms", flush=True)
                if time.monotonic() > deadline:
                    break
    finally:
        pool.close()
        _save_state(out, state)


def replay(args: argparse.Namespace) -> None:
    """Rebuild one mutation and scan it here, in this process (to debug a failure)."""
    fmt, index = args.replay.split(":")
    seeds = load_seeds(Path(args.out), [fmt])
    mutation, data = mutate(seeds[fmt], args.seed, fmt, int(index))
    target = Path(args.out) / f"replay-{fmt}-{index}.bin"
    target.write_bytes(data)
    from deepscreen import ScanConfig, Scanner

    with Scanner(ScanConfig(home=Path(tempfile.mkdtemp()))) as scanner:
        report = scanner.scan(data, name=target.name)
    print(mutation, report.action, report.error, f"{report.elapsed_ms:.0f} ms -> {target}")


REGRESSIONS = Path(__file__).resolve().parents[1] / "tests" / "regressions"


def keep(args: argparse.Namespace) -> None:
    """Commit one mutation as a regression sample: tests/regressions/FORMAT-INDEX.bin plus
    its entry in index.json (what it found, the code its report must carry)."""
    fmt, index = args.keep.split(":")
    seeds = load_seeds(Path(args.out), [fmt])
    mutation, data = mutate(seeds[fmt], args.seed, fmt, int(index))
    REGRESSIONS.mkdir(exist_ok=True)
    name = f"{fmt}-{index}.bin"
    (REGRESSIONS / name).write_bytes(data)
    catalogue = REGRESSIONS / "index.json"
    entries = json.loads(catalogue.read_text()) if catalogue.exists() else {}
    entries[name] = {"format": fmt, "index": int(index), "campaign_seed": args.seed,
                     "mutation": mutation, "sha256": hashlib.sha256(data).hexdigest(),
                     "found": args.note or "", "expect_code": args.expect_code,
                     "expect_words": args.expect_words}
    catalogue.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
    print(f"kept {name} ({len(data):,} bytes, {mutation})")


def write_benchmarks(args: argparse.Namespace) -> None:
    from benchmarks_file import write_section

    state = _state(Path(args.out))
    rows = ["| format | mutated files | failures | got an error code (top codes) | mean | slowest item |",
            "|---|---:|---:|---|---:|---:|"]
    total = failures = 0
    peak = 0.0
    for fmt, e in sorted(state["formats"].items()):
        total += e["done"]
        failures += e["failures"]
        peak = max(peak, e["peak_mb"])
        refused = sum(e["codes"].values())
        codes = ", ".join(f"{k} {v}" for k, v in sorted(e["codes"].items(), key=lambda kv: -kv[1])[:3])
        mean = e["total_ms"] / max(1, e["done"] - e["failures"])
        rows.append(f"| {fmt} | {e['done']:,} | {e['failures']} | {refused:,} ({codes}) | {mean:.0f} ms | "
                    f"{e['slowest_ms']:,.0f} ms (#{e['slowest_index']}) |")
    title = args.title or "## RELIABILITY: fuzz campaign (issue #13)"
    text = "\n".join([
        title,
        "",
        f"`python bench/fuzz.py --per-format {args.per_format} --seed {state.get('seed')} --out OUT` "
        "(one worker process, `nice 10`, address space limited to "
        f"{args.memory_mb} MiB with setrlimit, watchdog {args.item_timeout:g} s per item, decode "
        "timeout 10 s); the real Scanner with every built-in signal. Seeds are small files made at "
        "run time (48x32 images, 3-frame 48x32 animations, 0.5 s 32x32 clips, 0.2 s audio, a ZIP "
        "and a TAR.GZ of two images, a one-page PDF, a C2PA-signed JPEG and MP4 signed with a CA "
        "made at run time, a JPEG with a 65 kB XMP packet). Mutations take turns: bit flips, byte "
        "sets, truncation, chunk duplication, random splices, length-field corruption, huge "
        "declared dimensions, nested boxes, looping references (ZIP entries, PDF /Kids, MP4 chunk "
        "offsets, repeated APNG/WebP/GIF frame controls) and huge metadata (XMP up to 4 MiB); one "
        "file in five gets a second mutation on top.",
        "",
        f"{total:,} mutated files, {failures} failures (a crash, a hang past the watchdog, an "
        "exception out of Scanner.scan, a report without a verdict, or a MemoryError). Peak "
        f"resident memory of the worker: {peak:,.0f} MB. Times are wall time on the shared 2-core "
        "box (1-minute load 10-15 from other agents during the run) for a process at nice 10, so "
        "several times what the same item takes alone (replays in the next section).",
        "",
        *rows,
        "",
    ])
    write_section(title, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="campaign folder (seeds, state, failures)")
    parser.add_argument("--per-format", type=int, default=10_000)
    parser.add_argument("--formats", help="comma-separated subset of: " + ", ".join(seed_makers()))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--time-budget", type=float, default=4 * 3600, help="seconds [4 h]")
    parser.add_argument("--slice", type=int, default=250, help="files per format per round")
    parser.add_argument("--item-timeout", type=float, default=30.0)
    parser.add_argument("--memory-mb", type=int, default=3072)
    parser.add_argument("--replay", help="FORMAT:INDEX: rebuild one mutation and scan it here")
    parser.add_argument("--keep", help="FORMAT:INDEX: commit the mutation as a regression sample")
    parser.add_argument("--note", help="with --keep: what the sample found")
    parser.add_argument("--expect-code", help="with --keep: the error code its report must carry")
    parser.add_argument("--expect-words", help="with --keep: words its error message must hold")
    parser.add_argument("--write-benchmarks", action="store_true")
    parser.add_argument("--title", help="with --write-benchmarks: the BENCHMARKS.md section title")
    args = parser.parse_args()
    if args.replay:
        replay(args)
    elif args.keep:
        keep(args)
    elif args.write_benchmarks:
        write_benchmarks(args)
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        campaign(args)


if __name__ == "__main__":
    main()
