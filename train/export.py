"""Export a trained FaceSBINet checkpoint to ONNX plus the JSON the runtime reads.

The runtime (``deepscreen.signals.faces``) runs the ONNX file with onnxruntime and takes
everything else - input size, normalisation, alignment margin, threshold - from the JSON, so
the two files always travel together.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data import MASK_STRIDE, MEAN, STD
from .model import FaceSBINet

INPUT_NAME, LOGIT_NAME, MASK_NAME = "input", "logit", "mask"
OPSET = 17


class _Inference(nn.Module):
    """Eval-mode wrapper fixing the output order and names of the exported graph."""

    def __init__(self, model: FaceSBINet) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(x)


def export_onnx(model: FaceSBINet, path: Path, input_size: int) -> Path:
    """Write ``model`` as ONNX (opset 17, dynamic batch, weights embedded in one file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, input_size, input_size)
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo, which needs onnxscript;
        # the TorchScript path produces the same plain graph for this convolutional net.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _Inference(model),
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[LOGIT_NAME, MASK_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, LOGIT_NAME: {0: "batch"},
                          MASK_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def fold_padding_into_convs(path: Path) -> int:
    """Move every explicit zero ``Pad`` in front of a ``Conv`` into the Conv's own ``pads``.

    TF "SAME" padding (see ``SamePadConv``) exports as a Pad node before each strided or
    large-kernel convolution. onnxruntime does not fuse those Pads (they are asymmetric), and
    each one makes its CPU kernels convert the feature map out of and back into their blocked
    layout: measured at about a quarter of the model's time. ONNX Conv takes asymmetric
    ``pads``, so the Pads can simply go. The pad amounts come out of a shape subgraph, so the
    graph is constant-folded first (onnxruntime's basic level: standard ONNX ops only).
    Outputs are unchanged; returns how many Pads were folded.
    """
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    folded_path = path.with_suffix(".folded.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded_path)
    options.log_severity_level = 3
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(folded_path))
    folded_path.unlink()
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    removed = []
    for node in graph.node:
        if node.op_type != "Pad" or node.input[1] not in constants:
            continue
        mode = next((a.s for a in node.attribute if a.name == "mode"), b"constant")
        value = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        pads = constants[node.input[1]].astype(int).tolist()  # N, C, H, W begins then ends
        users = consumers.get(node.output[0], [])
        if (mode != b"constant" or (value is not None and float(value) != 0.0)
                or len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5))
                or not users or not all(_takes_explicit_pads(u) for u in users)):
            continue  # checked for every consumer before any is changed
        for conv in users:
            attrs = {a.name: a for a in conv.attribute}
            old = list(attrs["pads"].ints) if "pads" in attrs else [0, 0, 0, 0]
            if "pads" in attrs:
                conv.attribute.remove(attrs["pads"])
            conv.attribute.append(helper.make_attribute(
                "pads", [old[0] + pads[2], old[1] + pads[3], old[2] + pads[6], old[3] + pads[7]]))
            conv.input[0] = node.input[0]
        removed.append(node)
    for node in removed:
        graph.node.remove(node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return len(removed)


def _takes_explicit_pads(node: Any) -> bool:
    """A 2-D Conv whose padding is given by ``pads`` (not computed by ``auto_pad``)."""
    auto_pad = next((a.s for a in node.attribute if a.name == "auto_pad"), b"NOTSET")
    return node.op_type == "Conv" and auto_pad in (b"", b"NOTSET")


def store_weights_as_fp16(path: Path, min_elements: int = 1024) -> Path:
    """Halve the file: keep large float32 weights as float16 plus a Cast back to float32.

    The graph still computes in float32 (onnxruntime folds the casts once at load), so only
    the stored weights are rounded; calibrate on the shrunk file, as ``train.package`` does.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        weights = numpy_helper.to_array(init)
        if weights.size < min_elements:
            continue  # small tensors (biases, BN) save nothing worth a node
        name = init.name
        init.CopyFrom(numpy_helper.from_array(weights.astype(np.float16), f"{name}__fp16"))
        casts.append(helper.make_node("Cast", [f"{name}__fp16"], [name],
                                      to=onnx.TensorProto.FLOAT, name=f"{name}__cast"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def model_from_checkpoint(checkpoint: Path) -> tuple[FaceSBINet, dict[str, Any]]:
    """Load a ``best.pt``/``last.pt`` checkpoint into an eval-mode model (no ImageNet load)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = FaceSBINet(pretrained=False, dropout=float(state["config"]["model"]["dropout"]))
    model.load_state_dict(state["model"])
    return model.eval(), state


def torch_onnx_max_diff(model: FaceSBINet, onnx_path: Path, inputs: np.ndarray) -> float:
    """Largest absolute difference between torch and onnxruntime outputs on ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logit_ort, mask_ort = session.run([LOGIT_NAME, MASK_NAME], {INPUT_NAME: inputs})
    with torch.inference_mode():
        logit_pt, mask_pt = model.eval()(torch.from_numpy(inputs))
    return float(max(np.abs(logit_ort - logit_pt.numpy()).max(),
                     np.abs(mask_ort - mask_pt.numpy()).max()))


def model_metadata(
    input_size: int, margin: float, threshold: float | None, version: str, trained: str,
    calibration: dict[str, Any], metrics: dict[str, Any],
) -> dict[str, Any]:
    """The ``face_sbi.json`` contract shared with the runtime."""
    return {
        "name": "face-sbi",
        "version": version,
        "input_size": input_size,
        "input_name": INPUT_NAME,
        "mean": [MEAN] * 3,
        "std": [STD] * 3,
        "outputs": {"logit": LOGIT_NAME, "mask": MASK_NAME},
        "mask_stride": MASK_STRIDE,
        "align_margin": margin,
        "threshold": threshold,
        "calibration": calibration,
        "trained": trained,
        "metrics": metrics,
    }


def write_metadata(path: Path, metadata: dict[str, Any]) -> None:
    path.write_text(json.dumps(metadata, indent=2) + "\n")
