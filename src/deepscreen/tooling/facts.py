"""Read a file once into the facts rules match on: its format, embedded pickles, literals,
ONNX signature, Keras layers, archive listing.

The format is decided from the bytes (magic numbers and structure), never from the name.
Each reader is bounded (see the modules it calls) and a reader that fails records a
problem instead of raising: a malformed file is evidence, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import containers, keras, pickles
from .buffer import FormatError
from .jpeg import jpeg_segments
from .onnx_wire import OnnxSignature, looks_like_onnx, read_signature
from .png import itxt_parts, png_chunks
from .pyliteral import LiteralKeys, dict_keys
from .tiff import image_description

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DFL_PAK_VERSION = (1).to_bytes(8, "little")


@dataclass(frozen=True)
class ReadOptions:
    max_inflate_bytes: int = 64 << 20  # a zlib stream (faceswap .fsa) inflated at most
    max_json_bytes: int = 16 << 20  # a JSON file or a .keras config.json
    max_text_literal: int = 4 << 20  # faceswap's iTXt record
    archive: containers.ArchiveBounds = field(default_factory=containers.ArchiveBounds)
    pickle: pickles.Limits = field(default_factory=pickles.Limits)


MemberReader = Callable[[list[str], int], dict[str, bytes]]


@dataclass
class Facts:
    name: str = ""
    sha256: str | None = None
    size: int = 0
    format: str = "unknown"
    pickles: dict[str, pickles.PickleScan] = field(default_factory=dict)
    literals: dict[str, LiteralKeys] = field(default_factory=dict)
    jsons: dict[str, Any] = field(default_factory=dict)
    onnx: OnnxSignature | None = None
    keras_layers: set[str] | None = None
    text_head: str | None = None
    listing: list[str] | None = None
    listing_source: str | None = None
    read_members: MemberReader | None = None  # valid while the file view is open
    reads: list[str] = field(default_factory=list)  # what was read, for evidence
    problems: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        if len(self.reads) < 32:
            self.reads.append(what)

    def problem(self, what: str) -> None:
        if len(self.problems) < 32:
            self.problems.append(what)


def read_facts(buf: memoryview, *, name: str = "", sha256: str | None = None,
               listing: list[str] | None = None, options: ReadOptions | None = None) -> Facts:
    """Everything the rules need from one file (``buf`` stays owned by the caller)."""
    opts = options or ReadOptions()
    facts = Facts(name=name, sha256=sha256, size=len(buf))
    if listing is not None:
        facts.listing, facts.listing_source = list(listing), "item"
    head = bytes(buf[:512])
    if head.startswith(b"\xff\xd8\xff"):
        _read_jpeg(buf, facts, opts)
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        _read_png(buf, facts, opts)
    elif head[:4] in (b"II*\x00", b"MM\x00*"):
        _read_tiff(buf, facts)
    elif containers.archive_kind(head) is not None:
        _read_archive(buf, head, facts, opts)
    elif keras.is_hdf5(head):
        facts.format = "hdf5"
        facts.keras_layers = keras.hdf5_layer_names(buf)
        facts.note("HDF5 header window" + (": Keras model config" if facts.keras_layers else ""))
    elif pickles.looks_like_pickle(head):
        _read_pickle_file(buf, facts, opts)
    elif head[:8] == _DFL_PAK_VERSION and len(buf) >= 18:
        _read_dfl_pak(buf, facts, opts)
    elif containers.looks_like_zlib(head):
        _read_zlib(buf, facts, opts)
    elif looks_like_onnx(head):
        _read_onnx(buf, facts)
    else:
        _read_text(buf, head, facts, opts)
    return facts


def _scan(facts: Facts, where: str, buf: memoryview | bytes, opts: ReadOptions,
          start: int = 0, end: int | None = None) -> pickles.PickleScan:
    scan = pickles.scan_pickle(buf, start, end, opts.pickle)
    facts.pickles[where] = scan
    facts.note(f"pickle in {where}: {scan.ops} opcodes, {len(scan.globals)} globals"
               + (" (truncated)" if scan.truncated else ""))
    for problem in scan.problems:
        facts.problem(f"{where}: {problem}")
    return scan


def _read_jpeg(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    facts.format = "jpeg"
    segments, problems = jpeg_segments(buf)
    for problem in problems:
        facts.problem(problem)
    facts.note(f"JPEG header: {len(segments)} segments")
    for segment in segments:
        if segment.marker != 0xEF:  # APP15
            continue
        payload = buf[segment.offset:segment.offset + segment.length]
        if pickles.looks_like_pickle(payload):
            _scan(facts, "jpeg-app15", payload, opts)
        else:
            facts.note(f"APP15 segment of {segment.length} bytes that is not a pickle")
        break


def _read_png(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    facts.format = "png"
    chunks, problems = png_chunks(buf)
    for problem in problems:
        facts.problem(problem)
    facts.note(f"PNG chunks: {len(chunks)} besides IDAT")
    for chunk in chunks:
        payload = buf[chunk.offset:chunk.offset + chunk.length]
        if chunk.type == b"fcWp" and "png-fcwp" not in facts.pickles:
            _scan(facts, "png-fcwp", payload, opts)
        elif chunk.type == b"iTXt" and "png-itxt-faceswap" not in facts.literals:
            parts = itxt_parts(payload)
            if parts is None or parts[0] != b"faceswap":
                continue
            raw = bytes(parts[1][:opts.max_text_literal])
            facts.literals["png-itxt-faceswap"] = dict_keys(raw.decode("utf-8", errors="replace"))
            facts.note(f"iTXt 'faceswap' record of {len(parts[1])} bytes")


def _read_tiff(buf: memoryview, facts: Facts) -> None:
    facts.format = "tiff"
    description, problems = image_description(buf)
    for problem in problems:
        facts.problem(problem)
    if description:
        facts.literals["tiff-description"] = dict_keys(description.decode("utf-8", "replace"))
        facts.note(f"TIFF ImageDescription of {len(description)} bytes")


def _read_pickle_file(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    facts.format = "pickle"
    first = pickles.scan_pickle(buf, 0, None, opts.pickle)
    if first.complete and first.root == TORCH_LEGACY_MAGIC:
        # PyTorch's legacy format: magic, protocol, system info, then the object itself.
        facts.format = "torch-legacy"
        offset = first.end
        for _ in range(2):
            offset = pickles.scan_pickle(buf, offset, None, opts.pickle).end
        _scan(facts, "torch", buf, opts, offset)
        return
    facts.pickles["file"] = first
    facts.note(f"pickle: {first.ops} opcodes, {len(first.globals)} globals"
               + (" (truncated)" if first.truncated else ""))
    for problem in first.problems:
        facts.problem(f"file: {problem}")


def _read_dfl_pak(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    length = int.from_bytes(buf[8:16], "little")
    if length < 2 or 16 + length > len(buf) or not pickles.looks_like_pickle(buf[16:18]):
        _read_text(buf, bytes(buf[:512]), facts, opts)
        return
    facts.format = "dfl-faceset-pak"
    _scan(facts, "dfl-pak", buf, opts, 16, 16 + length)


def _read_zlib(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    try:
        data, ended = containers.inflate_prefix(buf, opts.max_inflate_bytes)
    except FormatError:
        _read_text(buf, bytes(buf[:512]), facts, opts)
        return
    facts.format = "zlib"
    facts.note(f"zlib stream: {len(data)} bytes inflated" + ("" if ended else " (stopped at the limit)"))
    if pickles.looks_like_pickle(data[:2]):
        _scan(facts, "zlib", data, opts)


def _read_onnx(buf: memoryview, facts: Facts) -> None:
    try:
        facts.onnx = read_signature(buf)
    except FormatError as exc:
        facts.note(f"starts like ONNX but is not: {exc}")
        return
    facts.format = "onnx"
    facts.note(f"ONNX graph: {facts.onnx.node_count} nodes, {facts.onnx.initializer_count} initializers")


def _read_archive(buf: memoryview, head: bytes, facts: Facts, opts: ReadOptions) -> None:
    kind = containers.archive_kind(head)
    if kind == "zip":
        _read_zip(buf, facts, opts)
        return
    try:
        listing = containers.tar_listing(buf, opts.archive)
    except FormatError as exc:
        facts.note(f"not a readable TAR ({exc})")
        return
    facts.format = "tar"
    for problem in listing.problems:
        facts.problem(problem)
    if facts.listing is None:
        facts.listing, facts.listing_source = listing.names, "tar"
    facts.note(f"TAR: {len(listing.names)} members")
    if kind == "tar":  # plain TAR: members can be read by seeking
        def read(names: list[str], limit: int) -> dict[str, bytes]:
            bounds = containers.ArchiveBounds(max_members=opts.archive.max_members,
                                              max_member_bytes=limit)
            return containers.tar_members(buf, set(names), bounds)
        facts.read_members = read


def _read_zip(buf: memoryview, facts: Facts, opts: ReadOptions) -> None:
    try:
        archive = containers.BoundedZip(buf, opts.archive)
    except FormatError as exc:
        facts.format = "zip"
        facts.problem(str(exc))
        return
    listing = archive.listing()
    facts.format = "zip"
    if facts.listing is None:
        facts.listing, facts.listing_source = listing.names, "zip"
    facts.note(f"ZIP: {len(listing.names)} members")
    names = set(listing.names)
    torch_pickles = [n for n in listing.names if n == "data.pkl" or n.endswith("/data.pkl")]
    if torch_pickles and any(n.endswith("/version") or n == "version" for n in names):
        facts.format = "torch-zip"
        try:
            data = archive.read(min(torch_pickles, key=len))
            _scan(facts, "torch", data, opts)
        except FormatError as exc:
            facts.problem(f"PyTorch data.pkl: {exc}")
    elif "config.json" in names and ({"model.weights.h5", "metadata.json"} & names):
        facts.format = "keras-zip"
        try:
            config = keras.parse_json(archive.read("config.json", opts.max_json_bytes))
            facts.keras_layers = keras.config_layer_names(config) if config is not None else None
            facts.note(f"Keras config.json: {len(facts.keras_layers or ())} layer names")
        except FormatError as exc:
            facts.problem(f"Keras config.json: {exc}")

    def read(wanted: list[str], limit: int) -> dict[str, bytes]:
        found = {}
        for member in wanted:
            try:
                found[member] = archive.read(member, limit)
            except FormatError:
                continue
        return found
    facts.read_members = read


def _read_text(buf: memoryview, head: bytes, facts: Facts, opts: ReadOptions) -> None:
    stripped = head.lstrip()
    if stripped.startswith(b"{") and len(buf) <= opts.max_json_bytes:
        value = keras.parse_json(bytes(buf))
        if isinstance(value, dict):
            facts.format = "json"
            facts.jsons["file"] = value
            facts.note(f"JSON object with {len(value)} keys")
            return
    if head and _is_text(head):
        facts.format = "text"
        facts.text_head = bytes(buf[:4096]).decode("utf-8", errors="replace")
        facts.note("text head")


def _is_text(head: bytes) -> bool:
    """UTF-8 text (a multi-byte character cut at the end of the sample is fine)."""
    decoded = head[:512].decode("utf-8", errors="ignore")
    if len(decoded.encode("utf-8")) < len(head[:512]) - 3:
        return False
    return bool(decoded) and all(ch.isprintable() or ch in "\r\n\t" for ch in decoded)
