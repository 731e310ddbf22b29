"""Small, structurally faithful samples of face-swap tools' files, built at test time.

Each builder writes the structure the tool's own code writes (docs/tooling.md cites the
lines), with tiny or zero weights: never a real model. Pickles are made with the standard
``pickle.dumps`` of plain data (what DeepFaceLab and faceswap do), or assembled opcode by
opcode where the real writer references classes (PyTorch) that tests must not need.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable

import numpy as np
from PIL import Image

from media_factory import image_bytes, texture

# --- DeepFaceLab ------------------------------------------------------------------------------

def dfl_face_record(source: str = "00001.png") -> dict:
    """The dict Extractor.py:251-256 stores: landmarks as lists, the matrix as an array."""
    rng = np.random.default_rng(1)
    return {
        "face_type": "whole_face",
        "landmarks": (rng.random((68, 2)) * 256).tolist(),
        "source_filename": source,
        "source_rect": (120, 80, 380, 340),
        "source_landmarks": (rng.random((68, 2)) * 512).tolist(),
        "image_to_face_mat": rng.random((2, 3)).astype(np.float64),
    }


def insert_jpeg_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    """Insert ``FF marker len payload`` after the last APPn segment, as DFLJPG.dump does."""
    pos, last_app_end = 2, 2
    while pos < len(jpeg) and jpeg[pos] == 0xFF:
        kind = jpeg[pos + 1]
        if kind == 0xDA:
            break
        length = struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
        if 0xE0 <= kind <= 0xEF:
            last_app_end = pos + 2 + length
        pos += 2 + length
    segment = bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:last_app_end] + segment + jpeg[last_app_end:]


def dfl_jpeg(record: dict | None = None, protocol: int = 4, size: int = 128) -> bytes:
    face = image_bytes("JPEG", size, size, quality=90)
    return insert_jpeg_segment(face, 0xEF, pickle.dumps(record or dfl_face_record(), protocol))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def insert_png_chunk(png: bytes, chunk: bytes, before: bytes) -> bytes:
    at = png.find(before) - 4
    return png[:at] + chunk + png[at:]


def dfl_png(record: dict | None = None) -> bytes:
    """Old DFL: the pickle in an fcWp chunk just before IEND (DFLPNG.py:409-410)."""
    face = image_bytes("PNG", 96, 96)
    return insert_png_chunk(face, png_chunk(b"fcWp", pickle.dumps(record or dfl_face_record())), b"IEND")


def dfl_model_weights(part: str = "encoder") -> bytes:
    """Saveable.save_weights: {variable name without scope: ndarray}, pickle protocol 4."""
    weights = {f"down{i}/conv1/weight:0": np.zeros((5, 5, 3, 8), np.float32) for i in range(1, 4)}
    weights.update({f"down{i}/conv1/bias:0": np.zeros((8,), np.float32) for i in range(1, 4)})
    return pickle.dumps(weights, 4)


def dfl_model_data() -> bytes:
    return pickle.dumps({"iter": 120_000, "options": {"resolution": 224, "face_type": "wf"},
                         "loss_history": [[0.4, 0.5]] * 10, "sample_for_preview": None,
                         "choosed_gpu_indexes": [0]})


def dfl_summary(name: str = "victim_SAEHD") -> bytes:
    width = 30
    lines = [f'=={" Model Summary ":=^{width}}==', f'=={" " * width}==',
             f'=={"Model name": >17}: {name: <11}==', f'=={" " * width}==',
             f'=={"Current iteration": >17}: {"120000": <11}==']
    return ("\n".join(lines) + "\n").encode()


def dfl_faceset_pak(count: int = 3) -> bytes:
    """PackedFaceset.pack: Q version 1, Q length, pickle(list of Sample configs, 4), offsets, data."""
    configs = [{"sample_type": 2, "filename": f"{i:05d}_0.jpg", "face_type": 4,
                "shape": (256, 256, 3), "landmarks": [[1.0, 2.0]] * 68, "seg_ie_polys": None,
                "xseg_mask": None, "xseg_mask_compressed": None, "eyebrows_expand_mod": 1.0,
                "source_filename": f"{i:05d}.png", "person_name": None} for i in range(count)]
    blob = pickle.dumps(configs, 4)
    images = [dfl_jpeg(size=64) for _ in range(count)]
    offsets, at = [], 0
    for image in images:
        offsets.append(at)
        at += len(image)
    offsets.append(at)
    return (struct.pack("Q", 1) + struct.pack("Q", len(blob)) + blob
            + b"".join(struct.pack("Q", o) for o in offsets) + b"".join(images))


def dfm_onnx(amp: bool = False) -> bytes:
    """export_dfm: input in_face:0 (NHWC), outputs mask, celeb face, celeb mask (tf2onnx)."""
    from onnx import TensorProto, helper
    inputs = [helper.make_tensor_value_info("in_face:0", TensorProto.FLOAT, ["unk__1", 224, 224, 3])]
    if amp:
        inputs.append(helper.make_tensor_value_info("morph_value:0", TensorProto.FLOAT, [1]))
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["unk__2", 224, 224, c])
            for n, c in (("out_face_mask:0", 1), ("out_celeb_face:0", 3), ("out_celeb_face_mask:0", 1))]
    nodes = [helper.make_node("Identity", ["in_face:0"], ["out_celeb_face:0"]),
             helper.make_node("ReduceMean", ["in_face:0"], ["out_face_mask:0"], keepdims=1, axes=[3]),
             helper.make_node("Identity", ["out_face_mask:0"], ["out_celeb_face_mask:0"])]
    graph = helper.make_graph(nodes, "AMP" if amp else "SAEHD", inputs, outs)
    return helper.make_model(graph, producer_name="tf2onnx",
                             opset_imports=[helper.make_opsetid("", 12)]).SerializeToString()


def workspace_names() -> list[str]:
    """A DeepFaceLab workspace as the build's scripts lay it out (env.sh, merge, mp4)."""
    names = ["workspace/data_src.mp4", "workspace/data_dst.mp4", "workspace/result.mp4"]
    names += [f"workspace/data_src/aligned/{i:05d}_0.jpg" for i in range(1, 6)]
    names += [f"workspace/data_dst/aligned/{i:05d}_0.jpg" for i in range(1, 4)]
    names += [f"workspace/data_dst/merged/{i:05d}.png" for i in range(1, 4)]
    names += ["workspace/model/victim_SAEHD_data.dat", "workspace/model/victim_SAEHD_encoder.npy",
              "workspace/model/victim_SAEHD_summary.txt"]
    return names


