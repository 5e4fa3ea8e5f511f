"""Timbre encoder: a reference spectrogram -> one global vector `ge` that conditions every other part.

This is the mel-style encoder of StyleSpeech (Min et al., 2021) as SoVITS uses it: per-frame MLP
("spectral"), gated convolutions ("temporal"), self-attention, a projection and an average over the
valid frames. SoVITS v2 feeds it the first 704 bins of the 1025-bin linear spectrogram (0-11 kHz at
32 kHz), so the vector carries the timbre rather than the content's high-frequency detail.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.models.sovits.sequence import frame_mask


class WrappedLinear(nn.Module):
    """nn.Linear one level down (`<name>.fc.weight`), the parameter layout of the published weights."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class WrappedConv1d(nn.Module):
    """A 'same' nn.Conv1d one level down (`<name>.conv.weight`), the layout of the published weights."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class GatedConvBlock(nn.Module):
    """x + dropout(GLU(conv(x))): a 'same' convolution to twice the channels, gated, with a residual."""

    def __init__(self, channels: int, kernel_size: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = WrappedConv1d(channels, 2 * channels, kernel_size)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(F.glu(self.conv1(x), dim=1))


class StyleSelfAttention(nn.Module):
    """Multi-head self-attention over (batch, frames, channels) with a residual connection.

    Scores are divided by sqrt(channels), not sqrt(head channels), as in the published model.
    """

    def __init__(self, channels: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.head_channels = n_heads, channels // n_heads
        self.temperature = channels**0.5
        self.w_qs = nn.Linear(channels, channels)
        self.w_ks = nn.Linear(channels, channels)
        self.w_vs = nn.Linear(channels, channels)
        self.fc = nn.Linear(channels, channels)
        self.attn_dropout = nn.Dropout(dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_padding: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, frames, channels); key_padding: (batch, frames), True on padded frames."""
        batch, frames, channels = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, frames, self.n_heads, self.head_channels).transpose(1, 2)

        scores = heads(self.w_qs(x)) @ heads(self.w_ks(x)).transpose(-2, -1) / self.temperature
        if key_padding is not None:
            scores = scores.masked_fill(key_padding[:, None, None, :], float("-inf"))
        weights = self.attn_dropout(F.softmax(scores, dim=-1))
        out = (weights @ heads(self.w_vs(x))).transpose(1, 2).reshape(batch, frames, channels)
        return self.dropout(self.fc(out)) + x


class TimbreEncoder(nn.Module):
    """(batch, >= in_channels, frames) spectrogram -> (batch, out_channels, 1) timbre vector.

    Only the first `in_channels` bins are read. `lengths` (batch,) marks the valid frames; the rest
    are zeroed on input, hidden from the attention and left out of the average.
    """

    def __init__(
        self,
        in_channels: int = 704,
        hidden_channels: int = 128,
        out_channels: int = 512,
        kernel_size: int = 5,
        n_heads: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        # Indices 0 and 3 hold the layers, as in the published weights (`spectral.0`, `spectral.3`).
        self.spectral = nn.Sequential(
            WrappedLinear(in_channels, hidden_channels),
            nn.Mish(),
            nn.Dropout(dropout),
            WrappedLinear(hidden_channels, hidden_channels),
            nn.Mish(),
            nn.Dropout(dropout),
        )
        self.temporal = nn.Sequential(
            GatedConvBlock(hidden_channels, kernel_size, dropout),
            GatedConvBlock(hidden_channels, kernel_size, dropout),
        )
        self.slf_attn = StyleSelfAttention(hidden_channels, n_heads, dropout)
        self.fc = WrappedLinear(hidden_channels, out_channels)

    def forward(self, spec: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if spec.shape[1] < self.in_channels:
            raise ValueError(f"the timbre encoder reads {self.in_channels} bins, the spectrogram has {spec.shape[1]}")
        frames = spec.shape[-1]
        if lengths is None:
            lengths = torch.full((spec.shape[0],), frames, device=spec.device, dtype=torch.long)
        if int(lengths.min()) < 1:
            raise ValueError("every reference spectrogram needs at least one frame")
        mask = frame_mask(lengths, frames, spec.dtype)  # (batch, 1, frames)
        padding = mask[:, 0] == 0  # (batch, frames)

        x = self.spectral((spec[:, : self.in_channels] * mask).transpose(1, 2))
        x = self.temporal(x.transpose(1, 2)).transpose(1, 2)
        x = self.slf_attn(x.masked_fill(padding.unsqueeze(-1), 0.0), key_padding=padding)
        x = self.fc(x).masked_fill(padding.unsqueeze(-1), 0.0)
        # Mean over the valid frames, in float32 so long references do not overflow float16.
        pooled = x.float().sum(dim=1) / lengths.unsqueeze(1).to(torch.float32)
        return pooled.to(x.dtype).unsqueeze(-1)
