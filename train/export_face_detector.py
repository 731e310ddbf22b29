"""Export the MTCNN face detector (P-Net, R-Net, O-Net) to three small ONNX files, once.

The weights come from the MIT-licensed ``facenet-pytorch`` package (``data/pnet.pt``,
``rnet.pt``, ``onet.pt``; install it with ``pip install --no-deps facenet-pytorch`` because it
pins an old torch and imports torchvision). Its package code is not imported: the three
networks are small and are rebuilt here from the MTCNN paper (Zhang et al., 2016), and the
state dicts load into them with ``strict=True`` so a mismatch fails loudly.

Each exported graph takes RGB float32 NCHW input already normalised as ``(x - 127.5) / 128``
and returns the face probability (softmax folded into the graph) and the box regression;
O-Net also returns the five landmarks (x1..x5, y1..y5, relative to the input box).

    .venv/bin/python train/export_face_detector.py [--out src/deepscreen/models]

The run-time cascade (pyramid, NMS, refinement) is numpy + onnxruntime in
``src/deepscreen/faces/detect.py``; torch is only needed for this one-off export.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import torch
from torch import nn

OPSET = 17


class PNet(nn.Module):
    """Proposal net: fully convolutional, 12x12 receptive field, stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        prob = torch.softmax(self.conv4_1(x), dim=1)[:, 1]
        return prob, self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The weights were converted from a TensorFlow port of the Caffe original, whose dense
        # layers expect the feature map flattened in (W, H, C) order.
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return torch.softmax(self.dense5_1(x), dim=1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    """Output net on 48x48 crops: final box, score and five landmarks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # (W, H, C) order, as in R-Net
        x = self.prelu5(self.dense5(x))
        return torch.softmax(self.dense6_1(x), dim=1)[:, 1], self.dense6_2(x), self.dense6_3(x)


def weights_dir() -> Path:
    """The facenet-pytorch data folder, found without importing the package (needs torchvision)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("facenet-pytorch is not installed: pip install --no-deps facenet-pytorch")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def export(out_dir: Path) -> list[Path]:
    """Load the three state dicts strictly and write face_detector_{p,r,o}net.onnx."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = weights_dir()
    specs = [
        ("pnet", PNet(), (1, 3, 64, 80), ["prob", "reg"],
         {"input": {0: "n", 2: "h", 3: "w"}, "prob": {0: "n", 1: "oh", 2: "ow"},
          "reg": {0: "n", 2: "oh", 3: "ow"}}),
        ("rnet", RNet(), (2, 3, 24, 24), ["prob", "reg"],
         {"input": {0: "n"}, "prob": {0: "n"}, "reg": {0: "n"}}),
        ("onet", ONet(), (2, 3, 48, 48), ["prob", "reg", "landmarks"],
         {"input": {0: "n"}, "prob": {0: "n"}, "reg": {0: "n"}, "landmarks": {0: "n"}}),
    ]
    written = []
    for name, net, shape, outputs, axes in specs:
        state = torch.load(src / f"{name}.pt", map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
        net.eval()
        path = out_dir / f"face_detector_{name}.onnx"
        torch.onnx.export(net, (torch.zeros(shape),), str(path), input_names=["input"],
                          output_names=outputs, dynamic_axes=axes, opset_version=OPSET,
                          dynamo=False)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parents[1] / "src" / "deepscreen" / "models"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    for path in export(args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
