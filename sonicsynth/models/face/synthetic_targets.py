"""The exact face motion of a synthetic talking face: what the synthetic audio-visual corpus renders
and the predictor learns, made from an utterance's phone timeline and its audio alone.

- Mouth: `visemes.blendshape_targets` (coarticulated visemes of the phones).
- Eyes: seeded blinks (`postprocess.blink_track`: 2-10 s apart, 0.1-0.4 s long), both lids together.
- Head, driven by prosody as a speaker's head is:
  - pitch: a nod down with each rise in loudness (the syllable-rate energy envelope, smoothed over
    `NOD_SMOOTHING_SEC`), `NOD_DEGREES_PER_DB` of nod per dB above the utterance's median speech level;
  - roll: a tilt that follows the intonation, `ROLL_DEGREES_PER_SEMITONE` per semitone of F0 above
    the speaker's median (voiced frames only, held through unvoiced ones, at most `MAX_SEMITONES`);
  - yaw: a slow seeded sway (two sines of 3-7 s periods, +-`YAW_SWAY_DEGREES`) the audio does not explain;
  - translation: a small forward lean with loudness (tz), nothing else.
  Everything is computed at the 25 fps motion rate from 40 ms hops of the audio, so frame k of the
  motion and samples [640 k, 640 (k + 1)) of 16 kHz audio are the same instant.

Deterministic: the same utterance and seed give the same motion (0 is a seed).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from sonicsynth.audio.prosody import PitchConfig, extract_f0, frame_energy_db
from sonicsynth.data.manifest import Alignment
from sonicsynth.models.face.blendshapes import BLINK_INDICES, FPS, FaceMotion
from sonicsynth.models.face.postprocess import blink_track
from sonicsynth.models.face.visemes import blendshape_targets

SAMPLE_RATE = 16000
HOP = SAMPLE_RATE // FPS  # 640 samples: one motion frame
NOD_DEGREES_PER_DB = 0.35
NOD_SMOOTHING_SEC = 0.2
ROLL_DEGREES_PER_SEMITONE = 0.4
MAX_SEMITONES = 6.0  # larger excursions are the pitch tracker's octave errors, not intonation
YAW_SWAY_DEGREES = 3.0
LEAN_PER_DB = 0.002  # face-box sizes of forward lean per dB
SPEECH_FLOOR_DB = -45.0  # frames quieter than this are pauses: no nod, no lean
BLINK_INTERVAL_SEC = (2.0, 10.0)
BLINK_DURATION_SEC = (0.1, 0.4)


def _fit(values: np.ndarray, frames: int) -> np.ndarray:
    """`values` cut or edge-padded to `frames` (centred framing gives one value more or less)."""
    return values[:frames] if len(values) >= frames else np.pad(values, (0, frames - len(values)), mode="edge")


def head_pose(samples: np.ndarray, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """(num_frames, 6) pitch, yaw, roll (degrees) and tx, ty, tz of 16 kHz speech (module docstring)."""
    energy = _fit(frame_energy_db(samples, frame_length=2 * HOP, hop_length=HOP), num_frames)
    speech = energy > SPEECH_FLOOR_DB
    level = np.median(energy[speech]) if speech.any() else SPEECH_FLOOR_DB
    loudness = np.where(speech, np.maximum(energy - level, 0.0), 0.0)
    loudness = uniform_filter1d(loudness, size=max(1, round(NOD_SMOOTHING_SEC * FPS)), mode="nearest")

    f0, voiced = extract_f0(samples, PitchConfig(sample_rate=SAMPLE_RATE, hop_length=HOP, frame_length=1024))
    f0, voiced = _fit(f0, num_frames), _fit(voiced.astype(bool), num_frames)
    semitones = np.zeros(num_frames)
    if voiced.any():
        pitch = 12.0 * np.log2(np.maximum(f0, 1.0) / np.median(f0[voiced]))
        # Unvoiced frames hold the last voiced value (the head does not snap back between syllables).
        last = np.maximum.accumulate(np.where(voiced, np.arange(num_frames), 0))
        semitones = np.clip(np.where(voiced[last], pitch[last], 0.0), -MAX_SEMITONES, MAX_SEMITONES)

    times = np.arange(num_frames) / FPS
    periods, phases = rng.uniform(3.0, 7.0, 2), rng.uniform(0.0, 2 * np.pi, 2)
    yaw = YAW_SWAY_DEGREES / 2 * sum(np.sin(2 * np.pi * times / p + q) for p, q in zip(periods, phases))

    pose = np.zeros((num_frames, 6), dtype=np.float32)
    pose[:, 0] = -NOD_DEGREES_PER_DB * loudness  # pitch: negative = nodding down
    pose[:, 1] = yaw
    pose[:, 2] = ROLL_DEGREES_PER_SEMITONE * semitones
    pose[:, 5] = LEAN_PER_DB * loudness
    return pose


def synthetic_face_motion(alignment: Alignment, samples: np.ndarray, seed: int) -> FaceMotion:
    """The face motion of an utterance at 25 fps: one frame per 40 ms of its 16 kHz `samples`."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) < HOP:
        raise ValueError(f"need mono 16 kHz audio of at least one frame ({HOP} samples), got shape {samples.shape}")
    num_frames = int(np.ceil(len(samples) / HOP))
    rng = np.random.default_rng(seed)
    blendshapes = blendshape_targets(alignment, num_frames)
    lids, _ = blink_track(num_frames, FPS, rng, BLINK_INTERVAL_SEC, BLINK_DURATION_SEC)
    blendshapes[:, BLINK_INDICES] = lids[:, None]
    return FaceMotion(blendshapes=blendshapes, pose=head_pose(samples, num_frames, rng), fps=FPS)
