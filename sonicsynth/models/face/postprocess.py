"""Post-processing of predicted face motion: the user-facing face parameters, applied and logged.

`postprocess(motion, settings, seed=...)` returns the processed `FaceMotion` and a record of exactly
what was applied (effective filter parameters, blink frames, the frame shift, how many values were
clamped, warnings), which the talking-face pipeline writes into the generation log. Steps, in order:

1. Gains. `dynamic_scale` scales the mouth channels (jaw*, mouth*, cheekPuff, tongueOut) about
   their rest value 0 (the ARKit neutral face), so 0 is a closed, neutral mouth and 2 doubles every
   opening. `motion_scale` scales the other expression channels about 0 as well, and the head pose
   about the sequence's *mean* pose: the mean carries where the portrait's head points and sits in
   the frame, which is the reference image's framing, not motion; scaling about zero would turn or
   move a portrait photographed off-axis, and `motion_scale=0` would snap its head to frontal
   instead of holding it still. The blink channels are not scaled: a blink is an event, and a
   half-closed blink reads as drooping eyelids, not as a calmer face.
2. Smoothing, one method with a separate strength (0 = off, 1 = strongest) for the upper face, the
   lower face (= mouth channels) and the pose. Blinks are not smoothed, for the same reason.
   - `ema`: exponential moving average run forward and then backward (zero phase: a causal EMA
     would delay the mouth against the audio), alpha = 1 - 0.9 * strength.
   - `savgol`: Savitzky-Golay (scipy), window 2 * round(6 * strength) + 1 frames (up to 13 frames
     = 0.52 s) with `savgol_polyorder`; a local polynomial fit keeps the peaks of mouth openings
     better than an average of the same width.
   - `one_euro`: the One-Euro filter (Casiez, Roussel and Vogel, CHI 2012), an adaptive low-pass
     whose cutoff rises with speed (little lag in fast motion, strong smoothing when still). It is
     causal, as published, so it also suits streaming; cutoff = `one_euro_min_cutoff` / strength
     + `one_euro_beta` * |filtered speed per second|, speed filtered at `one_euro_d_cutoff` Hz.
3. Blink injection. Speech-driven models rarely produce blinks, and a face that never blinks looks
   dead. If the input has fewer than `blink_min_per_minute` blinks (a blink = the mean of
   eyeBlinkLeft/Right rising above 0.5), blinks are added with inter-blink intervals drawn
   uniformly from `blink_interval_sec` (default 2-10 s, the typical spacing of spontaneous blinks
   in adults) and durations from `blink_duration_sec` (default 0.1-0.4 s, the typical duration of a
   spontaneous blink). The lid closes in the first third of the blink and reopens in the remaining
   two thirds (closing is the faster phase), each phase a raised-cosine half, and a frame always
   falls on the full closure. Injected blinks are combined with the input by maximum. Seeded: the
   same seed (0 included) gives the same blinks; `seed=None` draws one and records it.
4. `alignment_offset_sec`: every curve (blendshapes and pose) is shifted against the audio by
   exactly round(offset * fps) frames (rounding half away from zero), positive = motion later; the
   frames shifted in repeat the edge frame, and the length stays that of the audio.
5. Clamping: blendshapes to [0, 1]; pose to +-`pose_limits` (default pitch 45, yaw 60, roll 45
   degrees and 0.5 face-box sizes of translation): beyond them a portrait-driven renderer has to
   invent the hidden side of the head.

The settings also carry the preset's `pose_refinement` (strength and emphasis-nod size of
`pose_refinement.refine_pose`). `postprocess` does not apply it: the refinement needs the text, and
it runs on the post-processed motion, so that a preset's nod size is the nod the viewer sees (not
scaled again by `motion_scale` nor flattened by the pose smoothing).

Gains outside their safe range (`DYNAMIC_SCALE_SAFE`, `MOTION_SCALE_SAFE`) are applied, with a
`FaceParameterWarning`; negative gains (mirrored motion) are refused. Named style presets live in
`configs/face_style/<name>.yaml` (a Hydra config group, `face_style=news_anchor`) and load from
Python with `load_style(name)`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from scipy.signal import lfilter, savgol_filter

from sonicsynth.models.face.blendshapes import (
    BLINK_INDICES,
    MOUTH_INDICES,
    NUM_BLENDSHAPES,
    UPPER_FACE_INDICES,
    FaceMotion,
)

DYNAMIC_SCALE_SAFE = (0.5, 2.0)
MOTION_SCALE_SAFE = (0.0, 2.0)
SMOOTHING_METHODS = ("none", "ema", "savgol", "one_euro")
SAVGOL_MAX_HALF_WINDOW = 6  # frames; window 13 = 0.52 s at 25 fps at strength 1
EMA_MAX_SMOOTHING = 0.9  # alpha = 1 - 0.9 * strength
BLINK_THRESHOLD = 0.5

_NOT_BLINK = np.setdiff1d(np.arange(NUM_BLENDSHAPES), BLINK_INDICES)
MOUTH_SCALED = MOUTH_INDICES
MOTION_SCALED = np.setdiff1d(_NOT_BLINK, MOUTH_INDICES)  # upper face without the blinks
UPPER_SMOOTHED = np.setdiff1d(UPPER_FACE_INDICES, BLINK_INDICES)


class FaceParameterWarning(UserWarning):
    """A face parameter outside its documented safe range (applied anyway)."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _range(value: Any, what: str, *, positive: bool = True) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{what} must be a (low, high) pair, got {value!r}")
    low, high = (_number(v, what) for v in value)
    if low > high or (positive and low <= 0):
        raise ValueError(f"{what} must satisfy 0 < low <= high, got {value!r}")
    return low, high


