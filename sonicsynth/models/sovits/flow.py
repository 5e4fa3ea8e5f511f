"""Normalising flow between the posterior latent z and the prior's space z_p (VITS).

Mean-only affine coupling layers alternate with channel flips, so each half of the channels is
transformed in turn. A mean-only coupling shifts one half by a function of the other: volume
preserving (log-determinant 0) and exactly invertible.
"""

from __future__ import annotations

import torch
from torch import nn

from sonicsynth.models.sovits.wavenet import WaveNet


class MeanOnlyCouplingLayer(nn.Module):
    """x = [x0, x1] -> [x0, x1 + m(x0, g)]; reverse subtracts the same shift."""

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f"channels must be even to split in halves, got {channels}")
        self.half_channels = channels // 2
        self.pre = nn.Conv1d(self.half_channels, hidden_channels, 1)
        self.enc = WaveNet(hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels, dropout)
        self.post = nn.Conv1d(hidden_channels, self.half_channels, 1)
        # Zero shift at initialisation: the untrained flow is the identity (up to the flips).
        nn.init.zeros_(self.post.weight)
        nn.init.zeros_(self.post.bias)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        x0, x1 = torch.split(x, [self.half_channels, self.half_channels], dim=1)
        h = self.enc(self.pre(x0) * mask, mask, g=g)
        shift = self.post(h) * mask
        x1 = (x1 - shift if reverse else x1 + shift) * mask
        return torch.cat([x0, x1], dim=1)


class ChannelFlip(nn.Module):
    """Reverses the channel order (its own inverse), so the next coupling transforms the other half."""

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        return torch.flip(x, [1])


class ResidualCouplingFlow(nn.Module):
    """`n_flows` (coupling, flip) pairs: couplings at even indices of `flows`, flips at odd ones."""

    def __init__(
        self,
        channels: int = 192,
        hidden_channels: int = 192,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        n_layers: int = 4,
        n_flows: int = 4,
        gin_channels: int = 512,
    ) -> None:
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(
                MeanOnlyCouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers, gin_channels)
            )
            self.flows.append(ChannelFlip())

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None, reverse: bool = False
    ) -> torch.Tensor:
        """z -> z_p (forward) or z_p -> z (reverse). x: (batch, channels, frames); mask: (batch, 1, frames)."""
        for flow in reversed(self.flows) if reverse else self.flows:
            x = flow(x, mask, g=g, reverse=reverse)
        return x
