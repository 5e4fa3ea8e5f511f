"""HiFi-GAN generator (Kong et al., 2020): mel spectrogram -> waveform.

Transposed convolutions upsample the mel frame rate to the sample rate; after each upsampling a
multi-receptive-field fusion (MRF) block averages residual blocks of several kernel sizes and
dilations. Parameter names follow the published checkpoints (`conv_pre`, `ups.i`, `resblocks.j`,
`conv_post`), so their weights load after a weight-norm key rename (see `published.py`).

This generator is also the decoder of SoVITS: that family imports it from here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.nn.weight_norm import remove_weight_norm, weight_norm

LRELU_SLOPE = 0.1


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """'Same' padding for an odd kernel with dilation."""
    return (kernel_size * dilation - dilation) // 2


def _init_normal(module: nn.Module, std: float = 0.01) -> None:
    for sub in module.modules():
        if isinstance(sub, (nn.Conv1d, nn.ConvTranspose1d)):
            sub.weight.data.normal_(0.0, std)


def _dilated_conv(channels: int, kernel_size: int, dilation: int) -> nn.Conv1d:
    conv = nn.Conv1d(channels, channels, kernel_size, 1, dilation=dilation, padding=get_padding(kernel_size, dilation))
    _init_normal(conv)
    return weight_norm(conv)


class ResBlock1(nn.Module):
    """MRF residual block, type 1 (V1/V2): pairs of (dilated conv, plain conv) per dilation."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5)) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(_dilated_conv(channels, kernel_size, d) for d in dilations)
        self.convs2 = nn.ModuleList(_dilated_conv(channels, kernel_size, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            xt = c1(F.leaky_relu(x, LRELU_SLOPE))
            xt = c2(F.leaky_relu(xt, LRELU_SLOPE))
            x = x + xt
        return x


class ResBlock2(nn.Module):
    """MRF residual block, type 2 (V3): one dilated conv per dilation, lighter."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3)) -> None:
        super().__init__()
        self.convs = nn.ModuleList(_dilated_conv(channels, kernel_size, d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


RESBLOCKS = {"1": ResBlock1, "2": ResBlock2}


class HiFiGANGenerator(nn.Module):
    """(batch, in_channels, frames) -> (batch, 1, frames * prod(upsample_rates)).

    `gin_channels` > 0 adds a global conditioning vector (e.g. a speaker/timbre embedding), projected
    and added after `conv_pre`, as the SoVITS decoder needs. The SoVITS decoder also differs in its
    outer convolutions: `weight_norm_pre_post=False` makes `conv_pre` and `conv_post` plain
    convolutions and `post_bias=False` drops the bias of `conv_post`. The defaults keep the layout of
    the published HiFi-GAN checkpoints.
    """

    def __init__(
        self,
        in_channels: int = 80,
        upsample_rates: Sequence[int] = (8, 8, 2, 2),
        upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4),
        upsample_initial_channel: int = 512,
        resblock_type: str = "1",
        resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
        resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        gin_channels: int = 0,
        weight_norm_pre_post: bool = True,
        post_bias: bool = True,
    ) -> None:
        super().__init__()
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(resblock_kernel_sizes) != len(resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if str(resblock_type) not in RESBLOCKS:
            raise ValueError(f"resblock_type must be one of {sorted(RESBLOCKS)}, got {resblock_type!r}")
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes):
            # padding (k - u) / 2 makes each transposed conv output exactly u samples per input frame
            # (k == u, as in the SoVITS decoder's last stages, needs no padding at all).
            if kernel < rate or (kernel - rate) % 2:
                raise ValueError(
                    f"upsample kernel {kernel} with rate {rate}: the kernel must be at least the rate and "
                    "differ from it by an even number, or the output is not frames * rate samples long"
                )
        self.num_kernels = len(resblock_kernel_sizes)
        self.hop_length = 1
        for rate in upsample_rates:
            self.hop_length *= rate

        conv_pre = nn.Conv1d(in_channels, upsample_initial_channel, 7, 1, padding=3)
        self.conv_pre = weight_norm(conv_pre) if weight_norm_pre_post else conv_pre
        self.ups = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            up = nn.ConvTranspose1d(
                upsample_initial_channel // 2**i,
                upsample_initial_channel // 2 ** (i + 1),
                kernel,
                rate,
                padding=(kernel - rate) // 2,
            )
            _init_normal(up)
            self.ups.append(weight_norm(up))

        block = RESBLOCKS[str(resblock_type)]
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            channels = upsample_initial_channel // 2 ** (i + 1)
            for kernel, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block(channels, kernel, dilations))

        conv_post = nn.Conv1d(channels, 1, 7, 1, padding=3, bias=post_bias)
        if weight_norm_pre_post:
            self.conv_post = weight_norm(conv_post)
            _init_normal(self.conv_post)
        else:
            # Plain, with torch's default initialisation, as the SoVITS decoder was trained.
            self.conv_post = conv_post
        self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1) if gin_channels > 0 else None

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        x = self.conv_pre(x)
        if self.cond is not None:
            if g is None:
                raise ValueError("this generator was built with gin_channels > 0 and needs a conditioning vector g")
            x = x + self.cond(g)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, LRELU_SLOPE))
            mrf = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                mrf = mrf + self.resblocks[i * self.num_kernels + j](x)
            x = mrf / self.num_kernels
        # The published model uses leaky_relu's default slope (0.01) here, not 0.1.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)

    def remove_weight_norm(self) -> "HiFiGANGenerator":
        """Fold weight norm into plain weights: identical output, faster, exportable."""
        remove_weight_norm(self)
        return self