@dataclass
class Smoothing:
    """One smoothing method and its strength per region (0 = off, 1 = strongest); see the module docstring."""

    method: str = "none"
    upper_face: float = 0.0
    lower_face: float = 0.0
    pose: float = 0.0
    savgol_polyorder: int = 2
    one_euro_min_cutoff: float = 1.0  # Hz at strength 1
    one_euro_beta: float = 0.1  # Hz per (channel unit per second)
    one_euro_d_cutoff: float = 1.0  # Hz

    def __post_init__(self) -> None:
        if self.method not in SMOOTHING_METHODS:
            raise ValueError(f"smoothing.method must be one of {', '.join(SMOOTHING_METHODS)}, got {self.method!r}")
        for region in ("upper_face", "lower_face", "pose"):
            strength = _number(getattr(self, region), f"smoothing.{region}")
            if not 0.0 <= strength <= 1.0:
                raise ValueError(f"smoothing.{region} is a strength in [0, 1], got {strength}")
            setattr(self, region, strength)
        if isinstance(self.savgol_polyorder, bool) or not isinstance(self.savgol_polyorder, (int, np.integer)) \
                or self.savgol_polyorder < 0:
            raise ValueError(f"smoothing.savgol_polyorder must be a non-negative integer, got {self.savgol_polyorder!r}")
        for name in ("one_euro_min_cutoff", "one_euro_d_cutoff"):
            if _number(getattr(self, name), f"smoothing.{name}") <= 0:
                raise ValueError(f"smoothing.{name} is a cutoff in Hz and must be > 0, got {getattr(self, name)}")
        if _number(self.one_euro_beta, "smoothing.one_euro_beta") < 0:
            raise ValueError(f"smoothing.one_euro_beta must be >= 0, got {self.one_euro_beta}")


