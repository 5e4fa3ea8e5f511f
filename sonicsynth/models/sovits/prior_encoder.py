"""Prior encoder (`enc_p`): token features + phones + timbre -> the prior over the latent z.

Order of the published v2 model: project the quantised content to the hidden width and encode it
(`encoder_ssl`); embed and encode the phones (`encoder_text`); fuse phones and timbre into the content
(`mrte`); encode again (`encoder2`); project to a mean and a log-std per frame (`proj`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.models.sovits.attention import TransformerEncoder
from sonicsynth.models.sovits.mrte import MRTE
from sonicsynth.models.sovits.sequence import frame_mask

# Phone ids of the published v2 symbol table.
V2_SYMBOL_COUNT = 732


class PriorEncoder(nn.Module):
    """(batch, content_channels, frames) + phone ids (batch, phones) + ge -> hidden, mean, log-std, mask.

    Mean and log-std are (batch, out_channels, frames): the frames of the content input, which the
    caller brings to the spectrogram frame rate first.
    """

    def __init__(
        self,
        content_channels: int = 768,
        out_channels: int = 192,
        hidden_channels: int = 192,
        filter_channels: int = 768,
        n_heads: int = 2,
        ssl_layers: int = 3,
        text_layers: int = 6,
        post_layers: int = 3,
        kernel_size: int = 3,
        dropout: float = 0.1,
        window_size: int = 4,
        n_symbols: int = V2_SYMBOL_COUNT,
        fusion_channels: int = 512,
        fusion_heads: int = 4,
    ) -> None:
        super().__init__()
        self.content_channels, self.out_channels = content_channels, out_channels
        self.fusion_channels = fusion_channels

        def encoder(n_layers: int) -> TransformerEncoder:
            return TransformerEncoder(
                hidden_channels, filter_channels, n_heads, n_layers, kernel_size, dropout, window_size
            )

        self.ssl_proj = nn.Conv1d(content_channels, hidden_channels, 1)
        self.encoder_ssl = encoder(ssl_layers)
        self.encoder_text = encoder(text_layers)
        self.text_embedding = nn.Embedding(n_symbols, hidden_channels)
        self.mrte = MRTE(hidden_channels, fusion_channels, hidden_channels, fusion_heads)
        self.encoder2 = encoder(post_layers)
        self.proj = nn.Conv1d(hidden_channels, 2 * out_channels, 1)

    def forward(
        self,
        content: torch.Tensor,
        content_lengths: torch.Tensor,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        ge: torch.Tensor | None,
        speed: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """speed != 1 stretches the encoded frames (linear interpolation) before the projection, so
        the speech is slower (< 1) or faster (> 1); for inference with one utterance at a time."""
        mask = frame_mask(content_lengths, content.shape[-1], content.dtype)
        x = self.ssl_proj(content * mask) * mask
        x = self.encoder_ssl(x, mask)

        text_mask = frame_mask(phone_lengths, phone_ids.shape[-1], x.dtype)
        text = self.text_embedding(phone_ids).transpose(1, 2)
        text = self.encoder_text(text * text_mask, text_mask)

        x = self.mrte(x, mask, text, text_mask, ge)
        x = self.encoder2(x * mask, mask)
        if speed != 1.0:
            x = F.interpolate(x, size=int(x.shape[-1] / speed) + 1, mode="linear")
            mask = F.interpolate(mask, size=x.shape[-1], mode="nearest")
        mean, log_std = torch.split(self.proj(x) * mask, self.out_channels, dim=1)
        return x, mean, log_std, mask