# --- faceswap -------------------------------------------------------------------------------

def faceswap_header() -> dict:
    """PNGHeader.to_dict(): alignments (box, landmarks, masks, identity) and source."""
    return {"alignments": {"x": 410, "y": 120, "w": 230, "h": 260,
                           "landmarks_xy": [[float(i), float(i + 1)] for i in range(68)],
                           "mask": {"components": {"mask": b"x\x9c\x03\x00\x00\x00\x00\x01",
                                                   "affine_matrix": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                                                   "interpolator": 3, "stored_size": 128,
                                                   "stored_centering": "face"}},
                           "identity": {}},
            "source": {"alignments_version": 2.4, "original_filename": "clip_000042_0.png",
                       "face_index": 0, "source_filename": "clip_000042.png",
                       "source_is_video": True, "source_frame_dims": (1080, 1920)}}


def itxt_faceswap(text: str) -> bytes:
    """lib/image.py pack_to_itxt: keyword, five NULs-and-flags, the text."""
    return png_chunk(b"iTXt", b"faceswap" + b"\0\0\0\0\0" + text.encode("utf-8"))


def faceswap_png(header: dict | None = None) -> bytes:
    face = image_bytes("PNG", 96, 96)
    return insert_png_chunk(face, itxt_faceswap(str(header or faceswap_header())), b"IDAT")


def faceswap_patch_png() -> bytes:
    meta = json.dumps({"transform_matrix": [[1.0, 0.0, 3.0], [0.0, 1.0, 4.0]], "roi": [[0, 0], [9, 9]]})
    return insert_png_chunk(image_bytes("PNG", 64, 64), itxt_faceswap(meta), b"IDAT")


