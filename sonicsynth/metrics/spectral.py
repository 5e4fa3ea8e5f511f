"""Intrusive spectral distances between a reference and a time-aligned estimate (e.g. copy synthesis).

All need a reference of the same sample rate; lower is better; both signals are trimmed to the
shorter length first.
- `mel_l1`: mean |log-mel difference| (natural log, 1e-5 floor) with the given mel settings: the
  validation metric of HiFi-GAN-style vocoders; 0 for identical signals.
- `multi_resolution_stft`: spectral convergence and mean |log-magnitude difference| at three STFT
  resolutions (512/1024/2048-point), as used by Parallel WaveGAN-style losses.
"""

from __future__ import annotations

import numpy as np
import torch

from sonicsynth.audio.features import LinearSpectrogram, MelSpectrogram

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


def _pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    n = min(len(reference), len(estimate))
    if n == 0:
        raise ValueError("cannot compare empty signals")
    return torch.from_numpy(reference[:n].astype(np.float32)), torch.from_numpy(estimate[:n].astype(np.float32))


def mel_l1(reference: np.ndarray, estimate: np.ndarray, mel: MelSpectrogram) -> float:
    ref, est = _pair(reference, estimate)
    with torch.inference_mode():
        return float((mel(ref) - mel(est)).abs().mean())


def multi_resolution_stft(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    ref, est = _pair(reference, estimate)
    convergence, log_l1 = [], []
    with torch.inference_mode():
        for n_fft, hop in STFT_RESOLUTIONS:
            stft = LinearSpectrogram(n_fft, hop, n_fft, center=True)
            r, e = stft(ref), stft(est)
            convergence.append(float(torch.linalg.norm(r - e) / torch.linalg.norm(r).clamp_min(1e-9)))
            log_l1.append(float((torch.log(r.clamp_min(1e-5)) - torch.log(e.clamp_min(1e-5))).abs().mean()))
    return {"spectral_convergence": float(np.mean(convergence)), "log_stft_l1": float(np.mean(log_l1))}
