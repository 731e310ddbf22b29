"""Generators used to make training fakes and evaluation fakes (training code only: torch).

- :class:`TinyAutoencoderF2`: the tiny FLUX.2 autoencoder of ``madebyollin/taesd`` (MIT),
  written here from its published layer layout so its ``taef2_encoder.pth`` /
  ``taef2_decoder.pth`` state dicts load with ``strict=True``. A real photo passed through it
  comes back with the up-sampling and decoding traces of a latent-diffusion decoder but the
  same content, size and framing: the "aligned" fakes of Rajan et al. (2024).
- :class:`UpsamplerAutoencoder`: a small autoencoder of ours with a chosen up-sampler
  (nearest, bilinear or transposed convolution), trained for a few minutes on real crops.
  Each leaves the periodic trace of its up-sampler (the AutoGAN idea, Zhang et al. 2019);
  transposed convolutions are what GAN generators use, interpolation + convolution what
  diffusion VAE decoders use, which is what the model's attribution head learns to tell.
- :class:`DCGANGenerator`: the DCGAN generator (Radford et al. 2016), to run the weights the
  ``gan-face-generate`` package ships (MIT; evaluation fakes only).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from torch import nn


def _conv(n_in: int, n_out: int, **kwargs: object) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)  # type: ignore[arg-type]


class _Block(nn.Module):
    """Residual block: three 3x3 convolutions, a 1x1 skip, and (FLUX.2 variant) a pooled
    channel-mixing branch with group norm in the lowest-resolution stage."""

    def __init__(self, n_in: int, n_out: int, channel_mix: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            _conv(n_in, n_out), nn.ReLU(), _conv(n_out, n_out), nn.ReLU(), _conv(n_out, n_out)
        )
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()
        self.pool: nn.Module | None = None
        if channel_mix:
            wide = n_in * 4
            self.pool = nn.Sequential(
                nn.Conv2d(n_in, wide, 1, bias=False),
                nn.GroupNorm(4, wide),
                nn.ReLU(inplace=True),
                nn.Conv2d(wide, n_in, 1, bias=False),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


class _SoftClamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class TinyAutoencoderF2(nn.Module):
    """Encoder 8x down to 32 latent channels, decoder 3 nearest up-samplings; images in [0, 1]."""

    latents = 32

    def __init__(self) -> None:
        super().__init__()
        c = 64
        self.encoder = nn.Sequential(
            _conv(3, c),
            _Block(c, c),
            _conv(c, c, stride=2, bias=False),
            _Block(c, c),
            _Block(c, c),
            _Block(c, c),
            _conv(c, c, stride=2, bias=False),
            _Block(c, c),
            _Block(c, c),
            _Block(c, c),
            _conv(c, c, stride=2, bias=False),
            _Block(c, c, True),
            _Block(c, c, True),
            _Block(c, c, True),
            _conv(c, self.latents),
        )
        self.decoder = nn.Sequential(
            _SoftClamp(),
            _conv(self.latents, c),
            nn.ReLU(),
            _Block(c, c, True),
            _Block(c, c, True),
            _Block(c, c, True),
            nn.Upsample(scale_factor=2),
            _conv(c, c, bias=False),
            _Block(c, c),
            _Block(c, c),
            _Block(c, c),
            nn.Upsample(scale_factor=2),
            _conv(c, c, bias=False),
            _Block(c, c),
            _Block(c, c),
            _Block(c, c),
            nn.Upsample(scale_factor=2),
            _conv(c, c, bias=False),
            _Block(c, c),
            _conv(c, 3),
        )

    @classmethod
    def load(cls, encoder_pth: Path, decoder_pth: Path) -> TinyAutoencoderF2:
        model = cls()
        model.encoder.load_state_dict(torch.load(encoder_pth, map_location="cpu", weights_only=True))
        model.decoder.load_state_dict(torch.load(decoder_pth, map_location="cpu", weights_only=True))
        return model.eval()

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor) -> torch.Tensor:
        """1 x 3 x H x W in [0, 1] (H, W multiples of 8) -> its reconstruction, in [0, 1]."""
        return self.decoder(self.encoder(image)).clamp(0, 1)


UPSAMPLERS = ("nearest", "bilinear", "transposed")


class UpsamplerAutoencoder(nn.Module):
    """A small 2x autoencoder whose decoder up-samples once, with one chosen method.

    One stride-2 stage and 12 latent channels (as many values as the image has) keep the
    reconstruction close to the photo after a few hundred steps, so what tells it apart is
    the up-sampler's 2x2 trace, not blur or colour (which a deeper bottleneck trained this
    briefly would add, and a detector would learn as a shortcut).
    """

    def __init__(self, upsampler: str, width: int = 24, latents: int = 12) -> None:
        super().__init__()
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}")
        w = width
        self.encoder = nn.Sequential(
            _conv(3, w),
            nn.ReLU(),
            _conv(w, w, stride=2),
            nn.ReLU(),
            _conv(w, latents),
        )
        if upsampler == "transposed":
            up: list[nn.Module] = [nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), nn.ReLU()]
        else:
            up = [nn.Upsample(scale_factor=2, mode=upsampler), _conv(w, w), nn.ReLU()]
        self.decoder = nn.Sequential(_conv(latents, w), nn.ReLU(), *up, _conv(w, 3), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DCGANGenerator(nn.Module):
    """z (N x 100 x 1 x 1) -> N x 3 x 64 x 64 in [-1, 1]; layer layout of the DCGAN paper."""

    def __init__(self, nz: int = 100, ngf: int = 64) -> None:
        super().__init__()
        chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(chans)):
            layers += [
                nn.ConvTranspose2d(a, b, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)
