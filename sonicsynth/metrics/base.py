"""What every metric shares: one error type and the input checks that produce it.

A metric raises `MetricError` for input it cannot score (silence, too short, wrong sample rate,
missing model file); batch evaluators catch it per item, record the message and go on.
"""

from __future__ import annotations

import numpy as np

from sonicsynth.audio.io import SILENCE_PEAK  # below it (-80 dBFS peak) there is nothing to score


class MetricError(ValueError):
    """Input a metric cannot score; the message names the input and the problem."""


def check_rate(sample_rate: int, *, name: str, minimum: int = 1) -> None:
    """Refuse a non-integer, non-positive or too low sample rate with a `MetricError` naming the input."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise MetricError(f"{name}: sample rate must be a positive integer, got {sample_rate!r}")
    if sample_rate < minimum:
        raise MetricError(
            f"{name}: sample rate {sample_rate} Hz, this metric needs at least {minimum} Hz "
            "(upsampling cannot restore the missing band)"
        )


def check_signal(samples: np.ndarray, sample_rate: int, *, name: str, expected_rate: int | None = None,
                 min_seconds: float = 0.0, allow_silence: bool = False) -> np.ndarray:
    """Validate one mono float signal and return it as float32.

    `name` (usually the file path) starts every message so a batch report says which item failed.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise MetricError(f"{name}: expected mono audio, got shape {samples.shape}")
    if expected_rate is not None and sample_rate != expected_rate:
        raise MetricError(f"{name}: sample rate {sample_rate} Hz, this metric needs {expected_rate} Hz (resample first)")
    if not np.all(np.isfinite(samples)):
        raise MetricError(f"{name}: audio contains NaN or infinite samples")
    seconds = len(samples) / sample_rate
    if seconds < min_seconds:
        raise MetricError(f"{name}: {seconds:.3f} s of audio, this metric needs at least {min_seconds:g} s")
    if not allow_silence and (len(samples) == 0 or np.abs(samples).max() < SILENCE_PEAK):
        raise MetricError(f"{name}: audio is silent (peak below -80 dBFS)")
    return samples.astype(np.float32, copy=False)


def check_pair(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, name: str,
               expected_rate: int | None = None, min_seconds: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/estimate pair and trim both to the shorter length."""
    reference = check_signal(reference, sample_rate, name=f"{name} (reference)", expected_rate=expected_rate,
                             min_seconds=min_seconds)
    estimate = check_signal(estimate, sample_rate, name=f"{name} (estimate)", expected_rate=expected_rate,
                            min_seconds=min_seconds)
    n = min(len(reference), len(estimate))
    return reference[:n], estimate[:n]