def faceswap_fsa(frames: int = 3) -> bytes:
    """lib/serializer.py compressed serializer: zlib.compress(pickle.dumps(data))."""
    data = {"__meta__": {"version": 2.4},
            "__data__": {f"clip_{i:06d}.png": {"faces": [{"x": 1, "y": 2, "w": 30, "h": 30,
                                                         "landmarks_xy": np.zeros((68, 2), np.float32),
                                                         "mask": {}, "identity": {}, "thumb": None}],
                                                "video_meta": {}} for i in range(frames)}}
    return zlib.compress(pickle.dumps(data))


def keras_config(sides: tuple[str, ...] = ("a", "b")) -> dict:
    layers = [{"class_name": "InputLayer", "name": f"face_in_{s}", "config": {"name": f"face_in_{s}"}}
              for s in sides]
    layers += [{"class_name": "Functional", "name": "encoder", "config": {"name": "encoder"}}]
    layers += [{"class_name": "Functional", "name": f"decoder_{s}", "config": {"name": f"decoder_{s}"}}
               for s in sides]
    return {"class_name": "Functional", "config": {"name": "original", "layers": layers,
            "output_layers": [[f"decoder_{s}", 0, 0] for s in sides]}}


def faceswap_keras() -> bytes:
    """A Keras 3 .keras file: a ZIP of metadata.json, config.json and model.weights.h5."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.8.0"}))
        archive.writestr("config.json", json.dumps(keras_config()))
        archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
    return out.getvalue()


def faceswap_h5() -> bytes:
    """Legacy .h5: HDF5 signature, then the model_config attribute's JSON near the start."""
    config = json.dumps(keras_config()).encode()
    return b"\x89HDF\r\n\x1a\n" + bytes(200) + b"model_config" + bytes(8) + config + bytes(4096)


def faceswap_state() -> bytes:
    return json.dumps({"name": "original", "sessions": {"1": {"iterations": 500}},
                       "lowest_avg_loss": {"a": 0.02}, "iterations": 500,
                       "mixed_precision_layers": [], "lr_finder": -1.0,
                       "config": {"learning_rate": 5e-5}}).encode()


# --- one-shot swappers and enhancers (ONNX) ------------------------------------------------

def inswapper_onnx(emap_last: bool = True, target_size: int = 128) -> bytes:
    """inswapper_128's signature: target (1,3,128,128), source (1,512), one output, and the
    512x512 emap as the last initializer (tiny placeholder layers in between)."""
    from onnx import TensorProto, helper, numpy_helper
    target = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, target_size, target_size])
    source = helper.make_tensor_value_info("source", TensorProto.FLOAT, [1, 512])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, target_size, target_size])
    conv = numpy_helper.from_array(np.zeros((3, 3, 1, 1), np.float32), "onnx::Conv_833")
    style = numpy_helper.from_array(np.zeros((512, 6), np.float32), "styles.0.linear.weight")
    emap = numpy_helper.from_array(np.zeros((512, 512), np.float32), "buff2fs")
    nodes = [helper.make_node("Gemm", ["source", "styles.0.linear.weight"], ["style"]),
             helper.make_node("Conv", ["target", "onnx::Conv_833"], ["output"])]
    inits = [conv, style, emap] if emap_last else [emap, conv, style]
    graph = helper.make_graph(nodes, "torch-jit-export", [target, source], [output], inits)
    return helper.make_model(graph, producer_name="pytorch").SerializeToString()


def swapper_onnx(size: int = 256, source_shape: list | None = None) -> bytes:
    """A FaceFusion-style swapper (simswap_256, ghost, hyperswap): inputs target and source."""
    from onnx import TensorProto, helper
    target = helper.make_tensor_value_info("target", TensorProto.FLOAT, [1, 3, size, size])
    source = helper.make_tensor_value_info("source", TensorProto.FLOAT, source_shape or [1, 512])
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, size, size])
    graph = helper.make_graph([helper.make_node("Identity", ["target"], ["output"])], "swap",
                              [target, source], [output])
    return helper.make_model(graph).SerializeToString()


def classifier_onnx() -> bytes:
    """An ordinary image classifier: input (1,3,224,224), 1000 logits."""
    from onnx import TensorProto, helper, numpy_helper
    data = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])
    weight = numpy_helper.from_array(np.zeros((1000, 3), np.float32), "fc.weight")
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["flat"]),
             helper.make_node("Gemm", ["flat", "fc.weight"], ["logits"], transB=1)]
    graph = helper.make_graph(nodes, "resnet", [data], [logits], [weight])
    return helper.make_model(graph).SerializeToString()


