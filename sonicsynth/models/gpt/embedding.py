"""Token tables and sinusoidal positions of the semantic GPT.

The published GPT-SoVITS "s1" model embeds phones and semantic tokens with two plain tables, and adds
to each stream its own sinusoidal positions (both streams count from 0) scaled by one learnable
scalar `alpha` per stream, with the embedding itself left unscaled. A learned scale lets training
decide how loud positions are relative to the content, which a fixed table cannot.

Attribute names (`word_embeddings`, `alpha`) are those of the published checkpoints.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """An embedding table with dropout on its output."""

    def __init__(self, vocab_size: int, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, dim)
        self.dropout = nn.Dropout(dropout)

    @property
    def vocab_size(self) -> int:
        return self.word_embeddings.num_embeddings

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.word_embeddings(ids))


def sinusoid_table(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal encodings (..., dim) of integer positions (...): sin on even channels, cos on odd
    ones, frequencies 10000^(-2i/dim) (the interleaved layout the published model was trained with).

    Computed in float32 from the positions themselves, so the encoding of position p is the same
    whether it is built for a whole sequence or for one decoding step.
    """
    if dim % 2:
        raise ValueError(f"sinusoidal positions need an even dimension, got {dim}")
    frequencies = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) * (-math.log(10000.0) / dim)
    )
    angles = positions.to(torch.float32).unsqueeze(-1) * frequencies
    table = torch.empty(*positions.shape, dim, dtype=torch.float32, device=positions.device)
    table[..., 0::2] = torch.sin(angles)
    table[..., 1::2] = torch.cos(angles)
    return table


class ScaledSinePositions(nn.Module):
    """Adds `alpha * sinusoid(position)` to embeddings, then dropout.

    `alpha` starts at 1 and is trained. Positions are given explicitly (batch, length), so a padded
    batch, or a decoding step that continues each sequence at its own length, gets the right ones.
    """

    def __init__(self, dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dim = dim
        self.alpha = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, length, dim); positions: (batch, length) or None for 0..length-1."""
        if positions is None:
            positions = torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1)
        encoding = sinusoid_table(positions, self.dim).to(x.dtype)
        return self.dropout(x + self.alpha.to(x.dtype) * encoding)
