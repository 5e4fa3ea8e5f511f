"""Mel cepstral distortion (MCD) between a reference and an estimate, in dB.

- `mel_cepstral_distortion` (needs a reference of the same sample rate; any rate of 8 kHz or
  more, used as given, no resampling): range 0..inf dB, lower is better, exactly 0 for a signal
  compared with itself. Needs at least one 25 ms window of non-silent audio in each input.

    MCD = (10 / ln 10) * sqrt(2 * sum_{d=1..D} (c_d - c'_d)^2), averaged over aligned frames,

with D = `n_mfcc` and c0 (frame energy) excluded.

Mel cepstrum used: the DCT-II of the natural-log *amplitude* mel spectrum, scaled to match the
cepstrum definition behind the formula above. Frames of 25 ms (Hann window, FFT size the next power
of two), 5 ms hop, centred; `N_MELS` triangular Slaney mel bands from 0 Hz to Nyquist on the power
spectrum; amplitude = sqrt(mel power) floored at 1e-5; `librosa.feature.mfcc` (DCT-II, orthonormal)
takes the log-amplitude mel spectrum. If ln|X_k| = c0 + 2 * sum_m c_m cos(pi m (k + 1/2) / K) over
the K bands, the orthonormal DCT gives sqrt(2K) * c_m, so we divide by sqrt(2K). This is a
mel-frequency cepstrum, not SPTK's all-pass warped mel-cepstrum (`mcep`), so values are close to but
not interchangeable with SPTK-based MCD numbers.

Alignment: with `use_dtw=True` (default) frames are paired by dynamic time warping
(`librosa.sequence.dtw`, Euclidean cost on c1..cD) and the mean runs over the warping path, so the
two signals may differ in length. With `use_dtw=False` both are trimmed to the shorter length and
frames are paired by index. All frames are counted, silence included (no energy-based frame
dropping).
"""

from __future__ import annotations

import librosa
import numpy as np

from sonicsynth.metrics.base import check_pair, check_rate, check_signal

WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.005
N_MELS = 40
AMPLITUDE_FLOOR = 1e-5
MIN_RATE = 8000
MCD_CONSTANT = 10.0 / np.log(10.0) * np.sqrt(2.0)


def mel_cepstrum(samples: np.ndarray, sample_rate: int, n_mfcc: int = 13) -> np.ndarray:
    """Mel cepstra c1..c_n_mfcc per frame, shape (n_frames, n_mfcc); see the module docstring."""
    win_length = round(WINDOW_SECONDS * sample_rate)
    hop_length = round(HOP_SECONDS * sample_rate)
    n_fft = 1 << (win_length - 1).bit_length()
    power = librosa.feature.melspectrogram(
        y=np.asarray(samples, dtype=np.float64), sr=sample_rate, n_fft=n_fft, hop_length=hop_length,
        win_length=win_length, window="hann", center=True, power=2.0, n_mels=N_MELS, fmin=0.0,
        fmax=sample_rate / 2,
    )
    log_amplitude = np.log(np.maximum(np.sqrt(power), AMPLITUDE_FLOOR))
    cepstra = librosa.feature.mfcc(S=log_amplitude, n_mfcc=n_mfcc + 1, dct_type=2, norm="ortho")
    return (cepstra[1:] / np.sqrt(2.0 * N_MELS)).T


def _frame_distortion(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Per-frame MCD in dB for paired frames (rows)."""
    return MCD_CONSTANT * np.sqrt(np.sum((reference - estimate) ** 2, axis=1))


def _dtw_pairs(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame index pairs on the minimum-cost warping path."""
    _, path = librosa.sequence.dtw(X=reference.T, Y=estimate.T, metric="euclidean")
    path = path[::-1]
    return path[:, 0], path[:, 1]


def mel_cepstral_distortion(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, n_mfcc: int = 13,
                            use_dtw: bool = True, name: str = "audio") -> float:
    """MCD in dB of `estimate` against `reference`; `n_mfcc` is the cepstral order without c0."""
    check_rate(sample_rate, name=name, minimum=MIN_RATE)
    if n_mfcc < 1:
        raise ValueError(f"n_mfcc must be at least 1, got {n_mfcc}")
    if use_dtw:
        reference = check_signal(reference, sample_rate, name=f"{name} (reference)", min_seconds=WINDOW_SECONDS)
        estimate = check_signal(estimate, sample_rate, name=f"{name} (estimate)", min_seconds=WINDOW_SECONDS)
    else:
        reference, estimate = check_pair(reference, estimate, sample_rate, name=name, min_seconds=WINDOW_SECONDS)
    ref_cep = mel_cepstrum(reference, sample_rate, n_mfcc)
    est_cep = mel_cepstrum(estimate, sample_rate, n_mfcc)
    if use_dtw:
        ref_idx, est_idx = _dtw_pairs(ref_cep, est_cep)
        ref_cep, est_cep = ref_cep[ref_idx], est_cep[est_idx]
    else:
        n = min(len(ref_cep), len(est_cep))
        ref_cep, est_cep = ref_cep[:n], est_cep[:n]
    return float(np.mean(_frame_distortion(ref_cep, est_cep)))