@dataclass
class PoseRefinementSettings:
    """How strongly the text context adjusts the head (the rules are in `pose_refinement`).

    `strength` scales every rule together (0 = the input exactly, 1 = the documented magnitudes);
    `emphasis_nod_degrees` is the peak pitch-down of a nod on an emphasised word at strength 1 and
    `nod_duration_sec` its length, so a preset can pair small calm nods with a calm face.
    """

    strength: float = 1.0
    emphasis_nod_degrees: float = 4.0
    nod_duration_sec: float = 0.36

    def __post_init__(self) -> None:
        self.strength = _number(self.strength, "pose_refinement.strength")
        if self.strength < 0:
            raise ValueError(f"pose_refinement.strength must be >= 0 (a negative strength reverses every rule), "
                             f"got {self.strength}")
        self.emphasis_nod_degrees = _number(self.emphasis_nod_degrees, "pose_refinement.emphasis_nod_degrees")
        if not 0.0 <= self.emphasis_nod_degrees <= 15.0:
            raise ValueError(f"pose_refinement.emphasis_nod_degrees is a nod in degrees, 0..15, "
                             f"got {self.emphasis_nod_degrees}")
        self.nod_duration_sec = _number(self.nod_duration_sec, "pose_refinement.nod_duration_sec")
        if not 0.1 <= self.nod_duration_sec <= 1.0:
            raise ValueError(f"pose_refinement.nod_duration_sec must be 0.1..1.0 s, got {self.nod_duration_sec}")


@dataclass
class PostprocessSettings:
    """Every face post-processing parameter; a style preset is one of these with a `style` name."""

    dynamic_scale: float = 1.0
    motion_scale: float = 1.0
    smoothing: Smoothing = field(default_factory=Smoothing)
    inject_blinks: bool = True
    blink_min_per_minute: float = 3.0
    blink_interval_sec: tuple[float, float] = (2.0, 10.0)
    blink_duration_sec: tuple[float, float] = (0.1, 0.4)
    alignment_offset_sec: float = 0.0
    pose_limits: tuple[float, float, float, float, float, float] = (45.0, 60.0, 45.0, 0.5, 0.5, 0.5)
    pose_refinement: PoseRefinementSettings = field(default_factory=PoseRefinementSettings)
    style: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.smoothing, Mapping):  # from YAML / Hydra
            self.smoothing = Smoothing(**dict(self.smoothing))
        if not isinstance(self.smoothing, Smoothing):
            raise ValueError(f"smoothing must be a Smoothing or a mapping of its fields, got {self.smoothing!r}")
        if isinstance(self.pose_refinement, Mapping):
            self.pose_refinement = PoseRefinementSettings(**dict(self.pose_refinement))
        if not isinstance(self.pose_refinement, PoseRefinementSettings):
            raise ValueError("pose_refinement must be a PoseRefinementSettings or a mapping of its fields, "
                             f"got {self.pose_refinement!r}")
        for name in ("dynamic_scale", "motion_scale"):
            gain = _number(getattr(self, name), name)
            if gain < 0:
                raise ValueError(f"{name} is a gain and must be >= 0 (a negative gain mirrors the motion), got {gain}")
            setattr(self, name, gain)
        self.alignment_offset_sec = _number(self.alignment_offset_sec, "alignment_offset_sec")
        if _number(self.blink_min_per_minute, "blink_min_per_minute") < 0:
            raise ValueError(f"blink_min_per_minute must be >= 0, got {self.blink_min_per_minute}")
        self.blink_interval_sec = _range(self.blink_interval_sec, "blink_interval_sec")
        self.blink_duration_sec = _range(self.blink_duration_sec, "blink_duration_sec")
        if self.blink_duration_sec[1] >= self.blink_interval_sec[0]:
            raise ValueError(
                f"blink_duration_sec {self.blink_duration_sec} must end before the shortest interval "
                f"{self.blink_interval_sec[0]} s, or blinks overlap"
            )
        limits = tuple(_number(v, "pose_limits") for v in self.pose_limits)
        if len(limits) != 6 or min(limits) <= 0:
            raise ValueError(f"pose_limits must be six positive bounds (pitch, yaw, roll, tx, ty, tz), got {self.pose_limits!r}")
        self.pose_limits = limits  # type: ignore[assignment]

    def safety_warnings(self) -> list[str]:
        """Messages for gains outside their safe ranges (empty when all are inside)."""
        messages = []
        for name, (low, high) in (("dynamic_scale", DYNAMIC_SCALE_SAFE), ("motion_scale", MOTION_SCALE_SAFE)):
            value = getattr(self, name)
            if not low <= value <= high:
                messages.append(f"{name}={value:g} is outside its safe range [{low:g}, {high:g}]; "
                                "the motion may look unnatural")
        return messages


