"""Posterior encoder (VITS): the linear spectrogram of the target speech -> a sample of the latent z."""

from __future__ import annotations

import torch
from torch import nn

from sonicsynth.models.sovits.sequence import frame_mask
from sonicsynth.models.sovits.wavenet import WaveNet


class PosteriorEncoder(nn.Module):
    """(batch, in_channels, frames) spectrogram -> z, mean, log-std (batch, out_channels, frames), mask.

    Used only in training: the decoder learns to turn samples of this posterior into audio, and the
    KL term pulls the prior (text + content side) towards it.
    """

    def __init__(
        self,
        in_channels: int = 1025,
        out_channels: int = 192,
        hidden_channels: int = 192,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 16,
        gin_channels: int = 512,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pre = nn.Conv1d(in_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
        self.proj = nn.Conv1d(hidden_channels, 2 * out_channels, 1)

    def forward(
        self,
        spec: torch.Tensor,
        lengths: torch.Tensor,
        g: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        if g is not None:
            # As the published model was trained: the timbre vector learns from the prior, flow and
            # decoder, and the posterior only reads it.
            g = g.detach()
        mask = frame_mask(lengths, spec.shape[-1], spec.dtype)
        h = self.enc(self.pre(spec) * mask, mask, g=g)
        mean, log_std = torch.split(self.proj(h) * mask, self.out_channels, dim=1)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = (mean + noise * torch.exp(log_std)) * mask
        return z, mean, log_std, mask
