"""Vocos generator (Siuzdak, 2023): frame-rate features -> complex STFT -> waveform by inverse STFT.

A ConvNeXt backbone runs at the input's frame rate (no upsampling layers); a linear head predicts,
per frame, the log-magnitude and phase of `n_fft // 2 + 1` bins, and an inverse STFT (overlap-add)
makes the waveform. Compared with HiFi-GAN's transposed convolutions at the sample rate, that is a
fraction of the compute per second of audio (8x less at the CPU demo's sizes), and the mel loss
reaches the magnitudes through one linear layer and an exponential; at the demo's budget it was
somewhat more intelligible per training step (the README's intelligibility section): the reasons
the CPU demo's SoVITS uses it as its decoder (configs/model/sovits_generator/demo.yaml).

Parameter names follow the published Vocos checkpoints (`backbone.embed`, `backbone.norm`,
`backbone.convnext.i.{dwconv,norm,pwconv1,pwconv2,gamma}`, `backbone.final_layer_norm`,
`head.out`); `cond` (a global conditioning vector, as a SoVITS decoder needs) is this project's
addition. The inverse STFT inverts the *un-centred* STFT of `sonicsynth.audio` (reflect padding of
(n_fft - hop) / 2 each side, N * hop samples <-> N frames), so frame t of the input describes the
same samples as frame t of the spectrogram the training targets come from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# exp() of a log-magnitude above this overflows in float16 and is never a real STFT magnitude of
# audio in [-1, 1] (Vocos clips at 1e2 as well).
MAX_MAGNITUDE = 1e2


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, with a residual."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float, kernel_size: int = 7) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, dim, frames)
        y = self.dwconv(x).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class VocosBackbone(nn.Module):
    """(batch, in_channels, frames) -> (batch, frames, dim)."""

    def __init__(self, in_channels: int, dim: int, intermediate_dim: int, num_layers: int) -> None:
        super().__init__()
        self.embed = nn.Conv1d(in_channels, dim, 7, padding=3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        # Each block's residual branch starts at 1/num_layers of its size: a deep stack begins near
        # the identity and trains stably without warm-up.
        self.convnext = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate_dim, layer_scale=1.0 / num_layers) for _ in range(num_layers)
        )
        self.final_layer_norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embed(x)
        if condition is not None:
            x = x + condition
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class ISTFTHead(nn.Module):
    """(batch, frames, dim) -> waveform (batch, frames * hop_length) through a predicted STFT."""

    def __init__(self, dim: int, n_fft: int, hop_length: int) -> None:
        super().__init__()
        if n_fft < hop_length or (n_fft - hop_length) % 2:
            raise ValueError(
                f"n_fft {n_fft} with hop {hop_length}: n_fft must be at least the hop and differ from it by an "
                "even number, so the un-centred frames' padding splits evenly"
            )
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.out = nn.Linear(dim, n_fft + 2)  # log-magnitudes and phases of n_fft // 2 + 1 bins
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_magnitude, phase = self.out(x).float().transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude).clamp(max=MAX_MAGNITUDE)
        # Built from cos/sin rather than torch.polar, whose gradient is undefined at magnitude 0.
        spectrum = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return self.inverse_stft(spectrum)

    def inverse_stft(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Complex (batch, n_fft // 2 + 1, frames) -> (batch, frames * hop): windowed overlap-add,
        divided by the summed squared window, with the un-centred STFT's padding cut off.

        torch.istft cannot do this: without centring it insists the window envelope be non-zero over
        the whole padded signal, which a Hann window's zero ends break."""
        frames = spectrum.shape[-1]
        window = self.window.to(torch.float32)
        segments = torch.fft.irfft(spectrum, n=self.n_fft, dim=1) * window[None, :, None]
        padded_length = (frames - 1) * self.hop_length + self.n_fft
        fold = dict(output_size=(1, padded_length), kernel_size=(1, self.n_fft), stride=(1, self.hop_length))
        audio = F.fold(segments, **fold)[:, 0, 0]
        envelope = F.fold(window.square()[None, :, None].expand(1, -1, frames), **fold)[0, 0, 0]
        pad = (self.n_fft - self.hop_length) // 2
        keep = slice(pad, pad + frames * self.hop_length)
        return audio[:, keep] / envelope[keep].clamp(min=1e-11)


class VocosGenerator(nn.Module):
    """(batch, in_channels, frames) [+ g (batch, gin_channels, 1)] -> (batch, 1, frames * hop_length).

    The drop-in alternative to `HiFiGANGenerator` (same call, same `hop_length` attribute); clipped
    to [-1, 1] in eval mode.
    """

    def __init__(
        self,
        in_channels: int = 100,
        dim: int = 512,
        intermediate_dim: int = 1536,
        num_layers: int = 8,
        n_fft: int = 1024,
        hop_length: int = 256,
        gin_channels: int = 0,
    ) -> None:
        super().__init__()
        self.hop_length = hop_length
        self.backbone = VocosBackbone(in_channels, dim, intermediate_dim, num_layers)
        self.head = ISTFTHead(dim, n_fft, hop_length)
        self.cond = nn.Conv1d(gin_channels, dim, 1) if gin_channels > 0 else None
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        condition = None
        if self.cond is not None:
            if g is None:
                raise ValueError("this generator was built with gin_channels > 0 and needs a conditioning vector g")
            condition = self.cond(g)
        audio = self.head(self.backbone(x, condition)).unsqueeze(1)
        # Clipped for playback only: in training a clamp would stop the gradient of every clipped sample.
        return audio if self.training else audio.clamp(-1.0, 1.0)

    def remove_weight_norm(self) -> "VocosGenerator":
        """Nothing to fold (no weight norm here); kept so either generator can be prepared for export."""
        return self


def _init_weights(module: nn.Module) -> None:
    # Vocos's initialisation: truncated normal (std 0.02) weights, zero biases.
    if isinstance(module, (nn.Conv1d, nn.Linear)):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
