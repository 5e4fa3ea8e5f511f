"""Face-motion metrics on curves whose right answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.face_motion import (
    face_motion_report,
    jaw_open_sync,
    jitter,
    lip_max_error,
    mouth_l1,
    per_channel_l1,
    upper_face_dynamics_deviation,
)
from sonicsynth.models.face.blendshapes import (
    FPS,
    MOUTH_INDICES,
    UPPER_FACE_INDICES,
    FaceMotion,
    blendshape_index,
)
from sonicsynth.models.face.postprocess import PostprocessSettings, postprocess

JAW = blendshape_index("jawOpen")


def _speech_like(frames: int = 200, seed: int = 0) -> np.ndarray:
    """(frames, 52) curves; jawOpen is a train of syllable-like openings at irregular times."""
    rng = np.random.default_rng(seed)
    curves = rng.uniform(0.1, 0.3, (frames, 52))
    t = np.arange(frames)
    onsets = np.cumsum(rng.integers(4, 12, size=frames // 4))
    onsets = onsets[onsets < frames]
    curves[:, JAW] = 0.05 + sum(rng.uniform(0.2, 0.7) * np.exp(-0.5 * ((t - c) / 1.5) ** 2) for c in onsets)
    return np.clip(curves, 0, 1)


def _delay(curves: np.ndarray, frames: int) -> np.ndarray:
    """curves[t - frames] (frames > 0: later), edges repeated."""
    index = np.clip(np.arange(len(curves)) - frames, 0, len(curves) - 1)
    return curves[index]


def test_identical_curves_score_perfectly():
    truth = _speech_like()
    report = face_motion_report(truth, truth.copy())
    assert report["l1"] == report["mouth_l1"] == report["lip_max_error"] == 0.0
    assert report["jaw_open_pearson"] == pytest.approx(1.0)
    assert report["jaw_open_lag_frames"] == 0 and report["upper_face_dynamics_deviation"] == 0.0
    assert report["jitter"] == report["jitter_true"] > 0


@pytest.mark.parametrize("shift", [-7, -3, -1, 1, 2, 5, 12])
def test_lag_finder_recovers_a_known_shift(shift):
    truth = _speech_like()
    late = _delay(truth, shift)  # positive shift: the prediction is late
    sync = jaw_open_sync(late, truth, max_lag=15)
    assert sync["lag_frames"] == shift and sync["lag_sec"] == pytest.approx(shift / FPS)
    assert sync["peak_correlation"] > 0.99 > sync["pearson"]


def test_alignment_offset_corrects_the_lag_it_measures():
    """The calibration loop a user runs: measure the lag, apply -lag / fps, measure again."""
    truth = _speech_like()
    late = FaceMotion(_delay(truth, 3), np.zeros((len(truth), 6)))
    lag = jaw_open_sync(late.blendshapes, truth)["lag_frames"]
    fixed, _ = postprocess(late, PostprocessSettings(inject_blinks=False, alignment_offset_sec=-lag / FPS), seed=0)
    assert lag == 3 and jaw_open_sync(fixed.blendshapes, truth)["lag_frames"] == 0


def test_pearson_is_invariant_to_gain_and_offset_and_negative_when_inverted():
    truth = _speech_like()
    scaled = truth.copy()
    scaled[:, JAW] = 0.5 * truth[:, JAW] + 0.1
    assert jaw_open_sync(scaled, truth)["pearson"] == pytest.approx(1.0)
    inverted = truth.copy()
    inverted[:, JAW] = 1.0 - truth[:, JAW]
    assert jaw_open_sync(inverted, truth)["pearson"] == pytest.approx(-1.0)


def test_jitter_of_constant_and_linear_curves_is_zero_and_of_alternation_is_four():
    assert jitter(np.full((30, 52), 0.4)) == 0.0
    assert jitter(np.linspace(0, 1, 30)[:, None] * np.ones((1, 6))) == pytest.approx(0.0, abs=1e-12)
    alternating = np.where(np.arange(30) % 2 == 0, 1.0, -1.0)[:, None]
    assert jitter(alternating) == pytest.approx(4.0)  # |(-1) - 2 * 1 + (-1)| = 4 at every frame


def test_l1_and_lip_max_error_on_a_hand_made_error():
    truth = np.full((10, 52), 0.2)
    pred = truth.copy()
    mouth = blendshape_index("mouthPucker")
    pred[4, mouth] += 0.5  # one wrong mouth value on one frame
    pred[:, UPPER_FACE_INDICES[0]] += 0.1  # an upper-face error everywhere
    l1 = per_channel_l1(pred, truth)
    assert l1.shape == (52,)
    assert l1[mouth] == pytest.approx(0.05) and l1[UPPER_FACE_INDICES[0]] == pytest.approx(0.1)
    assert mouth_l1(pred, truth) == pytest.approx(0.5 / 10 / len(MOUTH_INDICES))  # upper face not counted
    assert lip_max_error(pred, truth) == pytest.approx(0.5 / 10)  # max per frame, mean over frames


def test_upper_face_dynamics_deviation_sign_and_size():
    truth = _speech_like()
    still = np.repeat(truth.mean(axis=0, keepdims=True), len(truth), axis=0)
    expected = truth[:, UPPER_FACE_INDICES].std(axis=0).mean()
    assert upper_face_dynamics_deviation(still, truth) == pytest.approx(expected)  # too still: positive
    lively = truth.copy()
    lively[:, UPPER_FACE_INDICES] = 2 * truth[:, UPPER_FACE_INDICES]
    assert upper_face_dynamics_deviation(lively, truth) == pytest.approx(-expected)
    mouth_only = truth.copy()
    mouth_only[:, MOUTH_INDICES] = 0.0  # the mouth does not enter FDD
    assert upper_face_dynamics_deviation(mouth_only, truth) == 0.0


def test_bad_inputs_are_refused_with_the_problem_named():
    truth = _speech_like(frames=40)
    with pytest.raises(MetricError, match="shape"):
        per_channel_l1(truth[:30], truth)
    with pytest.raises(MetricError, match=r"\(frames, 52\)"):
        mouth_l1(truth[:, :51], truth[:, :51])
    with pytest.raises(MetricError, match="at least 31"):
        jaw_open_sync(truth[:20], truth[:20], max_lag=15)
    flat = truth.copy()
    flat[:, JAW] = 0.3
    with pytest.raises(MetricError, match="prediction: jawOpen is constant"):
        jaw_open_sync(flat, truth, max_lag=5)
    broken = truth.copy()
    broken[3, 3] = np.nan
    with pytest.raises(MetricError, match="ground truth: contains 1 non-finite"):
        lip_max_error(truth, broken)
    with pytest.raises(MetricError, match="at least 3"):
        jitter(truth[:2])
