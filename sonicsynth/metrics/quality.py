"""Perceptual speech-quality and intelligibility metrics: DNSMOS, PESQ and STOI.

- `dnsmos` (no reference; `speechmos` package, Microsoft DNSMOS P.835 ONNX models plus the P.808
  model): scored at 16 kHz; input at any rate of 16 kHz or more is resampled to 16 kHz internally
  (lower rates are refused: upsampling cannot restore the missing band and would read as
  degradation). Samples must lie in [-1, 1]. Returns `dnsmos_sig` (speech signal), `dnsmos_bak`
  (background noise), `dnsmos_ovrl` (overall) and `dnsmos_p808`, each a MOS on a 1..5 scale,
  higher is better. The models read 9.01 s windows; speechmos tiles shorter clips by repeating
  them (and never returns for an empty one), so we require at least `DNSMOS_MIN_SECONDS` (1 s),
  below which the tiled window would be mostly repeats of one fragment.
- `pesq_score` (needs a reference; `pesq` package, ITU-T P.862.2 wide band or P.862 narrow band):
  MOS-LQO, wide band 1.04..4.64, narrow band 1.02..4.55, higher is better; an identical pair scores
  the maximum. Wide band runs at 16 kHz and needs input at 16 kHz or more (resampled to 16 kHz);
  narrow band runs at 8 or 16 kHz as given, other rates of 8 kHz or more are resampled to 16 kHz.
  Needs at least 0.25 s of audio (the C library's own limit) with speech in it.
- `stoi_score` (needs a reference; `pystoi` package): STOI, or extended STOI with `extended=True`.
  STOI is a correlation, 0..1 in practice (it can dip slightly below 0), higher is better, 1 for
  an identical pair; ESTOI likewise. pystoi resamples any rate to 10 kHz itself. It needs 30 frames
  of 256 samples with hop 128 at 10 kHz (about 0.4 s) left after dropping frames 40 dB below the
  loudest, otherwise it raises `MetricError` (pystoi itself would warn and return 1e-5).

Reference and estimate share one sample rate and are trimmed to the shorter length. Every input
problem (silence, too short, too low a sample rate, values out of range, a failure inside the
scoring library) raises `MetricError` naming the input.
"""

from __future__ import annotations

import logging

import warnings

import numpy as np

from sonicsynth.audio.io import resample
from sonicsynth.metrics.base import MetricError, check_pair, check_rate, check_signal

MODEL_RATE = 16000  # DNSMOS and wide-band PESQ
DNSMOS_MIN_SECONDS = 1.0
PESQ_MIN_SECONDS = 0.25
PESQ_MODES = ("wb", "nb")
STOI_MIN_SECONDS = 0.4  # 30 frames of 256 samples, hop 128, at 10 kHz: 3968 samples
DNSMOS_KEYS = {"sig_mos": "dnsmos_sig", "bak_mos": "dnsmos_bak", "ovrl_mos": "dnsmos_ovrl", "p808_mos": "dnsmos_p808"}


log = logging.getLogger(__name__)

def _to_rate(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    return np.asarray(resample(samples, sample_rate, target_rate), dtype=np.float32)


def dnsmos(samples: np.ndarray, sample_rate: int, *, name: str = "audio") -> dict[str, float]:
    """DNSMOS P.835 (SIG, BAK, OVRL) and P.808 scores of one clip, no reference needed."""
    from speechmos import dnsmos as speechmos_dnsmos

    check_rate(sample_rate, name=name, minimum=MODEL_RATE)
    samples = check_signal(samples, sample_rate, name=name, min_seconds=DNSMOS_MIN_SECONDS)
    peak = float(np.abs(samples).max())
    if peak > 1.0:
        raise MetricError(f"{name}: samples must lie in [-1, 1] for DNSMOS, peak is {peak:.3f}")
    # Band-limited resampling can overshoot full scale by a hair; speechmos rejects anything outside.
    audio = np.clip(_to_rate(samples, sample_rate, MODEL_RATE), -1.0, 1.0)
    try:
        result = speechmos_dnsmos.run(audio, sr=MODEL_RATE)
    except Exception as error:  # onnxruntime and speechmos raise assorted types
        raise MetricError(f"{name}: DNSMOS failed: {error}") from error
    return {ours: float(result[theirs]) for theirs, ours in DNSMOS_KEYS.items()}


def dnsmos_or_nan(samples: np.ndarray, sample_rate: int, *, name: str = "audio",
                  keys: tuple[str, ...] = ("dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak")) -> dict[str, float]:
    """`dnsmos`'s `keys` for a report row, NaN (with a logged warning) where the clip cannot be
    scored (too short, silent): one bad clip must not stop a report."""
    try:
        quality = dnsmos(samples, sample_rate, name=name)
    except MetricError as err:
        log.warning("DNSMOS: %s", err)
        return dict.fromkeys(keys, float("nan"))
    return {k: quality[k] for k in keys}


def _pesq_rate(sample_rate: int, mode: str, name: str) -> int:
    """The rate PESQ runs at for this input rate and mode (refusing rates too low for the mode)."""
    if mode not in PESQ_MODES:
        raise MetricError(f"{name}: PESQ mode must be 'wb' or 'nb', got {mode!r}")
    check_rate(sample_rate, name=name, minimum=MODEL_RATE if mode == "wb" else 8000)
    if mode == "nb" and sample_rate == 8000:
        return 8000
    return MODEL_RATE


def _pesq_message(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def pesq_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, mode: str = "wb",
               name: str = "audio") -> float:
    """PESQ MOS-LQO of `estimate` against `reference` (wide band P.862.2 or narrow band P.862)."""
    from pesq import PesqError, pesq

    rate = _pesq_rate(sample_rate, mode, name)
    reference, estimate = check_pair(reference, estimate, sample_rate, name=name, min_seconds=PESQ_MIN_SECONDS)
    reference, estimate = _to_rate(reference, sample_rate, rate), _to_rate(estimate, sample_rate, rate)
    try:
        return float(pesq(rate, reference, estimate, mode))
    except PesqError as error:
        raise MetricError(f"{name}: PESQ failed: {_pesq_message(error)} ({type(error).__name__})") from error
    except Exception as error:
        raise MetricError(f"{name}: PESQ failed: {error}") from error


def stoi_score(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, extended: bool = False,
               name: str = "audio") -> float:
    """STOI (or ESTOI with `extended=True`) of `estimate` against `reference`."""
    from pystoi import stoi

    check_rate(sample_rate, name=name)
    reference, estimate = check_pair(reference, estimate, sample_rate, name=name, min_seconds=STOI_MIN_SECONDS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = stoi(reference.astype(np.float64), estimate.astype(np.float64), sample_rate, extended=extended)
        except Exception as error:
            raise MetricError(f"{name}: STOI failed: {error}") from error
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise MetricError(
            f"{name}: fewer than 30 frames (about 0.4 s) of the reference are within 40 dB of its loudest "
            "frame; STOI needs more speech"
        )
    return float(value)
