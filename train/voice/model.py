"""The detector network: a small CNN over log band energies (about 47k parameters).

Four 3x3 convolution blocks halve time and frequency three times; the frequency axis is
kept (flattened) rather than pooled away, because where in the spectrum an artefact sits
(above 4 kHz for most vocoders) is the evidence, while time is averaged and max-pooled so a
window scores the same wherever in it the artefact occurs. One logit per window: synthetic
speech. AASIST-L (85k parameters) is the size reference.
"""

from __future__ import annotations

import torch
from torch import nn

from deepscreen.voice.features import N_BANDS


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                               nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class BandCNN(nn.Module):
    def __init__(self, widths: tuple[int, int, int, int] = (16, 32, 48, 64), dropout: float = 0.3) -> None:
        super().__init__()
        w1, w2, w3, w4 = widths
        self.features = nn.Sequential(_block(1, w1, True), _block(w1, w2, True), _block(w2, w3, True),
                                      _block(w3, w4, False))
        freq = N_BANDS // 8
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * w4 * freq, 1))

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        """``bands``: batch x N_BANDS x frames -> one logit per window."""
        h = self.features(bands.unsqueeze(1))  # B x C x F' x T'
        pooled = torch.cat([h.mean(dim=3), h.amax(dim=3)], dim=1)  # B x 2C x F'
        return self.head(pooled.flatten(1)).squeeze(1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