# --- smoothing filters on (frames, channels) float64 arrays -------------------------------------------

def ema_zero_phase(x: np.ndarray, strength: float) -> tuple[np.ndarray, dict[str, float]]:
    """Forward-then-backward EMA, each pass started on its first sample (no pull towards zero)."""
    alpha = 1.0 - EMA_MAX_SMOOTHING * strength
    b, a = [alpha], [1.0, -(1.0 - alpha)]
    forward, _ = lfilter(b, a, x, axis=0, zi=(1.0 - alpha) * x[:1])
    backward, _ = lfilter(b, a, forward[::-1], axis=0, zi=(1.0 - alpha) * forward[-1:])
    return backward[::-1], {"alpha": alpha}


def savgol(x: np.ndarray, strength: float, polyorder: int) -> tuple[np.ndarray, dict[str, float]]:
    """Savitzky-Golay with a window from the strength, shrunk to fit a short sequence."""
    window = 2 * round(SAVGOL_MAX_HALF_WINDOW * strength) + 1
    longest_odd = len(x) if len(x) % 2 else len(x) - 1
    window = min(window, longest_odd)
    if window <= polyorder:  # too short to fit the polynomial: nothing to smooth
        return x, {"window": 1, "polyorder": polyorder}
    return savgol_filter(x, window, polyorder, axis=0, mode="interp"), {"window": window, "polyorder": polyorder}


def one_euro(x: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """One-Euro filter (Casiez et al. 2012) over every column, causal, started on the first sample.

    Each step low-passes the speed at `d_cutoff`, sets the cutoff to min_cutoff + beta * |speed| and
    low-passes the value at that cutoff; alpha = 1 / (1 + tau / Te), tau = 1 / (2 pi fc), Te = 1/fps.
    """
    period = 1.0 / fps

    def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * period))

    out = np.empty_like(x)
    out[0] = x[0]
    speed = np.zeros(x.shape[1:])
    alpha_d = alpha(d_cutoff)
    for t in range(1, len(x)):
        raw_speed = (x[t] - out[t - 1]) * fps
        speed = speed + alpha_d * (raw_speed - speed)
        a = alpha(min_cutoff + beta * np.abs(speed))
        out[t] = out[t - 1] + a * (x[t] - out[t - 1])
    return out


def smooth(x: np.ndarray, strength: float, settings: Smoothing, fps: float) -> tuple[np.ndarray, dict[str, Any]]:
    """One region's curves smoothed by `settings.method` at `strength`; returns them and the effective parameters."""
    if settings.method == "none" or strength == 0.0 or x.shape[1] == 0:
        return x, {"strength": 0.0}
    x = x.astype(np.float64)
    if settings.method == "ema":
        out, params = ema_zero_phase(x, strength)
    elif settings.method == "savgol":
        out, params = savgol(x, strength, settings.savgol_polyorder)
    else:
        min_cutoff = settings.one_euro_min_cutoff / strength
        out = one_euro(x, fps, min_cutoff, settings.one_euro_beta, settings.one_euro_d_cutoff)
        params = {"min_cutoff": min_cutoff, "beta": settings.one_euro_beta, "d_cutoff": settings.one_euro_d_cutoff}
    return out, {"strength": strength, **params}


# --- blinks ---------------------------------------------------------------------------------------------

