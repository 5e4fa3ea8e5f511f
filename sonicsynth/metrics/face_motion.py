"""Face-motion metrics on ARKit-52 blendshape curves at 25 fps (prediction against ground truth).

All take (frames, 52) arrays in `ARKIT_BLENDSHAPES` order (weights 0..1; `jitter` takes any
(frames, channels) curves) and need the truth, except `jitter`. Definitions:

- `per_channel_l1`: mean |pred - true| over frames, one value per channel (52,); 0 best.
- `mouth_l1`: the same averaged over the mouth channels (jaw*, mouth*, cheekPuff, tongueOut).
- `lip_max_error`: the blendshape analogue of the lip vertex error (LVE) of mesh talking-head
  papers (FaceFormer, CodeTalker): for every frame the largest |pred - true| over the mouth
  channels, averaged over frames. The max catches the one badly wrong lip shape (a missed closure
  on /p/) that an average over channels hides; averaging over frames keeps it comparable between
  clips of different length. Range 0..1, 0 best.
- `jaw_open_sync`: Pearson correlation of jawOpen at lag 0 and, over lags -max_lag..max_lag, the
  lag at which the correlation of pred[t] with true[t - lag] peaks (Pearson over the overlapping
  frames, so every lag is scored on the same scale). Positive lag = the prediction is late (it
  needs `alignment_offset_sec = -lag / fps` to be corrected). Ties go to the smallest |lag|. A
  constant jawOpen has no correlation and is a `MetricError`.
- `jitter`: mean |x[t+1] - 2 x[t] + x[t-1]| over frames and channels (mean absolute second
  difference, in units per frame^2): the frame-to-frame shake smoothing removes; 0 for any constant
  or linear curve.
- `upper_face_dynamics_deviation` (FDD): per upper-face channel (brow*, eye*, cheekSquint*,
  noseSneer*) the standard deviation over time of the truth minus that of the prediction, averaged
  over channels; the upper-face dynamics deviation of talking-head papers (CodeTalker), here on
  blendshape weights instead of vertex displacements. Signed: > 0 the prediction's upper face is
  stiller than the truth, < 0 livelier; 0 best. Blinks are upper-face channels and count.

Shape mismatches, non-finite values and too short inputs raise `MetricError` naming the problem.
"""

from __future__ import annotations

import numpy as np

from sonicsynth.metrics.base import MetricError
from sonicsynth.models.face.blendshapes import (
    FPS,
    JAW_OPEN,
    MOUTH_INDICES,
    NUM_BLENDSHAPES,
    UPPER_FACE_INDICES,
)

__all__ = [
    "DEFAULT_MAX_LAG", "face_motion_report", "jaw_open_sync", "jitter", "lip_max_error", "mouth_l1",
    "per_channel_l1", "upper_face_dynamics_deviation",
]

DEFAULT_MAX_LAG = 15  # frames (0.6 s at 25 fps), the offset range SyncNet's LSE search covers


def _curves(array: np.ndarray, what: str, *, channels: int | None = NUM_BLENDSHAPES, min_frames: int = 1) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or (channels is not None and array.shape[1] != channels):
        expected = f"(frames, {channels})" if channels is not None else "(frames, channels)"
        raise MetricError(f"{what}: expected {expected} curves, got shape {array.shape}")
    if array.shape[0] < min_frames:
        raise MetricError(f"{what}: {array.shape[0]} frames, this metric needs at least {min_frames}")
    if not np.isfinite(array).all():
        raise MetricError(f"{what}: contains {int((~np.isfinite(array)).sum())} non-finite values")
    return array


def _pair(pred: np.ndarray, true: np.ndarray, *, min_frames: int = 1) -> tuple[np.ndarray, np.ndarray]:
    pred = _curves(pred, "prediction", min_frames=min_frames)
    true = _curves(true, "ground truth", min_frames=min_frames)
    if pred.shape != true.shape:
        raise MetricError(f"prediction has shape {pred.shape} but ground truth {true.shape} (same frames and channels needed)")
    return pred, true


def per_channel_l1(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(52,) mean absolute error per blendshape channel."""
    pred, true = _pair(pred, true)
    return np.abs(pred - true).mean(axis=0)


def mouth_l1(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error over frames and mouth channels."""
    return float(per_channel_l1(pred, true)[MOUTH_INDICES].mean())


def lip_max_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over frames of the largest mouth-channel absolute error (LVE-style)."""
    pred, true = _pair(pred, true)
    return float(np.abs(pred[:, MOUTH_INDICES] - true[:, MOUTH_INDICES]).max(axis=1).mean())


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else float("nan")


def jaw_open_sync(pred: np.ndarray, true: np.ndarray, *, max_lag: int = DEFAULT_MAX_LAG,
                  fps: float = FPS) -> dict[str, float]:
    """{"pearson", "lag_frames", "lag_sec", "peak_correlation"} of jawOpen; see the module docstring."""
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)) or max_lag < 0:
        raise MetricError(f"max_lag must be a non-negative integer number of frames, got {max_lag!r}")
    # Every lag must still be scored on more than half the clip, or a large lag wins on a few frames.
    pred, true = _pair(pred, true, min_frames=max(3, 2 * int(max_lag) + 1))
    p, t = pred[:, JAW_OPEN], true[:, JAW_OPEN]
    for curve, what in ((p, "prediction"), (t, "ground truth")):
        if np.ptp(curve) == 0:
            raise MetricError(f"{what}: jawOpen is constant, its correlation is undefined")
    n = len(p)
    best_lag, best = 0, -np.inf
    for lag in sorted(range(-max_lag, max_lag + 1), key=abs):
        # pred[t] against true[t - lag] over the frames where both exist
        r = _pearson(p[lag:], t[: n - lag]) if lag >= 0 else _pearson(p[: n + lag], t[-lag:])
        if np.isfinite(r) and r > best + 1e-12:
            best_lag, best = lag, r
    return {"pearson": _pearson(p, t), "lag_frames": int(best_lag), "lag_sec": best_lag / float(fps),
            "peak_correlation": float(best)}


def jitter(curves: np.ndarray) -> float:
    """Mean absolute second difference over frames and channels (any (frames, channels) curves)."""
    curves = _curves(curves, "curves", channels=None, min_frames=3)
    return float(np.abs(np.diff(curves, n=2, axis=0)).mean())


def upper_face_dynamics_deviation(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean over upper-face channels of std_t(true) - std_t(pred); > 0: the prediction is too still."""
    pred, true = _pair(pred, true, min_frames=2)
    columns = UPPER_FACE_INDICES
    return float((true[:, columns].std(axis=0) - pred[:, columns].std(axis=0)).mean())


def face_motion_report(pred: np.ndarray, true: np.ndarray, *, max_lag: int = DEFAULT_MAX_LAG,
                       fps: float = FPS) -> dict[str, float]:
    """Every metric above for one clip, flat, for a JSON report."""
    sync = jaw_open_sync(pred, true, max_lag=max_lag, fps=fps)
    return {
        "l1": float(per_channel_l1(pred, true).mean()),
        "mouth_l1": mouth_l1(pred, true),
        "lip_max_error": lip_max_error(pred, true),
        "jaw_open_pearson": sync["pearson"],
        "jaw_open_lag_frames": sync["lag_frames"],
        "jaw_open_lag_sec": sync["lag_sec"],
        "jitter": jitter(pred),
        "jitter_true": jitter(true),
        "upper_face_dynamics_deviation": upper_face_dynamics_deviation(pred, true),
    }