def enhancer_onnx(kind: str) -> bytes:
    """GFPGAN as torch.onnx.export names it (state-dict names kept), or CodeFormer with its
    input/weight pair as FaceFusion runs it."""
    from onnx import TensorProto, helper, numpy_helper
    face = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 512, 512])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 512, 512])
    inputs, inits = [face], []
    if kind == "gfpgan":
        inits = [numpy_helper.from_array(np.zeros((4,), np.float32), name) for name in
                 ("conv_body_first.weight", "stylegan_decoder.style_mlp.1.weight",
                  "condition_scale.0.0.weight", "condition_shift.0.0.weight")]
    else:
        inputs.append(helper.make_tensor_value_info("weight", TensorProto.DOUBLE, [1]))
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], kind,
                              inputs, [out], inits)
    return helper.make_model(graph).SerializeToString()


# --- PyTorch --------------------------------------------------------------------------------

def _op_unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def torch_state_pickle(shapes: dict[str, tuple[int, ...]], under: str | None = None) -> bytes:
    """The data.pkl torch.save writes for a state dict, opcode by opcode (protocol 2):
    OrderedDict of name -> _rebuild_tensor_v2(persistent storage id, offset, shape, stride)."""
    def tup(values: Iterable[int]) -> bytes:
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"

    ordered = b"ccollections\nOrderedDict\nq\x00)R"
    body = [b"\x80\x02"]
    if under is not None:
        body.append(b"}(" + _op_unicode(under))
    body.append(ordered + b"(")
    for index, (key, shape) in enumerate(shapes.items()):
        numel = int(np.prod(shape)) if shape else 1
        stride = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
        storage = (b"(" + _op_unicode("storage") + b"ctorch\nFloatStorage\n" + _op_unicode(str(index))
                   + _op_unicode("cpu") + b"J" + struct.pack("<i", numel) + b"tQ")
        body.append(_op_unicode(key) + b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage
                    + b"K\x00" + tup(shape) + tup(stride) + b"\x89" + ordered + b"tR")
    body.append(b"u")
    if under is not None:
        body.append(b"u")
    body.append(b".")
    return b"".join(body)


def torch_zip(shapes: dict[str, tuple[int, ...]], under: str | None = None, stem: str = "archive") -> bytes:
    """torch.save's ZIP layout: <stem>/data.pkl, <stem>/data/<n>, <stem>/version."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{stem}/data.pkl", torch_state_pickle(shapes, under))
        archive.writestr(f"{stem}/byteorder", "little")
        for index, shape in enumerate(shapes.values()):
            archive.writestr(f"{stem}/data/{index}", bytes(4 * int(np.prod(shape))))
        archive.writestr(f"{stem}/version", "3\n")
    return out.getvalue()


SIMSWAP_SHAPES = {"first_layer.1.weight": (64, 3, 7, 7), "down1.0.weight": (128, 64, 3, 3),
                  "down2.0.weight": (256, 128, 3, 3), "down3.0.weight": (512, 256, 3, 3),
                  "BottleNeck.0.conv1.1.weight": (512, 512, 3, 3),
                  "BottleNeck.0.style1.linear.weight": (1024, 512),
                  "up1.1.weight": (64, 128, 3, 3), "up2.1.weight": (128, 256, 3, 3),
                  "last_layer.1.weight": (3, 64, 7, 7)}
GFPGAN_SHAPES = {"conv_body_first.weight": (32, 3, 1, 1), "conv_body_down.0.conv1.weight": (32, 32, 3, 3),
                 "final_conv.weight": (512, 512, 3, 3), "final_linear.weight": (8192, 8192),
                 "stylegan_decoder.style_mlp.1.weight": (512, 512),
                 "condition_scale.0.0.weight": (256, 512, 3, 3),
                 "condition_shift.0.0.weight": (256, 512, 3, 3)}


# --- archives -------------------------------------------------------------------------------

def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_of(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def square_crop(seed: int, size: int = 128) -> bytes:
    pixels = texture(size, size, seed)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=85)
    return out.getvalue()