def count_blinks(blendshapes: np.ndarray) -> int:
    """Blink events: times the mean of eyeBlinkLeft/Right rises above 0.5 (a clip starting closed counts one)."""
    closed = blendshapes[:, BLINK_INDICES].mean(axis=1) > BLINK_THRESHOLD
    return int(closed[0]) + int(np.count_nonzero(closed[1:] & ~closed[:-1]))


def blink_shape(times: np.ndarray, onset: float, duration: float) -> np.ndarray:
    """Lid closure 0..1 at `times` (s) of a blink starting at `onset`: raised-cosine close in the first
    third, raised-cosine reopening in the other two thirds, 0 outside."""
    closing = duration / 3.0
    t = times - onset
    shape = np.zeros_like(times)
    rise = (t >= 0) & (t < closing)
    fall = (t >= closing) & (t <= duration)
    shape[rise] = 0.5 * (1.0 - np.cos(math.pi * t[rise] / closing))
    shape[fall] = 0.5 * (1.0 + np.cos(math.pi * (t[fall] - closing) / (duration - closing)))
    return shape


def blink_track(num_frames: int, fps: float, rng: np.random.Generator, interval_sec: tuple[float, float],
                duration_sec: tuple[float, float]) -> tuple[np.ndarray, list[int]]:
    """A (frames,) lid-closure curve with randomly timed blinks, and the frames of full closure.

    The first blink comes after a random fraction of a first interval (as if the clip started in the
    middle of one), later ones after fresh intervals; a blink that would not end inside the clip is
    dropped. Peaks are put on frames, so every blink reaches full closure on at least one frame.
    """
    times = np.arange(num_frames) / fps
    track = np.zeros(num_frames)
    peaks: list[int] = []
    onset = rng.uniform(0.0, 1.0) * rng.uniform(*interval_sec)
    while True:
        duration = rng.uniform(*duration_sec)
        peak_frame = math.ceil((onset + duration / 3.0) * fps)
        start = peak_frame / fps - duration / 3.0
        if start + duration > times[-1]:
            break
        track = np.maximum(track, blink_shape(times, start, duration))
        peaks.append(int(peak_frame))
        onset = start + rng.uniform(*interval_sec)
    return track, peaks


# --- alignment and clamping -----------------------------------------------------------------------------

def offset_frames(offset_sec: float, fps: float) -> int:
    """round(offset * fps), half away from zero, after removing float noise (0.06 * 25 = 1.4999...)."""
    frames = round(offset_sec * fps, 6)
    return int(math.copysign(math.floor(abs(frames) + 0.5), frames))


def shift_frames(curves: np.ndarray, frames: int) -> np.ndarray:
    """Curves delayed by `frames` (> 0: later, < 0: earlier), the gap filled with the edge frame."""
    if frames == 0:
        return curves.copy()
    if abs(frames) >= len(curves):
        raise ValueError(f"a shift of {frames} frames leaves nothing of a {len(curves)}-frame sequence")
    if frames > 0:
        return np.concatenate([np.repeat(curves[:1], frames, axis=0), curves[:-frames]])
    return np.concatenate([curves[-frames:], np.repeat(curves[-1:], -frames, axis=0)])


# --- the whole chain ------------------------------------------------------------------------------------

