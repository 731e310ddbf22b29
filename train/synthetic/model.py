"""The patch model: neighbouring-pixel residuals (NPR) into a shallow CNN, three classes.

NPR (Tan et al., CVPR 2024), implemented from the paper: generators up-sample, so within
each 2x2 block their pixels are locally correlated in a way camera images are not. The
residual ``x - up(down(x))`` (nearest neighbour, factor 2) keeps only those within-block
differences and drops the content. A 2x2 stride-2 convolution reads each block's residuals
(space-to-depth: nothing between blocks is lost), then three 3x3 stages look at how blocks
relate, which is where up-sampler periodicity shows.

Outputs one logit per class and patch: real, generated (the run-time code also reads models
with more generated classes, e.g. GAN-like and diffusion-like, and then attributes). About 36 MFLOP per 64 px
patch, so 16 patches of a 1-MP image cost ~0.6 GFLOP on one core.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# One generated class: the GAN-like (transposed-convolution) training fakes did not survive the
# smoothness filter of data.py, so no attribution head is trained (see the model card).
CLASSES = ("real", "generated")
PATCH = 64


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """x - nearest_up(x[..., ::2, ::2]); N x C x H x W with H, W even."""
    low = x[:, :, ::2, ::2]
    return x - F.interpolate(low, scale_factor=2.0, mode="nearest")


class NPRPatchNet(nn.Module):
    def __init__(self, width: int = 32, use_npr: bool = True) -> None:
        super().__init__()
        self.use_npr = use_npr
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, 24, 2, stride=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(24, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.Conv2d(w, 48, 3, stride=2, padding=1),
            nn.BatchNorm2d(48),
            nn.ReLU(inplace=True),
            nn.Conv2d(48, 48, 3, padding=1),
            nn.BatchNorm2d(48),
            nn.ReLU(inplace=True),
            nn.Conv2d(48, 64, 3, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(64, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x 64 x 64 RGB in [0, 1] -> N x len(CLASSES) logits."""
        # Residuals are a few grey levels: scaled so the first layer sees unit-range inputs.
        h = npr_residual(x) * 8.0 if self.use_npr else (x - 0.5) * 2.0
        h = self.features(h)
        return self.head(h.mean(dim=(2, 3)))
