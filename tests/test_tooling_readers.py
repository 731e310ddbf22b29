"""The tooling package's format readers: exact on faithful samples, bounded on hostile ones."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest

import tooling_samples as samples
from deepscreen.tooling import containers, layout, pickles
from deepscreen.tooling.buffer import FormatError, file_view
from deepscreen.tooling.jpeg import jpeg_segments
from deepscreen.tooling.onnx_wire import read_signature
from deepscreen.tooling.png import itxt_parts, png_chunks
from deepscreen.tooling.pyliteral import dict_keys
from deepscreen.tooling.tiff import image_description

from media_factory import image_bytes

# --- pickles: read, never run ----------------------------------------------------------------

class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_scan_rebuilds_dfl_face_record_shape_without_unpickling(protocol: int) -> None:
    record = samples.dfl_face_record()
    scan = pickles.scan_pickle(pickle.dumps(record, protocol))
    root = pickles.as_mapping(scan.root)
    assert scan.complete and not scan.truncated and scan.protocol == protocol
    assert list(root) == list(record)
    assert root["source_filename"] == "00001.png" and root["face_type"] == "whole_face"
    assert len(root["landmarks"]) == 68
    assert pickles.array_shape(root["image_to_face_mat"]) == (2, 3)
    assert pickles.kind_of(root["image_to_face_mat"]) == "ndarray"
    assert scan.unsafe_globals == []


def test_pickle_with_os_system_is_reported_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = pickle.dumps({"landmarks": [], "xseg_mask": _RunsCode(marker)}, 4)
    scan = pickles.scan_pickle(data)
    assert not marker.exists()
    assert scan.unsafe_globals == [f"{os.system.__module__}.system"]
    value = pickles.as_mapping(scan.root)["xseg_mask"]
    assert pickles.call_name(value) == f"{os.system.__module__}.system"
    assert value.args == (f"touch {marker}",)


@pytest.mark.parametrize("qualified", ["os.system", "posix.system", "subprocess.Popen",
                                       "builtins.eval", "builtins.getattr", "__builtin__.exec",
                                       "os.path.join", "runpy._run_code", "torch.hub.load"])
def test_unsafe_globals_are_named(qualified: str) -> None:
    assert pickles.is_unsafe(qualified)


@pytest.mark.parametrize("qualified", ["numpy.core.multiarray._reconstruct", "numpy.dtype",
                                       "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                                       "torch.FloatStorage", "_codecs.encode", "builtins.set"])
def test_data_globals_are_not_called_unsafe(qualified: str) -> None:
    assert not pickles.is_unsafe(qualified)


def test_truncated_pickle_keeps_the_keys_read_so_far() -> None:
    data = pickle.dumps({"iter": 5, "options": {"a": 1}, "loss_history": list(range(5000))}, 4)
    scan = pickles.scan_pickle(data[: len(data) // 2])
    assert scan.truncated and not scan.complete
    assert {"iter", "options"} <= set(pickles.as_mapping(scan.root))


def test_large_payloads_are_skipped_not_read() -> None:
    weights = {f"layer{i}/weight:0": np.zeros((256, 256, 8), np.float32) for i in range(20)}
    data = pickle.dumps(weights, 4)  # ~42 MB of zeros
    scan = pickles.scan_pickle(data)
    root = pickles.as_mapping(scan.root)
    assert scan.complete and len(root) == 20
    assert pickles.array_shape(root["layer3/weight:0"]) == (256, 256, 8)
    assert scan.ops < 1000  # opcodes, not bytes


@pytest.mark.parametrize("hostile", [
    b"\x80\x04\x95" + b"\xff" * 8,  # a FRAME declaring 2^64 bytes
    b"\x80\x04B\xff\xff\xff\x7f",  # BINBYTES longer than the buffer
    b"\x80\x04" + b"(" * 50_000 + b".",  # deep MARK nesting
    b"\x80\x04h\x07.",  # memo read before write
    b"\x80\x04\xfe.",  # unknown opcode
    b"\x80\x04t.",  # TUPLE without a MARK
    b"",
])
def test_hostile_pickles_end_with_a_problem_not_an_exception(hostile: bytes) -> None:
    scan = pickles.scan_pickle(hostile, limits=pickles.Limits(max_marks=1000))
    assert not scan.complete
    assert scan.problems


def test_opcode_budget_stops_an_endless_pickle() -> None:
    data = b"\x80\x04" + b"N0" * 100_000 + b"N."
    scan = pickles.scan_pickle(data, limits=pickles.Limits(max_ops=1000))
    assert not scan.complete and "opcodes" in scan.problems[0]


# --- JPEG, PNG, TIFF -------------------------------------------------------------------------

def test_jpeg_segments_find_the_app15_dfl_writes() -> None:
    data = samples.dfl_jpeg()
    segments, problems = jpeg_segments(memoryview(data))
    app15 = [s for s in segments if s.name == "APP15"]
    assert not problems and len(app15) == 1
    payload = data[app15[0].offset:app15[0].offset + app15[0].length]
    assert payload[:2] == b"\x80\x04"
    assert segments[-1].marker == 0xDA  # stopped at start of scan


def test_jpeg_with_a_length_past_the_end_is_reported() -> None:
    data = image_bytes("JPEG", 64, 64)
    cut = samples.insert_jpeg_segment(data, 0xEF, pickle.dumps({"landmarks": []}))
    at = cut.find(b"\xff\xef")
    hostile = cut[:at + 2] + b"\xff\xf0" + cut[at + 4:at + 40]  # declares 65520 bytes, file ends
    segments, problems = jpeg_segments(memoryview(hostile))
    assert not [s for s in segments if s.marker == 0xEF]
    assert "truncated" in problems[0]


def test_png_chunks_walk_past_idat_to_dfl_fcwp_and_read_faceswap_itxt() -> None:
    chunks, problems = png_chunks(memoryview(samples.dfl_png()))
    assert not problems and [c.type for c in chunks][-2:] == [b"fcWp", b"IEND"]
    data = samples.faceswap_png()
    chunks, _ = png_chunks(memoryview(data))
    itxt = next(c for c in chunks if c.type == b"iTXt")
    keyword, text = itxt_parts(memoryview(data)[itxt.offset:itxt.offset + itxt.length])
    assert keyword == b"faceswap" and bytes(text).startswith(b"{'alignments'")


def test_png_with_a_huge_declared_chunk_is_reported() -> None:
    data = image_bytes("PNG", 32, 32)
    hostile = data[:33] + struct.pack(">I", 0xFFFFFFF0) + b"tEXt" + b"x" * 20
    chunks, problems = png_chunks(memoryview(hostile))
    assert [c.type for c in chunks] == [b"IHDR"] and "2^31" in problems[0]


def test_tiff_image_description_is_read_and_bounded() -> None:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF", description='{"transform_matrix": [[1]], "roi": [1]}')
    description, problems = image_description(memoryview(out.getvalue()))
    assert not problems and b"transform_matrix" in description
    broken = b"II*\x00" + struct.pack("<I", 1 << 30)
    assert image_description(memoryview(broken))[1]


def test_literal_keys_of_a_faceswap_record_without_evaluation() -> None:
    keys = dict_keys(str(samples.faceswap_header()))
    assert keys.is_dict and set(keys.top) == {"alignments", "source"}
    assert {"x", "y", "w", "h", "landmarks_xy", "mask"} <= set(keys.nested("alignments"))
    assert keys.nested("source")["source_filename"] == "clip_000042.png"
    assert keys.nested("source")["face_index"] == 0
    assert keys.nested("source")["source_is_video"] is True


def test_literal_keys_survive_hostile_text() -> None:
    assert dict_keys("{" * 1_000_000).is_dict  # literal_eval would blow the parser's stack
    assert not dict_keys("__import__('os').system('x')").is_dict
    keys = dict_keys("{'a': array([[1, 2]], dtype=float32), 'b': {'c': 1}}")
    assert set(keys.top) == {"a", "b"} and keys.nested("b") == {"c": 1}


# --- ONNX wire format ------------------------------------------------------------------------

@pytest.mark.parametrize("build", [samples.inswapper_onnx, samples.classifier_onnx, samples.dfm_onnx,
                                   lambda: samples.swapper_onnx(256),
                                   lambda: samples.enhancer_onnx("gfpgan")])
def test_onnx_signature_agrees_with_the_onnx_package(build) -> None:
    data = build()
    sig = read_signature(memoryview(data))
    model = onnx.load_from_string(data)
    graph = model.graph
    init_names = {t.name for t in graph.initializer}
    want_inputs = [(v.name, tuple(d.dim_value if d.HasField("dim_value") else d.dim_param
                                  for d in v.type.tensor_type.shape.dim))
                   for v in graph.input if v.name not in init_names]
    assert [(v.name, v.shape) for v in sig.inputs] == want_inputs
    assert [v.name for v in sig.outputs] == [v.name for v in graph.output]
    assert sig.initializer_count == len(graph.initializer)
    assert [(i.name, i.dims) for i in sig.initializers] == \
        [(t.name, tuple(t.dims)) for t in graph.initializer]
    assert sig.node_count == len(graph.node)
    assert sig.graph_name == graph.name and sig.ir_version == model.ir_version


def test_onnx_reader_skips_weights() -> None:
    from onnx import TensorProto, helper, numpy_helper
    big = numpy_helper.from_array(np.zeros((64, 1024, 256), np.float32), "w")  # 64 MiB
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 256])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [big])
    data = helper.make_model(graph).SerializeToString()
    sig = read_signature(memoryview(data))
    assert sig.last_initializer.dims == (64, 1024, 256)


@pytest.mark.parametrize("hostile", [
    b"\x08\x07\x3a\xff\xff\xff\xff\x0f",  # graph field longer than the file
    b"\x08\x07" + b"\x3a\x02\x0a\x80",  # node length past its graph
    b"\x08\x07\x3b",  # group wire type
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # varint over 64 bits
    b"\x08\x07",  # no graph
])
def test_hostile_onnx_is_a_format_error(hostile: bytes) -> None:
    with pytest.raises(FormatError):
        read_signature(memoryview(hostile))


# --- containers and layouts ------------------------------------------------------------------

def test_zip_listing_is_refused_past_the_member_bound() -> None:
    data = samples.zip_of({f"f{i}.txt": b"x" for i in range(50)})
    with pytest.raises(FormatError, match="50 members"):
        containers.BoundedZip(memoryview(data), containers.ArchiveBounds(max_members=10))
    archive = containers.BoundedZip(memoryview(data), containers.ArchiveBounds())
    assert len(archive.listing().names) == 50


def test_zip_member_bombs_are_not_read() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.bin", bytes(50 << 20))
    archive = containers.BoundedZip(memoryview(out.getvalue()), containers.ArchiveBounds())
    with pytest.raises(FormatError, match=r"expands|limit"):
        archive.read("bomb.bin")


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_listing_plain_and_compressed(mode: str) -> None:
    names = samples.workspace_names()
    listing = containers.tar_listing(memoryview(samples.tar_of({n: b"x" for n in names}, mode)),
                                     containers.ArchiveBounds())
    assert listing.names == names and listing.complete


def test_compressed_tar_listing_stops_at_its_byte_budget() -> None:
    data = samples.tar_of({f"{i}.bin": bytes(1 << 20) for i in range(8)}, "w:gz")
    listing = containers.tar_listing(memoryview(data), containers.ArchiveBounds(max_scan_bytes=3 << 20))
    assert not listing.complete and len(listing.names) < 8


def test_zlib_prefix_is_bounded() -> None:
    data = zlib.compress(bytes(10 << 20))
    head, ended = containers.inflate_prefix(memoryview(data), 1 << 20)
    assert len(head) == 1 << 20 and not ended
    assert containers.looks_like_zlib(data) and not containers.looks_like_zlib(b"PK\x03\x04")


def test_layout_patterns_match_at_any_depth_case_insensitively() -> None:
    names = ["Backup/WorkSpace/data_src/aligned/00001_0.jpg", "x/model/me_SAEHD_decoder.npy"]
    groups = [{"name": "src", "pattern": "data_src/aligned/*"},
              {"name": "model", "pattern": "*_{SAEHD|AMP}_*"}]
    assert layout.layout_match(names, groups, 2) is not None
    assert layout.layout_match(names[:1], groups, 2) is None
    assert not layout.pattern_regex("data_src/aligned/*").search("my_data_src/aligned/a.jpg")
    assert layout.aligned_naming(["a/00001_0.jpg", "b/holiday.jpg", "c/notes.txt"]) == (2, 1)


def test_file_view_maps_files_and_handles_empty_ones(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    with file_view(path=path) as view:
        assert bytes(view) == b"abc"
    (tmp_path / "empty").write_bytes(b"")
    with file_view(path=tmp_path / "empty") as view:
        assert len(view) == 0


def test_zip_declaring_a_future_version_is_a_format_error_not_a_crash() -> None:
    # Found by mutation: zipfile raises NotImplementedError for "zip file version 25.5".
    data = bytearray(samples.zip_of({"data_src/aligned/00001_0.jpg": b"x"}))
    central = data.find(b"PK\x01\x02")
    data[central + 6:central + 8] = (255).to_bytes(2, "little")
    with pytest.raises(FormatError, match="unreadable ZIP"):
        containers.BoundedZip(memoryview(bytes(data)), containers.ArchiveBounds())
