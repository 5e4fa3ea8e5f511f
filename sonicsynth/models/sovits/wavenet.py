"""Non-causal WaveNet stack (gated dilated convolutions with residual and skip paths), as VITS uses it
in its posterior encoder and in its flow's coupling layers."""

from __future__ import annotations

import torch
from torch import nn

from sonicsynth.nn.weight_norm import weight_norm


class WaveNet(nn.Module):
    """(batch, hidden, frames) -> (batch, hidden, frames), the sum of every layer's skip output.

    Each layer: dilated conv to 2*hidden channels, plus the layer's slice of the projected global
    condition, then tanh(first half) * sigmoid(second half), then a 1x1 conv into a residual half
    (added to the input of the next layer) and a skip half. The last layer has no residual half.
    """

    def __init__(
        self,
        hidden_channels: int,
        kernel_size: int,
        dilation_rate: int,
        n_layers: int,
        gin_channels: int = 0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (symmetric 'same' padding), got {kernel_size}")
        self.hidden_channels, self.n_layers = hidden_channels, n_layers
        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        self.drop = nn.Dropout(dropout)
        # One projection for all layers' conditions at once; layer i reads its own 2*hidden slice.
        self.cond_layer = (
            weight_norm(nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1)) if gin_channels > 0 else None
        )
        for i in range(n_layers):
            dilation = dilation_rate**i
            self.in_layers.append(
                weight_norm(
                    nn.Conv1d(
                        hidden_channels,
                        2 * hidden_channels,
                        kernel_size,
                        dilation=dilation,
                        padding=(kernel_size * dilation - dilation) // 2,
                    )
                )
            )
            out_channels = 2 * hidden_channels if i < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden_channels, out_channels, 1)))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, hidden, frames); mask: (batch, 1, frames); g: (batch, gin_channels, 1) or None."""
        if g is not None:
            if self.cond_layer is None:
                raise ValueError("this WaveNet was built with gin_channels=0 and takes no condition g")
            g = self.cond_layer(g)
        hidden = self.hidden_channels
        output = torch.zeros_like(x)
        for i, (in_layer, res_skip_layer) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            h = in_layer(x)
            if g is not None:
                h = h + g[:, 2 * hidden * i : 2 * hidden * (i + 1)]
            acts = self.drop(torch.tanh(h[:, :hidden]) * torch.sigmoid(h[:, hidden:]))
            res_skip = res_skip_layer(acts)
            if i < self.n_layers - 1:
                x = (x + res_skip[:, :hidden]) * mask
                output = output + res_skip[:, hidden:]
            else:
                output = output + res_skip
        return output * mask
