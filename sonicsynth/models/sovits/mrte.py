"""MRTE (after the multi-reference timbre encoder of Mega-TTS): fuses phones and timbre into the content.

Each content frame attends to the phone sequence (cross-attention), so the prior knows what is being
said as well as how; the global timbre vector is added to every frame before projecting back.
"""

from __future__ import annotations

import torch
from torch import nn

from sonicsynth.models.sovits.attention import MultiHeadAttention


class MRTE(nn.Module):
    """content (batch, content_channels, frames) + phones (batch, content_channels, phones) + ge
    (batch, hidden_channels, 1) -> (batch, out_channels, frames).

    The timbre vector is added at the attention's width, so `ge` must have `hidden_channels` channels.
    """

    def __init__(
        self,
        content_channels: int = 192,
        hidden_channels: int = 512,
        out_channels: int = 192,
        n_heads: int = 4,
    ) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.cross_attention = MultiHeadAttention(hidden_channels, hidden_channels, n_heads)
        self.c_pre = nn.Conv1d(content_channels, hidden_channels, 1)
        self.text_pre = nn.Conv1d(content_channels, hidden_channels, 1)
        self.c_post = nn.Conv1d(hidden_channels, out_channels, 1)

    def forward(
        self,
        content: torch.Tensor,
        content_mask: torch.Tensor,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        ge: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Masks are (batch, 1, frames) and (batch, 1, phones) of 0/1."""
        # (batch, 1, frames, phones): a content frame sees every valid phone; padded frames see none.
        attn_mask = text_mask.unsqueeze(2) * content_mask.unsqueeze(-1)
        content = self.c_pre(content * content_mask)
        text = self.text_pre(text * text_mask)
        x = self.cross_attention(content * content_mask, text * text_mask, attn_mask) + content
        if ge is not None:
            x = x + ge
        return self.c_post(x * content_mask)
