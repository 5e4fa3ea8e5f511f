"""Spectrogram features, one definition each.

The defaults reproduce the HiFi-GAN recipe (22.05 kHz, n_fft 1024, hop 256, Hann window 1024,
80 Slaney mel bands up to 8 kHz, log with a 1e-5 floor): reflect-pad by (n_fft - hop) / 2 on both
sides and take an un-centred STFT, so a clip of N * hop samples gives exactly N frames. Other models
(SoVITS' linear spectrogram at 32 kHz, for one) use the same modules with other settings.
"""

from __future__ import annotations

import librosa
import torch
import torch.nn.functional as F
from torch import nn


def dynamic_range_compression(x: torch.Tensor, clip_val: float = 1e-5) -> torch.Tensor:
    """Natural log with a floor, the 'spectral normalisation' of the HiFi-GAN recipe."""
    return torch.log(torch.clamp(x, min=clip_val))


class LinearSpectrogram(nn.Module):
    """Magnitude STFT, (batch, samples) -> (batch, n_fft // 2 + 1, frames)."""

    def __init__(
        self,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        center: bool = False,
        power: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.center, self.power = center, power
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav.unsqueeze(0)
        if not self.center:
            pad = (self.n_fft - self.hop_length) // 2
            wav = F.pad(wav.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        spec = torch.stft(
            wav.float(),
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        # The epsilon inside the root keeps the gradient finite at exact zeros.
        magnitude = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-9)
        return magnitude if self.power == 1.0 else magnitude.pow(self.power)


class MelSpectrogram(nn.Module):
    """Log-mel spectrogram, (batch, samples) -> (batch, n_mels, frames)."""

    def __init__(
        self,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float | None = 8000.0,
        center: bool = False,
        log_floor: float = 1e-5,
    ) -> None:
        super().__init__()
        self.sample_rate, self.n_mels, self.hop_length = sample_rate, n_mels, hop_length
        self.log_floor = log_floor
        self.stft = LinearSpectrogram(n_fft, hop_length, win_length, center=center)
        # librosa's Slaney-normalised filterbank is the one the published vocoders were trained with.
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis).float(), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(self.mel_basis, self.stft(wav))
        return dynamic_range_compression(mel, self.log_floor)
