"""The transformer stack of the semantic GPT: post-norm layers with an optional key/value cache.

Each layer is `norm1(x + attention(x))` then `norm2(x + feed_forward(x))` (post-norm, ReLU feed-forward,
layer-norm eps 1e-5): the placement the published GPT-SoVITS s1 model uses (its layers are built with
`norm_first=False` and no final norm). Parameter names (`self_attn.in_proj_weight`, `linear1`,
`norm1`, ...) are those of its checkpoints, which load without renaming.

Attention takes a boolean mask that is True where a query may attend to a key, so one code path
serves training (the full prefix-LM mask), the first decoding pass over the prompt, and the
one-token steps that follow. With a cache, a call writes its keys and values at `start` and attends
over everything written so far; without one it attends over its own input only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LayerCache:
    """Keys and values of one layer, (batch, heads, capacity, head_dim), filled up to the caller's length."""

    keys: torch.Tensor
    values: torch.Tensor

    def select(self, rows: torch.Tensor) -> LayerCache:
        """The cache of the batch rows `rows` (for dropping finished sequences from a batch)."""
        return LayerCache(self.keys.index_select(0, rows), self.values.index_select(0, rows))


class SelfAttention(nn.Module):
    """Multi-head self-attention with one packed q/k/v projection (the layout of torch's
    `nn.MultiheadAttention`, hence of the published weights) and scaled dot-product scores."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"the model dimension ({dim}) must be divisible by the number of heads ({heads})")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        cache: LayerCache | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        """x: (batch, length, dim). mask: bool, True = may attend, broadcastable to
        (batch, heads, length, keys) where keys = length without a cache and start + length with one."""
        query, key, value = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        query, key, value = self._split_heads(query), self._split_heads(key), self._split_heads(value)
        if cache is not None:
            end = start + x.shape[1]
            cache.keys[:, :, start:end] = key
            cache.values[:, :, start:end] = value
            key, value = cache.keys[:, :, :end], cache.values[:, :, :end]
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0
        )
        batch, _, length, _ = attended.shape
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, self.dim))


class DecoderLayer(nn.Module):
    """One post-norm transformer layer (see the module docstring)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float = 0.1, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.self_attn = SelfAttention(dim, heads, dropout)
        self.linear1 = nn.Linear(dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)  # inside the feed-forward, after the ReLU
        self.dropout1 = nn.Dropout(dropout)  # on the attention output
        self.dropout2 = nn.Dropout(dropout)  # on the feed-forward output

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, cache: LayerCache | None = None, start: int = 0
    ) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.self_attn(x, mask, cache, start)))
        feed_forward = self.linear2(self.dropout(F.relu(self.linear1(x))))
        return self.norm2(x + self.dropout2(feed_forward))


class TransformerStack(nn.Module):
    """`layers` applied in turn (no final norm: every post-norm layer already ends with one)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, num_layers: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dim, self.heads = dim, heads
        self.layers = nn.ModuleList(DecoderLayer(dim, heads, ffn_dim, dropout) for _ in range(num_layers))

    def new_cache(self, batch: int, capacity: int, like: torch.Tensor) -> list[LayerCache]:
        """Empty per-layer caches for `capacity` positions, on `like`'s device and dtype."""
        head_dim = self.dim // self.heads
        shape = (batch, self.heads, capacity, head_dim)
        return [
            LayerCache(like.new_zeros(shape), like.new_zeros(shape)) for _ in self.layers
        ]

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor,
        cache: list[LayerCache] | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x, mask, None if cache is None else cache[index], start)
        return x
