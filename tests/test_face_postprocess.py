"""Face post-processing does what each parameter claims, and only that.

Inputs are synthetic: smooth random curves in 0.2..0.6 (so no gain or noise here reaches the clamp
unless a test wants it), blink channels at 0 (no blinks) and a head pose that sways about an
off-frontal mean. Every test compares the channels a parameter must change with those it must not.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from sonicsynth.metrics.face_motion import jitter
from sonicsynth.models.face.blendshapes import (
    ARKIT_BLENDSHAPES,
    BLINK_INDICES,
    FPS,
    MOUTH_CHANNELS,
    MOUTH_INDICES,
    UPPER_FACE_CHANNELS,
    FaceMotion,
    FaceMotionError,
    blendshape_index,
)
from sonicsynth.models.face.postprocess import (
    MOTION_SCALED,
    UPPER_SMOOTHED,
    FaceParameterWarning,
    PostprocessSettings,
    Smoothing,
    count_blinks,
    load_style,
    offset_frames,
    postprocess,
    settings_from_config,
    style_names,
)

MEAN_POSE = np.array([5.0, 12.0, -3.0, 0.05, -0.02, 0.1])


def _motion(frames: int = 250, noise: float = 0.0, seed: int = 0) -> FaceMotion:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / FPS
    freq = rng.uniform(0.2, 1.5, (1, 52))
    phase = rng.uniform(0, 2 * np.pi, (1, 52))
    blendshapes = 0.4 + 0.15 * np.sin(2 * np.pi * freq * t + phase) + noise * rng.standard_normal((frames, 52))
    blendshapes[:, BLINK_INDICES] = 0.0
    sway = np.sin(2 * np.pi * rng.uniform(0.1, 0.5, (1, 6)) * t) * np.array([4.0, 6.0, 3.0, 0.02, 0.02, 0.02])
    pose = MEAN_POSE + sway + noise * rng.standard_normal((frames, 6)) * np.array([20.0] * 3 + [0.1] * 3)
    return FaceMotion(blendshapes, pose)


def _plain(**overrides) -> PostprocessSettings:
    """Settings that change nothing unless overridden (no blink injection)."""
    return PostprocessSettings(inject_blinks=False, **overrides)


def test_arkit_names_and_groups():
    assert len(ARKIT_BLENDSHAPES) == 52 == len(set(ARKIT_BLENDSHAPES))
    assert list(ARKIT_BLENDSHAPES) == sorted(ARKIT_BLENDSHAPES)  # EmoTalk's alphabetical order
    assert ARKIT_BLENDSHAPES[0] == "browDownLeft" and ARKIT_BLENDSHAPES[-1] == "tongueOut"
    assert blendshape_index("jawOpen") == 24
    assert set(MOUTH_CHANNELS) | set(UPPER_FACE_CHANNELS) == set(ARKIT_BLENDSHAPES)
    assert not set(MOUTH_CHANNELS) & set(UPPER_FACE_CHANNELS)
    assert {"cheekPuff", "tongueOut", "jawOpen"} <= set(MOUTH_CHANNELS)
    assert {"cheekSquintLeft", "noseSneerRight", "eyeBlinkLeft"} <= set(UPPER_FACE_CHANNELS)
    with pytest.raises(KeyError, match="jawOpen"):
        blendshape_index("jawopen")


@pytest.mark.parametrize("blendshapes, pose, message", [
    (np.zeros((10, 51)), np.zeros((10, 6)), r"\(frames, 52\)"),
    (np.zeros((10, 52)), np.zeros((10, 3)), r"\(frames, 6\)"),
    (np.zeros((10, 52)), np.zeros((9, 6)), "10 frames but pose has 9"),
    (np.full((10, 52), np.nan), np.zeros((10, 6)), "non-finite"),
    (np.full((10, 52), 40.0), np.zeros((10, 6)), "percent"),
    (np.zeros((0, 52)), np.zeros((0, 6)), "no frames"),
])
def test_face_motion_refuses_bad_arrays(blendshapes, pose, message):
    with pytest.raises(FaceMotionError, match=message):
        FaceMotion(blendshapes, pose, name="clip.npz")


def test_defaults_change_nothing_and_record_is_json():
    motion = _motion()
    out, record = postprocess(motion, _plain(), seed=0)
    np.testing.assert_allclose(out.blendshapes, motion.blendshapes, atol=1e-6)
    np.testing.assert_allclose(out.pose, motion.pose, atol=1e-5)
    json.dumps(record)
    assert record["alignment"]["offset_frames"] == 0 and record["clamped"]["blendshapes"] == 0


@pytest.mark.filterwarnings("ignore::sonicsynth.models.face.postprocess.FaceParameterWarning")  # gain 0
@pytest.mark.parametrize("gain", [0.0, 0.6, 1.5])
def test_dynamic_scale_changes_only_mouth_channels(gain):
    motion = _motion()
    out, record = postprocess(motion, _plain(dynamic_scale=gain), seed=0)
    np.testing.assert_allclose(out.blendshapes[:, MOUTH_INDICES], gain * motion.blendshapes[:, MOUTH_INDICES], atol=1e-6)
    others = np.setdiff1d(np.arange(52), MOUTH_INDICES)
    np.testing.assert_array_equal(out.blendshapes[:, others], motion.blendshapes[:, others])
    np.testing.assert_allclose(out.pose, motion.pose, atol=1e-5)
    assert record["gains"]["dynamic_scale"] == gain


@pytest.mark.parametrize("gain", [0.0, 0.5, 1.8])
def test_motion_scale_changes_expression_and_pose_but_not_mouth_or_blinks(gain):
    motion = _motion()
    blinking = motion.blendshapes.copy()
    blinking[100:104, BLINK_INDICES] = 0.9
    motion = motion.replace(blendshapes=blinking)
    out, _ = postprocess(motion, _plain(motion_scale=gain), seed=0)
    np.testing.assert_array_equal(out.blendshapes[:, MOUTH_INDICES], motion.blendshapes[:, MOUTH_INDICES])
    np.testing.assert_array_equal(out.blendshapes[:, BLINK_INDICES], motion.blendshapes[:, BLINK_INDICES])
    np.testing.assert_allclose(out.blendshapes[:, MOTION_SCALED], gain * motion.blendshapes[:, MOTION_SCALED], atol=1e-6)
    # pose scales about its own mean: the mean (the portrait's framing) stays, the sway scales
    mean = motion.pose.mean(axis=0)
    np.testing.assert_allclose(out.pose.mean(axis=0), mean, atol=1e-4)
    np.testing.assert_allclose(out.pose - mean, gain * (motion.pose - mean), atol=1e-4)


REGIONS = {
    "upper_face": ("blendshapes", UPPER_SMOOTHED),
    "lower_face": ("blendshapes", MOUTH_INDICES),
    "pose": ("pose", np.arange(6)),
}


@pytest.mark.parametrize("method", ["ema", "savgol", "one_euro"])
@pytest.mark.parametrize("region", list(REGIONS))
def test_smoothing_lowers_jitter_only_in_its_region(method, region):
    motion = _motion(noise=0.03)
    out, record = postprocess(motion, _plain(smoothing=Smoothing(method=method, **{region: 0.8})), seed=0)
    for name, (array, columns) in REGIONS.items():
        before, after = getattr(motion, array)[:, columns], getattr(out, array)[:, columns]
        if name == region:
            assert jitter(after) < 0.5 * jitter(before), (method, region)
        else:
            np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(out.blendshapes[:, BLINK_INDICES], motion.blendshapes[:, BLINK_INDICES])
    assert record["smoothing"]["method"] == method and record["smoothing"][region]["strength"] == 0.8


@pytest.mark.parametrize("method", ["ema", "savgol", "one_euro"])
def test_stronger_smoothing_smooths_more_and_zero_is_off(method):
    motion = _motion(noise=0.03)
    jitters = []
    for strength in (0.0, 0.3, 0.9):
        out, _ = postprocess(motion, _plain(smoothing=Smoothing(method=method, lower_face=strength)), seed=0)
        jitters.append(jitter(out.blendshapes[:, MOUTH_INDICES]))
    assert jitters[0] == pytest.approx(jitter(motion.blendshapes[:, MOUTH_INDICES]))
    assert jitters[0] > jitters[1] > jitters[2]


def test_zero_phase_smoothers_keep_mouth_timing_and_one_euro_lags():
    """EMA runs forward and backward and Savitzky-Golay is symmetric: a mouth opening keeps its
    peak frame. The One-Euro filter is causal (as published) and its peak comes later."""
    motion = _motion()
    blendshapes = motion.blendshapes.copy()
    frames = np.arange(motion.num_frames)
    jaw = blendshape_index("jawOpen")
    blendshapes[:, jaw] = 0.1 + 0.6 * np.exp(-0.5 * ((frames - 100) / 3.0) ** 2)
    motion = motion.replace(blendshapes=blendshapes)
    peaks = {}
    for method in ("ema", "savgol", "one_euro"):
        out, _ = postprocess(motion, _plain(smoothing=Smoothing(method=method, lower_face=1.0)), seed=0)
        assert out.blendshapes[:, jaw].max() < 0.7  # it did smooth
        peaks[method] = int(np.argmax(out.blendshapes[:, jaw]))
    assert peaks["ema"] == peaks["savgol"] == 100 < peaks["one_euro"]


@pytest.mark.parametrize("offset, frames", [(0.08, 2), (-0.08, -2), (0.04, 1), (-0.12, -3), (0.0, 0),
                                            (0.06, 2), (-0.06, -2), (0.5, 13)])
def test_alignment_offset_shifts_every_curve_by_exact_frames(offset, frames):
    assert offset_frames(offset, FPS) == frames
    motion = _motion()
    out, record = postprocess(motion, _plain(alignment_offset_sec=offset), seed=0)
    assert record["alignment"]["offset_frames"] == frames and out.num_frames == motion.num_frames
    for array in ("blendshapes", "pose"):
        before, after = getattr(motion, array), getattr(out, array)
        if frames > 0:  # motion later: frame t shows what was at t - frames, the start holds the first frame
            np.testing.assert_allclose(after[frames:], before[:-frames], atol=1e-5)
            np.testing.assert_allclose(after[:frames], np.repeat(before[:1], frames, axis=0), atol=1e-5)
        elif frames < 0:
            np.testing.assert_allclose(after[:frames], before[-frames:], atol=1e-5)
            np.testing.assert_allclose(after[frames:], np.repeat(before[-1:], -frames, axis=0), atol=1e-5)
        else:
            np.testing.assert_allclose(after, before, atol=1e-5)


def test_alignment_offset_longer_than_the_clip_is_refused():
    with pytest.raises(ValueError, match="leaves nothing"):
        postprocess(_motion(frames=20), _plain(alignment_offset_sec=1.0), seed=0)


def test_blinks_are_injected_when_there_are_none_and_reproducible_per_seed():
    motion = _motion(frames=60 * FPS)  # one minute, no blinks
    assert count_blinks(motion.blendshapes) == 0
    settings = PostprocessSettings()
    out, record = postprocess(motion, settings, seed=0)
    peaks = record["blinks"]["peak_frames"]
    assert record["blinks"]["injected"] and record["blinks"]["seed"] == 0
    assert count_blinks(out.blendshapes) == len(peaks) >= 5  # 60 s at 2-10 s intervals
    np.testing.assert_allclose(out.blendshapes[peaks][:, BLINK_INDICES], 1.0, atol=1e-6)  # full closures
    gaps = np.diff(peaks) / FPS
    assert gaps.min() >= 2.0 - 0.4 and gaps.max() <= 10.0 + 0.4  # intervals, give or take a blink's length
    # only the blink channels changed
    others = np.setdiff1d(np.arange(52), BLINK_INDICES)
    np.testing.assert_array_equal(out.blendshapes[:, others], motion.blendshapes[:, others])
    again, _ = postprocess(motion, settings, seed=0)
    other_seed, other_record = postprocess(motion, settings, seed=1)
    np.testing.assert_array_equal(again.blendshapes, out.blendshapes)
    assert other_record["blinks"]["peak_frames"] != peaks
    assert not np.array_equal(other_seed.blendshapes, out.blendshapes)


def test_no_blinks_are_added_when_the_input_blinks():
    motion = _motion(frames=30 * FPS)
    blendshapes = motion.blendshapes.copy()
    starts = range(40, motion.num_frames - 5, 90)  # a blink every 3.6 s
    for start in starts:
        blendshapes[start:start + 4, BLINK_INDICES] = [[0.3, 0.3], [0.9, 0.9], [0.8, 0.8], [0.2, 0.2]]
    motion = motion.replace(blendshapes=blendshapes)
    out, record = postprocess(motion, PostprocessSettings(), seed=0)
    assert not record["blinks"]["injected"] and record["blinks"]["input_blinks"] == count_blinks(blendshapes) == len(starts)
    np.testing.assert_array_equal(out.blendshapes, motion.blendshapes)


def test_seed_none_draws_a_seed_and_records_it():
    motion = _motion(frames=20 * FPS)
    out, record = postprocess(motion, PostprocessSettings(), seed=None)
    replay, _ = postprocess(motion, PostprocessSettings(), seed=record["blinks"]["seed"])
    np.testing.assert_array_equal(out.blendshapes, replay.blendshapes)


def test_clamping_holds_and_is_counted():
    motion = _motion()
    pose = motion.pose.copy()
    pose[10, 1] = 95.0  # yaw beyond the 60 degree limit
    pose[11, 3] = -2.0  # translation beyond half a face box
    motion = motion.replace(pose=pose)
    with pytest.warns(FaceParameterWarning):
        out, record = postprocess(motion, _plain(dynamic_scale=3.0), seed=0)
    assert out.blendshapes.min() >= 0.0 and out.blendshapes.max() <= 1.0
    assert out.blendshapes[:, MOUTH_INDICES].max() == 1.0  # 3 x 0.4.. reached the top
    assert out.pose[10, 1] == 60.0 and out.pose[11, 3] == -0.5
    assert np.all(np.abs(out.pose) <= np.array(record["clamped"]["pose_limits"]))
    assert record["clamped"]["blendshapes"] > 0 and record["clamped"]["pose"] == 2


@pytest.mark.parametrize("overrides, warns", [
    ({"dynamic_scale": 2.5}, True), ({"dynamic_scale": 0.3}, True), ({"motion_scale": 2.5}, True),
    ({"dynamic_scale": 0.5, "motion_scale": 0.0}, False), ({"dynamic_scale": 2.0, "motion_scale": 2.0}, False),
])
def test_warnings_outside_safe_ranges(overrides, warns):
    settings = _plain(**overrides)
    if warns:
        with pytest.warns(FaceParameterWarning, match="outside its safe range"):
            _, record = postprocess(_motion(frames=50), settings, seed=0)
        assert record["warnings"]
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, record = postprocess(_motion(frames=50), settings, seed=0)
        assert record["warnings"] == []


@pytest.mark.parametrize("overrides, message", [
    ({"dynamic_scale": -1.0}, "mirrors"), ({"motion_scale": float("nan")}, "finite"),
    ({"smoothing": {"method": "gaussian"}}, "smoothing.method"), ({"smoothing": {"pose": 1.5}}, r"\[0, 1\]"),
    ({"blink_duration_sec": (0.1, 3.0)}, "overlap"),
])
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        PostprocessSettings(**overrides)


def test_style_presets_load_by_name_and_through_hydra():
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from sonicsynth.utils.hydra_config import CONFIG_DIR

    assert {"news_anchor", "live_commerce", "children"} <= set(style_names())
    styles = {name: load_style(name) for name in ("news_anchor", "live_commerce", "children")}
    for name, settings in styles.items():
        assert settings.style == name
        assert instantiate(OmegaConf.load(CONFIG_DIR / "face_style" / f"{name}.yaml")) == settings
        out, record = postprocess(_motion(), settings, seed=0)
        assert record["style"] == name and not record["warnings"]  # presets stay inside the safe ranges
    calm, lively, kids = styles["news_anchor"], styles["live_commerce"], styles["children"]
    assert calm.motion_scale < 1.0 < lively.motion_scale < kids.motion_scale
    assert calm.dynamic_scale < lively.dynamic_scale < kids.dynamic_scale
    assert calm.smoothing.pose > lively.smoothing.pose and calm.smoothing.upper_face > kids.smoothing.upper_face
    with pytest.raises(ValueError, match="known styles: .*news_anchor"):
        load_style("opera")
    with pytest.raises(ValueError, match="unknown face post-processing settings"):
        settings_from_config({"dynamic_scale": 1.0, "mouth_gain": 2.0})
