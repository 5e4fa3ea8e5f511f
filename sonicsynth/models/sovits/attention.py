"""Transformer blocks over (batch, channels, frames), as the VITS family builds them.

Projections are 1x1 convolutions and layer norm runs over the channel axis, so every tensor keeps the
convolutional (batch, channels, frames) layout of the rest of the model. Self-attention can add
relative-position embeddings (Shaw et al., 2018) for offsets within a window: the encoders then need
no absolute positions and generalise to lengths never seen in training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Added to the scores of masked positions. Finite, so a fully masked row (a padded query) still gives a
# valid softmax, and small enough for float16.
MASKED_SCORE = -1e4


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channel axis of (batch, channels, frames)."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.transpose(1, -1), (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class MultiHeadAttention(nn.Module):
    """Multi-head attention of `x` (queries) over `context` (keys and values).

    `window_size` set: relative-position embeddings for keys and values at offsets -w..w between a key
    and its query, one table shared by all heads; farther offsets get none. Self-attention only.
    """

    def __init__(
        self,
        channels: int,
        out_channels: int,
        n_heads: int,
        dropout: float = 0.0,
        window_size: int | None = None,
    ) -> None:
        super().__init__()
        if channels % n_heads:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads})")
        self.channels, self.n_heads = channels, n_heads
        self.head_channels = channels // n_heads
        self.window_size = window_size
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        self.conv_o = nn.Conv1d(channels, out_channels, 1)
        self.drop = nn.Dropout(dropout)
        if window_size is not None:
            std = self.head_channels**-0.5
            self.emb_rel_k = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_channels) * std)
            self.emb_rel_v = nn.Parameter(torch.randn(1, 2 * window_size + 1, self.head_channels) * std)
        for conv in (self.conv_q, self.conv_k, self.conv_v):
            nn.init.xavier_uniform_(conv.weight)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, channels, queries); context: (batch, channels, keys).

        mask: broadcastable to (batch, 1, queries, keys), 0 where a query must not see a key.
        """
        batch, _, n_queries = x.shape
        query = self._split_heads(self.conv_q(x)) * self.head_channels**-0.5
        key = self._split_heads(self.conv_k(context))
        value = self._split_heads(self.conv_v(context))

        scores = query @ key.transpose(-2, -1)  # (batch, heads, queries, keys)
        if self.window_size is not None:
            if context.shape[-1] != n_queries:
                raise ValueError("relative-position attention is self-attention: x and context must match")
            scores = scores + self._relative_to_absolute(query @ self.emb_rel_k.transpose(-2, -1))
        if mask is not None:
            scores = scores.masked_fill(mask == 0, MASKED_SCORE)
        weights = self.drop(F.softmax(scores, dim=-1))
        out = weights @ value
        if self.window_size is not None:
            out = out + self._absolute_to_relative(weights) @ self.emb_rel_v
        out = out.transpose(2, 3).reshape(batch, self.channels, n_queries)
        return self.conv_o(out)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, frames = x.shape
        return x.view(batch, self.n_heads, self.head_channels, frames).transpose(2, 3)

    def _relative_to_absolute(self, relative: torch.Tensor) -> torch.Tensor:
        """(..., frames, 2w+1) scores per offset -> (..., frames, frames) scores per key position.

        Entry [i, j] is relative[i, j - i + w] inside the window and 0 outside it.
        """
        w, frames = self.window_size, relative.shape[-2]
        positions = torch.arange(frames, device=relative.device)
        offset = positions.view(1, -1) - positions.view(-1, 1) + w  # j - i + w
        outside = 2 * w + 1  # index of the zero column appended below
        index = torch.where((offset >= 0) & (offset <= 2 * w), offset, outside)
        padded = F.pad(relative, (0, 1))
        return torch.gather(padded, -1, index.expand(*relative.shape[:-1], frames))

    def _absolute_to_relative(self, weights: torch.Tensor) -> torch.Tensor:
        """(..., frames, frames) attention weights -> (..., frames, 2w+1) weights per offset.

        Entry [i, k] is weights[i, i + k - w], 0 where that key lies outside the sequence.
        """
        w, frames = self.window_size, weights.shape[-1]
        positions = torch.arange(frames, device=weights.device)
        # Padding w zeros on each side turns key i + k - w into column i + k.
        index = positions.view(-1, 1) + torch.arange(2 * w + 1, device=weights.device).view(1, -1)
        padded = F.pad(weights, (w, w))
        return torch.gather(padded, -1, index.expand(*weights.shape[:-1], 2 * w + 1))


class ConvFeedForward(nn.Module):
    """Two convolutions with a ReLU between them, 'same' padded; padded frames stay zero."""

    def __init__(
        self, in_channels: int, out_channels: int, filter_channels: int, kernel_size: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size)
        self.conv_2 = nn.Conv1d(filter_channels, out_channels, kernel_size)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv_1(self._same_padding(x * mask)))
        x = self.conv_2(self._same_padding(self.drop(x) * mask))
        return x * mask

    def _same_padding(self, x: torch.Tensor) -> torch.Tensor:
        # Explicit, because Conv1d's own padding cannot pad an even kernel asymmetrically.
        return F.pad(x, ((self.kernel_size - 1) // 2, self.kernel_size // 2))


class TransformerEncoder(nn.Module):
    """Post-norm transformer layers (relative self-attention, then a convolutional feed-forward)."""

    def __init__(
        self,
        hidden_channels: int,
        filter_channels: int,
        n_heads: int,
        n_layers: int,
        kernel_size: int = 1,
        dropout: float = 0.0,
        window_size: int | None = 4,
    ) -> None:
        super().__init__()
        self.n_layers = n_layers
        self.drop = nn.Dropout(dropout)
        self.attn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_2 = nn.ModuleList()
        for _ in range(n_layers):
            self.attn_layers.append(
                MultiHeadAttention(hidden_channels, hidden_channels, n_heads, dropout, window_size)
            )
            self.norm_layers_1.append(ChannelLayerNorm(hidden_channels))
            self.ffn_layers.append(
                ConvFeedForward(hidden_channels, hidden_channels, filter_channels, kernel_size, dropout)
            )
            self.norm_layers_2.append(ChannelLayerNorm(hidden_channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (batch, hidden, frames); mask: (batch, 1, frames) of 0/1."""
        attn_mask = mask.unsqueeze(2) * mask.unsqueeze(-1)  # (batch, 1, frames, frames)
        x = x * mask
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1, self.ffn_layers, self.norm_layers_2):
            x = norm_1(x + self.drop(attn(x, x, attn_mask)))
            x = norm_2(x + self.drop(ffn(x, mask)))
        return x * mask
