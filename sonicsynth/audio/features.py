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

    @property
    def frame_sec(self) -> float:
        """The hop between frames in seconds."""
        return self.hop_length / self.sample_rate

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.from_magnitude(self.stft(wav))

    def from_magnitude(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The log-mel of a magnitude spectrogram computed with this module's STFT settings
        (batch, n_fft // 2 + 1, frames), for models that have the linear spectrogram already."""
        return dynamic_range_compression(torch.matmul(self.mel_basis, magnitude), self.log_floor)


class KaldiMfcc(nn.Module):
    """Kaldi's MFCCs (torchaudio's `compliance.kaldi.mfcc`, the features of Kaldi and MFA aligners)
    with delta and delta-delta coefficients and per-utterance cepstral mean normalisation;
    (samples,) at `sample_rate` -> (frames, num_ceps * (1 + deltas)).

    Framing is Kaldi's default (`snip_edges` True): frame t covers [t * shift, t * shift + length), and
    Kaldi and MFA report a state that starts at frame t as starting at t * shift. Measured on the demo
    voices, that convention puts the HMM aligner's boundaries closest to the engines' timings (7.5 ms
    later with centred frames, `snip_edges` False: 66% instead of 77% within 20 ms).
    The mean over the utterance is removed (the variance too with `normalize_variance`), which keeps
    the channel and the speaker's average spectrum out of what a state has to model.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        num_ceps: int = 13,
        num_mel_bins: int = 23,
        frame_length_ms: float = 25.0,
        frame_shift_ms: float = 10.0,
        deltas: int = 2,
        snip_edges: bool = True,
        normalize_variance: bool = False,
    ) -> None:
        super().__init__()
        self.sample_rate, self.num_ceps, self.num_mel_bins = sample_rate, num_ceps, num_mel_bins
        self.frame_length_ms, self.frame_shift_ms = frame_length_ms, frame_shift_ms
        self.deltas, self.snip_edges, self.normalize_variance = deltas, snip_edges, normalize_variance
        self.dim = num_ceps * (1 + deltas)

    @property
    def frame_sec(self) -> float:
        return self.frame_shift_ms / 1000

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        import torchaudio.functional as AF
        from torchaudio.compliance import kaldi

        # Kaldi works on 16-bit sample values; its energy floor and dither assume that scale.
        waveform = samples.reshape(1, -1).float() * 32768.0
        cepstra = kaldi.mfcc(
            waveform, sample_frequency=self.sample_rate, num_ceps=self.num_ceps, num_mel_bins=self.num_mel_bins,
            frame_length=self.frame_length_ms, frame_shift=self.frame_shift_ms, snip_edges=self.snip_edges,
            dither=0.0, energy_floor=0.0,
        )  # fmt: skip
        cepstra = cepstra - cepstra.mean(dim=0)
        if self.normalize_variance:
            cepstra = cepstra / cepstra.std(dim=0).clamp_min(1e-3)
        coefficients = [cepstra.T.unsqueeze(0)]
        for _ in range(self.deltas):
            coefficients.append(AF.compute_deltas(coefficients[-1]))
        return torch.cat(coefficients, dim=1)[0].T
