"""Benchmark hash-bank lookups at 1,000,000 entries and record them in BENCHMARKS.md.

    python bench/bench_banks.py [--size 1000000] [--queries 300] [--no-faiss] [--no-write]

faiss comes with the ``bench`` extra (``pip install -e '.[bench]'``); without it the faiss
comparison is skipped, as with ``--no-faiss``.

Builds, in a temporary home, one bank with ``--size`` random PDQ hashes and another with
``--size`` random SHA-256 values, plus planted near-duplicates. Then measures:

* index build (first use after a change) and index load from the on-disk cache (what each
  CLI run pays);
* PDQ lookup of one image: its 8 dihedral variants at threshold 31, half of the queries with
  a planted match at distance 0-31, half without;
* SHA-256 lookup (hit and miss);
* the whole ``BankMatcher.match`` of an image (exact + PDQ + metadata of the matches), and
  of a 30 s video whose 30 frame hashes, in 4 orientations, are each searched among the
  banked photos;
* faiss ``IndexBinaryMultiHash`` (python-threatexchange's choice) on the same hashes, for
  comparison;
* the cost of computing PDQ itself: the 8 dihedral hashes of a 1-MP photo and of a 720p
  video frame, with ``deepscreen.banks.pdq`` and (when installed) with the
  ``pdqhash`` reference binding the signal used before.

Target: p99 < 10 ms per image lookup with all 8 variants. Results replace the
"## Hash bank lookups" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench_scan import natural_image
from benchmarks_file import write_section
from deepscreen.banks import (
    BankMatcher,
    BankStore,
    FrameHash,
    ItemHashes,
    NewEntry,
    PdqHash,
    default_url,
    pdq_dihedral,
)
from deepscreen.banks.hashing import bits_to_hex
from deepscreen.banks.index import PdqIndex

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Hash bank lookups"
TARGET_P99_MS = 10.0
PLANTED = 200
VIDEO_FRAMES = 30  # a 30 s video at the default 1 sampled frame per second


def flip_bits(rng: np.random.Generator, packed: np.ndarray, bits: int) -> np.ndarray:
    unpacked = np.unpackbits(packed)
    unpacked[rng.choice(256, size=bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def stats(ms: list[float]) -> tuple[float, float]:
    return statistics.median(ms), float(np.percentile(ms, 99))


def cli_scan_ms(home: Path, rng: np.random.Generator, repeat: int = 3) -> tuple[float, float]:
    """Median wall time of a fresh ``deepscreen scan --signals hashes`` of one 1-MP JPEG,
    with the 1M-entry banks (index cache warm) and with no banks at all."""
    photo = home / "photo.jpg"
    small = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
    Image.fromarray(small).resize((1280, 800), Image.BICUBIC).save(photo, quality=90)
    empty = home / "empty-home"
    empty.mkdir()

    def one(data_home: Path) -> float:
        env = {**os.environ, "DEEPSCREEN_HOME": str(data_home)}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deepscreen", "scan", "--signals", "hashes",
                        "--json", str(photo)], env=env, capture_output=True, check=False)
        return (time.perf_counter() - start) * 1000

    return (statistics.median(one(home) for _ in range(repeat)),
            statistics.median(one(empty) for _ in range(repeat)))


def pdq_hashing_ms(repeat: int = 40) -> dict[str, float]:
    """Median ms to hash a 1-MP photo and a 720p frame (8 dihedral variants each).

    Ours and the reference alternate within each round, so load from other work on the
    shared machine hits both alike. The reference timing includes what the signal did with
    its output (numpy conversion and bit packing), as the old code path did.
    """
    photo = np.asarray(natural_image(1))  # 1152 x 864, like bench_scan.py
    frame = np.asarray(natural_image(2, 1280, 720))
    cases: dict[str, Callable[[], object]] = {
        "ours_photo": lambda: pdq_dihedral(photo),
        "ours_frame": lambda: pdq_dihedral(frame),
    }
    try:
        import pdqhash
    except ImportError:
        pdqhash = None
    if pdqhash is not None:
        cases["ref_photo"] = lambda: [bits_to_hex(v) for v in pdqhash.compute_dihedral(photo)[0]]
        cases["ref_frame"] = lambda: [bits_to_hex(v) for v in pdqhash.compute_dihedral(frame)[0]]
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, fn in cases.items():
            samples[name] += timed(fn, 1)
    return {f"hash_{name}_ms": statistics.median(ms) for name, ms in samples.items()}


def build_store(home: Path, size: int, rng: np.random.Generator
                ) -> tuple[BankStore, np.ndarray, list[str]]:
    store = BankStore(default_url(home))
    store.create_bank("pdq-1m")
    store.create_bank("sha-1m")
    pdq = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    store.add_entries("pdq-1m", (NewEntry("pdq", row.tobytes().hex(), {"n": i})
                                 for i, row in enumerate(pdq)))
    sha = [hashlib.sha256(i.to_bytes(8, "little")).hexdigest() for i in range(size)]
    store.add_entries("sha-1m", (NewEntry("sha256", v) for v in sha))
    return store, pdq, sha


def run(size: int, queries: int, with_faiss: bool) -> dict[str, object]:
    rng = np.random.default_rng(2026)
    results: dict[str, object] = {"size": size, "queries": queries, **pdq_hashing_ms()}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        store, pdq, sha = build_store(home, size, rng)
        results["insert_s"] = time.perf_counter() - t0

        # Planted near-duplicates: a query batch of 8 variants, one of which is within
        # 0..31 bits of a stored hash; the other half of the batches are random (no match).
        batches, expected = [], []
        for i in range(queries):
            batch = rng.integers(0, 256, size=(8, 32), dtype=np.uint8)
            if i % 2 == 0:
                row = int(rng.integers(0, size))
                batch[int(rng.integers(0, 8))] = flip_bits(rng, pdq[row], int(rng.integers(0, 32)))
                expected.append(row)
            else:
                expected.append(None)
            batches.append(batch)

        t0 = time.perf_counter()
        matcher = BankMatcher(store, home)
        matcher.match(ItemHashes("image", "00" * 32, "00" * 16))
        results["index_build_s"] = time.perf_counter() - t0

        load_ms = timed(lambda: BankMatcher(store, home)._current(), 5)
        results["index_load_ms"] = statistics.median(load_ms)

        index = next(i for i in matcher._current() if i.bank.name == "pdq-1m")
        found = 0
        for batch, row in zip(batches, expected, strict=True):
            rows = {int(index.pdq_ids[h.row]) - 1 for h in index.pdq.search(batch, 31)}
            found += row is not None and row in rows
        results["planted_found"] = f"{found}/{sum(r is not None for r in expected)}"
        it = iter(batches * 2)
        pdq_ms = timed(lambda: index.pdq.search(next(it), 31), len(batches))
        results["pdq_median_ms"], results["pdq_p99_ms"] = stats(pdq_ms)

        sha_index = next(i for i in matcher._current() if i.bank.name == "sha-1m")
        exact, _ = sha_index.exact["sha256"]
        probes = [sha[int(rng.integers(0, size))] if i % 2 == 0 else hashlib.sha256(
            b"miss%d" % i).hexdigest() for i in range(queries)]
        it_sha = iter(probes)
        sha_ms = timed(lambda: exact.lookup(next(it_sha)), len(probes))
        results["sha_median_ms"], results["sha_p99_ms"] = stats(sha_ms)

        items = [ItemHashes("image", probes[i], "00" * 16,
                            pdq=PdqHash(batches[i][0].tobytes().hex(), 100),
                            dihedral=tuple(r.tobytes().hex() for r in batches[i]))
                 for i in range(queries)]
        it_items = iter(items)
        match_ms = timed(lambda: matcher.match(next(it_items)), len(items))
        results["match_median_ms"], results["match_p99_ms"] = stats(match_ms)

        # A 30 s video sampled at 1 fps: 30 frame hashes, each searched among the 1M photos
        # (frames vs banked stills); half the videos show a banked photo in one frame.
        videos, planted_videos = [], 0
        for i in range(queries // 3):
            frames = rng.integers(0, 256, size=(VIDEO_FRAMES, 32), dtype=np.uint8)
            if i % 2 == 0:
                frames[int(rng.integers(0, VIDEO_FRAMES))] = flip_bits(
                    rng, pdq[int(rng.integers(0, size))], int(rng.integers(0, 32)))
                planted_videos += 1
            # Every video is also matched turned by a quarter, half and three-quarter turn:
            # three more views of its frames (unrelated hashes here, as turned pictures are).
            views = [frames] + [rng.integers(0, 256, size=(VIDEO_FRAMES, 32), dtype=np.uint8)
                                for _ in range(3)]
            as_hashes = [tuple(FrameHash(row.tobytes().hex(), 100, float(t))
                               for t, row in enumerate(view)) for view in views]
            videos.append(ItemHashes("video", "00" * 32, "00" * 16, frames=as_hashes[0],
                                     turned_frames=tuple(as_hashes[1:])))
        hits = sum(any(m.signal_type == "pdq-frame" for m in matcher.match(v)) for v in videos)
        results["video_planted_found"] = f"{hits}/{planted_videos}"
        it_videos = iter(videos)
        video_ms = timed(lambda: matcher.match(next(it_videos)), len(videos))
        results["video_match_median_ms"], results["video_match_p99_ms"] = stats(video_ms)
        store.close()
        results["cli_ms"], results["cli_empty_ms"] = cli_scan_ms(home, rng)

        if with_faiss and importlib.util.find_spec("faiss") is None:
            print("faiss is not installed (pip install -e '.[bench]'): comparison skipped",
                  file=sys.stderr)
            with_faiss = False
        if with_faiss:
            import faiss

            faiss.omp_set_num_threads(1)
            mih = faiss.IndexBinaryMultiHash(256, 16, 16)
            mih.add(pdq)
            mih.nflip = 31 // 16
            it_f = iter(batches)
            faiss_ms = timed(lambda: mih.range_search(next(it_f), 32), len(batches))
            results["faiss_median_ms"], results["faiss_p99_ms"] = stats(faiss_ms)
        np_build = timed(lambda: PdqIndex.build(pdq), 1)
        results["numpy_build_ms"] = np_build[0]
    return results


def render(r: dict[str, object], command: str) -> str:
    def f(key: str) -> str:
        return f"{r[key]:.2f}"

    ratio = float(r["pdq_p99_ms"]) / TARGET_P99_MS  # type: ignore[arg-type]
    match_ratio = float(r["match_p99_ms"]) / TARGET_P99_MS  # type: ignore[arg-type]
    lines = [
        SECTION, "",
        f"Target: p99 < {TARGET_P99_MS:g} ms per image lookup (all 8 dihedral variants, "
        "threshold 31) in a bank of 1,000,000 PDQ hashes; loading a 1M-entry bank quick "
        "enough for a CLI run.", "",
        f"Command: `.venv/bin/python bench/bench_banks.py` (banks of {r['size']:,} random PDQ "
        f"hashes and {r['size']:,} SHA-256 values; {r['queries']} lookups, half with a planted "
        "near-duplicate at distance 0-31; machine: 2-core CPU dev box, shared).", "",
        "| measurement | median ms | p99 ms | p99 / target |",
        "|---|---|---|---|",
        f"| PDQ lookup, 8 variants, numpy multi-index | {f('pdq_median_ms')} | "
        f"{f('pdq_p99_ms')} | {ratio:.2f} |",
        f"| whole `BankMatcher.match` of an image (2 banks: SHA-256/MD5 + PDQ + metadata) | "
        f"{f('match_median_ms')} | {f('match_p99_ms')} | {match_ratio:.2f} |",
        f"| whole `BankMatcher.match` of a 30 s video ({VIDEO_FRAMES} frame hashes in 4 "
        f"orientations, each searched among the {r['size']:,} photo hashes) | {f('video_match_median_ms')} | "
        f"{f('video_match_p99_ms')} | - |",
        f"| SHA-256 lookup (half hits) | {r['sha_median_ms']:.3f} | {r['sha_p99_ms']:.3f} | - |",
    ]
    if "faiss_median_ms" in r:
        lines.append(f"| for comparison: faiss `IndexBinaryMultiHash` (16 x 16 bits, nflip 1, "
                     f"1 thread), 8 variants | {f('faiss_median_ms')} | {f('faiss_p99_ms')} | "
                     f"{float(r['faiss_p99_ms']) / TARGET_P99_MS:.2f} |")  # type: ignore[arg-type]
    lines += ["", *render_hashing(r), ""]
    lines += [
        f"- Planted near-duplicates found: {r['planted_found']} (the search is exact, not "
        f"approximate); videos with one frame showing a banked photo found: "
        f"{r['video_planted_found']}.",
        f"- Index load from the on-disk cache (both banks, memory-mapped `.npy`): "
        f"{r['index_load_ms']:.1f} ms median; first build after a change (reading "
        f"{2 * int(r['size']):,} rows from "
        f"SQLite and indexing): {r['index_build_s']:.1f} s, of which the PDQ multi-index itself "
        f"{float(r['numpy_build_ms']) / 1000:.2f} s.",  # type: ignore[arg-type]
        f"- A whole `deepscreen scan --signals hashes` of one 1-MP JPEG in a fresh process: "
        f"{r['cli_ms']:.0f} ms with these banks (index cache warm) against "
        f"{r['cli_empty_ms']:.0f} ms with no banks (Python start-up and imports dominate).",
        f"- Inserting the {2 * int(r['size']):,} entries through `BankStore.add_entries`: "
        f"{r['insert_s']:.0f} s.",
        "- Chosen: the numpy multi-index (exact; 16 chunks of 16 bits, probing each chunk's "
        "bucket and its 1-bit neighbours finds every hash within 31 bits). faiss's MIH answers "
        "one hash at a time and costs several times more for the 8 variants of one image.",
        "- The machine was shared with other engineers' tests and a training job while "
        "measuring (load average above the 2 cores), which mostly shows in the p99 column.",
        "",
    ]
    return "\n".join(lines)


def render_hashing(r: dict[str, object]) -> list[str]:
    """The table of PDQ computation costs (before: ``pdqhash``; after: ``banks.pdq``)."""
    lines = [
        "PDQ computation per item (same command; medians of 40 alternating runs):", "",
        "| picture | `pdqhash` reference binding, ms | `deepscreen.banks.pdq`, ms | speed-up |",
        "|---|---|---|---|",
    ]
    for key, label in (("photo", "1-MP photo (1152 x 864), 8 dihedral hashes"),
                       ("frame", "720p video frame, 8 dihedral hashes (vPDQ banks the first; "
                                  "matching also uses 3 turns)")):
        ours = float(r[f"hash_ours_{key}_ms"])  # type: ignore[arg-type]
        ref = r.get(f"hash_ref_{key}_ms")
        before = f"{float(ref):.2f}" if ref is not None else "not installed"  # type: ignore[arg-type]
        ratio = f"{float(ref) / ours:.1f}x" if ref is not None else "-"  # type: ignore[arg-type]
        lines.append(f"| {label} | {before} | {ours:.2f} | {ratio} |")
    return lines


def wrap_markdown(text: str, width: int = 100) -> str:
    """Wrap prose and bullet lines to ``width`` like the rest of BENCHMARKS.md; keep tables."""
    out = []
    for line in text.split("\n"):
        if len(line) <= width or line.startswith(("|", "#")):
            out.append(line)
        else:
            indent = "  " if line.startswith("- ") else ""
            out.append(textwrap.fill(line, width, subsequent_indent=indent,
                                     break_on_hyphens=False, break_long_words=False))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args()
    results = run(args.size, args.queries, not args.no_faiss)
    text = wrap_markdown(render(results, "bench/bench_banks.py"))
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
