"""HiFi-GAN discriminators: multi-period (MPD) and multi-scale (MSD), and the VITS combination of both.

Each discriminator returns its logits and the list of intermediate feature maps used by the
feature-matching loss. The first MSD scale uses spectral norm, the others weight norm, as in the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from sonicsynth.models.vocoder.generator import LRELU_SLOPE, get_padding
from sonicsynth.nn.weight_norm import weight_norm

DiscriminatorOutput = tuple[list[torch.Tensor], list[list[torch.Tensor]]]

# The paper's widths. Smaller widths (tests, quick demos) run the same code.
PERIOD_CHANNELS = (32, 128, 512, 1024, 1024)
SCALE_CHANNELS = (128, 128, 256, 512, 1024, 1024, 1024)
# (kernel, stride, groups, padding) of each ScaleDiscriminator conv.
SCALE_LAYOUT = ((15, 1, 1, 7), (41, 2, 4, 20), (41, 2, 16, 20), (41, 4, 16, 20), (41, 4, 16, 20), (41, 1, 16, 20), (5, 1, 1, 2))
# The scale discriminator of VITS (and SoVITS), MelGAN's layout: six convs, 4x strides, wider groups.
VITS_SCALE_CHANNELS = (16, 64, 256, 1024, 1024, 1024)
VITS_SCALE_LAYOUT = ((15, 1, 1, 7), (41, 4, 4, 20), (41, 4, 16, 20), (41, 4, 64, 20), (41, 4, 256, 20), (5, 1, 1, 2))


def _conv_stack(x: torch.Tensor, convs: nn.ModuleList, conv_post: nn.Module) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Leaky-ReLU conv stack of one discriminator: flattened logits and every layer's feature map."""
    fmap = []
    for conv in convs:
        x = F.leaky_relu(conv(x), LRELU_SLOPE)
        fmap.append(x)
    x = conv_post(x)
    fmap.append(x)
    return torch.flatten(x, 1, -1), fmap


class PeriodDiscriminator(nn.Module):
    """Folds the waveform into (samples / period, period) and applies 2-D convs along time."""

    def __init__(
        self,
        period: int,
        kernel_size: int = 5,
        stride: int = 3,
        use_spectral_norm: bool = False,
        channels: Sequence[int] = PERIOD_CHANNELS,
    ) -> None:
        super().__init__()
        self.period = period
        norm = spectral_norm if use_spectral_norm else weight_norm
        pad = (get_padding(kernel_size), 0)
        # All but the last conv stride along time; the last keeps the resolution.
        strides = [stride] * (len(channels) - 1) + [1]
        self.convs = nn.ModuleList(
            norm(nn.Conv2d(c_in, c_out, (kernel_size, 1), (s, 1), padding=pad))
            for c_in, c_out, s in zip([1, *channels[:-1]], channels, strides)
        )
        self.conv_post = norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
            t = x.shape[-1]
        return _conv_stack(x.view(b, c, t // self.period, self.period), self.convs, self.conv_post)


class ScaleDiscriminator(nn.Module):
    """Grouped 1-D convs over the raw (or average-pooled) waveform.

    `layout` gives (kernel, stride, groups, padding) per conv: HiFi-GAN's by default,
    `VITS_SCALE_LAYOUT` for the VITS family's.
    """

    def __init__(
        self,
        use_spectral_norm: bool = False,
        channels: Sequence[int] = SCALE_CHANNELS,
        layout: Sequence[Sequence[int]] = SCALE_LAYOUT,
    ) -> None:
        super().__init__()
        if len(channels) != len(layout):
            raise ValueError(f"ScaleDiscriminator needs {len(layout)} channel widths, got {len(channels)}")
        norm = spectral_norm if use_spectral_norm else weight_norm
        self.convs = nn.ModuleList(
            norm(nn.Conv1d(c_in, c_out, k, s, groups=g, padding=p))
            for c_in, c_out, (k, s, g, p) in zip([1, *channels[:-1]], channels, layout)
        )
        self.conv_post = norm(nn.Conv1d(channels[-1], 1, 3, 1, padding=1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _conv_stack(x, self.convs, self.conv_post)


def run_each(discriminators: nn.ModuleList, y: torch.Tensor) -> DiscriminatorOutput:
    """Every discriminator on the same waveform: their logits and feature maps, in order."""
    logits, fmaps = [], []
    for disc in discriminators:
        logit, fmap = disc(y)
        logits.append(logit)
        fmaps.append(fmap)
    return logits, fmaps


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), channels: Sequence[int] = PERIOD_CHANNELS) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels=channels) for p in periods)

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        return run_each(self.discriminators, y)


class MultiScaleDiscriminator(nn.Module):
    """Scale 1 sees the raw waveform; each further scale sees it average-pooled by 2 once more."""

    def __init__(self, num_scales: int = 3, channels: Sequence[int] = SCALE_CHANNELS) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            ScaleDiscriminator(use_spectral_norm=(i == 0), channels=channels) for i in range(num_scales)
        )
        self.pool = nn.AvgPool1d(4, 2, padding=2)

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        logits, fmaps = [], []
        for i, disc in enumerate(self.discriminators):
            if i > 0:
                y = self.pool(y)
            logit, fmap = disc(y)
            logits.append(logit)
            fmaps.append(fmap)
        return logits, fmaps


class PeriodScaleDiscriminator(nn.Module):
    """The discriminator of VITS and SoVITS: one scale discriminator on the raw waveform (VITS's
    layout by default) followed by one period discriminator per period, all with weight norm.

    They sit in one list `discriminators`, the scale discriminator first: the order and module names
    of GPT-SoVITS's discriminator (whose weights use hook-style weight norm, `weight_g` / `weight_v`:
    see `sonicsynth.nn.weight_norm`). Output as `MultiPeriodDiscriminator`'s: logits and feature maps
    of every member, in that order.
    """

    def __init__(
        self,
        periods: Sequence[int] = (2, 3, 5, 7, 11),
        period_channels: Sequence[int] = PERIOD_CHANNELS,
        scale_channels: Sequence[int] = VITS_SCALE_CHANNELS,
        scale_layout: Sequence[Sequence[int]] = VITS_SCALE_LAYOUT,
        use_spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(
            [
                ScaleDiscriminator(use_spectral_norm=use_spectral_norm, channels=scale_channels, layout=scale_layout),
                *(PeriodDiscriminator(p, use_spectral_norm=use_spectral_norm, channels=period_channels) for p in periods),
            ]
        )

    def forward(self, y: torch.Tensor) -> DiscriminatorOutput:
        return run_each(self.discriminators, y)
