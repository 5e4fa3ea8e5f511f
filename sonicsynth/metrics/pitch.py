"""Pitch (F0) and voicing agreement between a reference and a time-aligned estimate.

`f0_metrics` (needs a reference of the same sample rate; any rate of 8 kHz or more, resampled to
the pitch tracker's rate, 16 kHz with the default `PitchConfig`). F0 and voicing come from
`sonicsynth.audio.prosody.extract_f0` (YIN with a periodicity and level voicing decision, 10 ms
hop); the two frame sequences are trimmed to the common frame count and compared frame by frame
(no time warping, so the estimate must be aligned with the reference, e.g. copy synthesis).

- `f0_rmse_hz`: RMS of the F0 difference in Hz over frames voiced in both; 0..inf, best 0.
- `f0_rmse_cents`: the same in cents, 1200 * log2(f0_est / f0_ref); 0..inf, best 0.
  Both are NaN when no frame is voiced in both signals: there is nothing to compare pitch on, and
  the voicing scores below say why. NaN, not 0, so an average over a batch cannot mistake it for
  a perfect score (use `np.nanmean`, and report `voiced_frames_both`).
- `vuv_f1`: F1 score of the estimate's voiced decisions with the reference's as the truth;
  0..1, best 1. Defined as 1.0 when neither signal has a voiced frame (perfect agreement).
- `vuv_error`: fraction of frames whose voiced/unvoiced decision differs; 0..1, best 0.
- `voiced_frames_both`, `frames`: counts behind the scores.
"""

from __future__ import annotations

import numpy as np

from sonicsynth.audio.io import resample
from sonicsynth.audio.prosody import PitchConfig, extract_f0
from sonicsynth.metrics.base import check_pair, check_rate

MIN_RATE = 8000
DEFAULT_PITCH = PitchConfig()


def _track(samples: np.ndarray, sample_rate: int, config: PitchConfig) -> tuple[np.ndarray, np.ndarray]:
    wav = np.asarray(resample(samples, sample_rate, config.sample_rate), dtype=np.float32)
    return extract_f0(wav, config)


def _f0_rmse(ref_f0: np.ndarray, est_f0: np.ndarray, both: np.ndarray) -> tuple[float, float]:
    """RMSE in Hz and cents over the frames flagged in `both` (NaN, NaN when there are none)."""
    if not both.any():
        return float("nan"), float("nan")
    ref, est = ref_f0[both].astype(np.float64), est_f0[both].astype(np.float64)
    hz = np.sqrt(np.mean((est - ref) ** 2))
    cents = np.sqrt(np.mean((1200.0 * np.log2(est / ref)) ** 2))
    return float(hz), float(cents)


def _vuv_scores(ref_voiced: np.ndarray, est_voiced: np.ndarray) -> tuple[float, float]:
    """F1 of voiced decisions (reference as truth) and the fraction of disagreeing frames."""
    true_pos = int(np.sum(ref_voiced & est_voiced))
    false_pos = int(np.sum(~ref_voiced & est_voiced))
    false_neg = int(np.sum(ref_voiced & ~est_voiced))
    denominator = 2 * true_pos + false_pos + false_neg
    f1 = 1.0 if denominator == 0 else 2 * true_pos / denominator
    return float(f1), float(np.mean(ref_voiced != est_voiced))


def f0_metrics(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, name: str = "audio",
               config: PitchConfig = DEFAULT_PITCH) -> dict[str, float]:
    """F0 RMSE (Hz, cents) over frames voiced in both, and V/UV F1 and error rate."""
    check_rate(sample_rate, name=name, minimum=MIN_RATE)
    min_seconds = config.frame_length / config.sample_rate
    reference, estimate = check_pair(reference, estimate, sample_rate, name=name, min_seconds=min_seconds)
    ref_f0, ref_voiced = _track(reference, sample_rate, config)
    est_f0, est_voiced = _track(estimate, sample_rate, config)
    n = min(len(ref_f0), len(est_f0))
    ref_f0, ref_voiced, est_f0, est_voiced = ref_f0[:n], ref_voiced[:n], est_f0[:n], est_voiced[:n]
    both = ref_voiced & est_voiced
    rmse_hz, rmse_cents = _f0_rmse(ref_f0, est_f0, both)
    f1, error = _vuv_scores(ref_voiced, est_voiced)
    return {
        "f0_rmse_hz": rmse_hz,
        "f0_rmse_cents": rmse_cents,
        "vuv_f1": f1,
        "vuv_error": error,
        "voiced_frames_both": int(both.sum()),
        "frames": int(n),
    }