def postprocess(motion: FaceMotion, settings: PostprocessSettings | None = None, *,
                seed: int | None = None) -> tuple[FaceMotion, dict[str, Any]]:
    """Apply `settings` to `motion`; returns the new motion and the record for the generation log."""
    settings = settings or PostprocessSettings()
    fps = float(motion.fps)
    record: dict[str, Any] = {"style": settings.style, "fps": fps, "frames": motion.num_frames,
                              "settings": asdict(settings)}
    messages = settings.safety_warnings()
    for message in messages:
        warnings.warn(message, FaceParameterWarning, stacklevel=2)
    record["warnings"] = list(messages)

    blendshapes = motion.blendshapes.astype(np.float64)
    pose = motion.pose.astype(np.float64)

    # 1. gains: blendshapes about their rest value 0, pose about its mean (the portrait's framing)
    blendshapes[:, MOUTH_SCALED] *= settings.dynamic_scale
    blendshapes[:, MOTION_SCALED] *= settings.motion_scale
    mean_pose = pose.mean(axis=0, keepdims=True)
    pose = mean_pose + settings.motion_scale * (pose - mean_pose)
    record["gains"] = {"dynamic_scale": settings.dynamic_scale, "motion_scale": settings.motion_scale,
                       "blendshapes_about": 0.0, "pose_about": mean_pose[0].tolist()}

    # 2. smoothing per region
    smoothing = settings.smoothing
    applied: dict[str, Any] = {"method": smoothing.method}
    for region, strength, columns in (("upper_face", smoothing.upper_face, UPPER_SMOOTHED),
                                      ("lower_face", smoothing.lower_face, MOUTH_INDICES)):
        blendshapes[:, columns], applied[region] = smooth(blendshapes[:, columns], strength, smoothing, fps)
    pose, applied["pose"] = smooth(pose, smoothing.pose, smoothing, fps)
    record["smoothing"] = applied

    # 3. blinks, only where the model produced (almost) none
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)
    input_blinks = count_blinks(blendshapes)
    per_minute = input_blinks / (motion.duration / 60.0)
    inject = settings.inject_blinks and per_minute < settings.blink_min_per_minute
    blinks: dict[str, Any] = {"input_blinks": input_blinks, "input_per_minute": per_minute,
                              "injected": bool(inject), "seed": seed, "peak_frames": []}
    if inject:
        track, peaks = blink_track(motion.num_frames, fps, np.random.default_rng(seed),
                                   settings.blink_interval_sec, settings.blink_duration_sec)
        blendshapes[:, BLINK_INDICES] = np.maximum(blendshapes[:, BLINK_INDICES], track[:, None])
        blinks["peak_frames"] = peaks
    record["blinks"] = blinks

    # 4. lip-sync calibration
    shift = offset_frames(settings.alignment_offset_sec, fps)
    blendshapes, pose = shift_frames(blendshapes, shift), shift_frames(pose, shift)
    record["alignment"] = {"offset_sec": settings.alignment_offset_sec, "offset_frames": shift}

    # 5. clamping
    limits = np.asarray(settings.pose_limits)
    clamped = {"blendshapes": int(np.count_nonzero((blendshapes < 0) | (blendshapes > 1))),
               "pose": int(np.count_nonzero(np.abs(pose) > limits))}
    blendshapes = np.clip(blendshapes, 0.0, 1.0)
    pose = np.clip(pose, -limits, limits)
    record["clamped"] = {**clamped, "pose_limits": limits.tolist()}

    return motion.replace(blendshapes=blendshapes.astype(np.float32), pose=pose.astype(np.float32)), record


# --- style presets --------------------------------------------------------------------------------------

def _style_dir() -> Path:
    from sonicsynth.utils.hydra_config import CONFIG_DIR

    return CONFIG_DIR / "face_style"


def style_names() -> list[str]:
    """Presets available in configs/face_style/."""
    return sorted(path.stem for path in _style_dir().glob("*.yaml"))


def settings_from_config(config: Mapping[str, Any]) -> PostprocessSettings:
    """Settings from a face_style config (YAML mapping or Hydra node); `_target_` and unknown keys are handled."""
    values = {key: value for key, value in dict(config).items() if not str(key).startswith("_")}
    known = {f.name for f in fields(PostprocessSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown face post-processing settings {unknown}; known: {sorted(known)}")
    return PostprocessSettings(**values)


def load_style(name: str) -> PostprocessSettings:
    """The named preset from configs/face_style/<name>.yaml (the same file Hydra's `face_style=<name>` uses)."""
    from omegaconf import OmegaConf

    path = _style_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown face style {name!r}; known styles: {', '.join(style_names())}")
    config = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    try:
        return settings_from_config(config)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from error
