"""A synthetic talking-face corpus: drawn faces whose mouths follow the phone timeline of real speech.

Until the face pipeline has real talking-head data, lip-sync models (SyncNet) train and are tested on
this: for every utterance of a speech corpus with known phone timings (the demo corpus's engine
timings), a face-centred 224 x 224 video at 25 fps is drawn in which

- the mouth opening and width follow the utterance's visemes: each phone holds its target shape
  (`VISEME_SHAPES`) and the mouth moves to the next one in a `TRANSITION_SEC` linear ramp centred
  on the boundary; silence and bilabials close the mouth. (Interpolating between phone midpoints,
  a softer coarticulation model, blurred the sync cue so much that a small SyncNet did not learn
  within 10 CPU epochs);
- everything else varies independently of the audio, so that only the mouth carries sync: per video
  a random skin tone, background, face size and position; per frame a slow head drift and blinks.

The videos are H.264 with the utterance's audio as AAC (`sonicsynth.video.write_video`), listed in a
manifest whose lines add `video_path` to the speech manifest's fields, so the same evaluation path
that reads real videos reads these.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sonicsynth.align.base import SILENCE_PHONE
from sonicsynth.align.phone_sets import map_to_arpabet
from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import Alignment, Utterance, read_alignment, read_manifest, write_manifest

FPS = 25
FACE_SIZE = 224

# ARPAbet phone -> (opening 0-1, width 0-1): open vowels wide open, rounded vowels and W narrow,
# spread vowels wide; bilabials closed, labiodentals nearly closed.
VISEME_SHAPES: dict[str, tuple[float, float]] = {
    SILENCE_PHONE: (0.0, 0.5),
    **dict.fromkeys(("P", "B", "M"), (0.0, 0.45)),
    **dict.fromkeys(("F", "V"), (0.1, 0.5)),
    **dict.fromkeys(("TH", "DH"), (0.2, 0.5)),
    **dict.fromkeys(("T", "D", "N", "L", "S", "Z"), (0.25, 0.55)),
    **dict.fromkeys(("SH", "ZH", "CH", "JH"), (0.25, 0.35)),
    **dict.fromkeys(("K", "G", "NG", "HH", "Y"), (0.3, 0.5)),
    "R": (0.25, 0.35), "W": (0.15, 0.2), "ER": (0.4, 0.4),
    "AA": (1.0, 0.55), "AE": (0.8, 0.65), "AH": (0.65, 0.5), "AO": (0.8, 0.35), "AW": (0.85, 0.45),
    "AY": (0.9, 0.6), "EH": (0.6, 0.65), "EY": (0.5, 0.7), "IH": (0.4, 0.65), "IY": (0.3, 0.75),
    "OW": (0.6, 0.3), "OY": (0.7, 0.35), "UH": (0.4, 0.3), "UW": (0.3, 0.2),
}  # fmt: skip
_UNKNOWN_PHONE_SHAPE = (0.4, 0.5)  # spoken noise and anything unmapped: half open


TRANSITION_SEC = 0.04


def mouth_track(alignment: Alignment, num_frames: int, fps: float = FPS) -> np.ndarray:
    """(num_frames, 2) mouth opening and width at each frame's start time."""
    phones = map_to_arpabet(alignment.phones, alignment.phone_set)
    if not phones:
        raise ValueError(f"alignment from {alignment.source} has no phones")
    shapes = np.array([VISEME_SHAPES.get(p.phone, _UNKNOWN_PHONE_SHAPE) for p in phones])
    # Knots: each phone's shape from its start + half a transition to its end - half a transition
    # (phones shorter than a transition reach their shape only at their midpoint).
    knots, values = [], []
    for phone, shape in zip(phones, shapes, strict=True):
        half = min(TRANSITION_SEC, phone.end - phone.start) / 2
        knots += [phone.start + half, phone.end - half]
        values += [shape, shape]
    times = np.arange(num_frames) / fps
    values = np.array(values)
    return np.stack([np.interp(times, knots, values[:, k]) for k in range(2)], axis=1)


@dataclass(frozen=True)
class FaceStyle:
    """What one video's face looks like (BGR colours); drawn once per video from its seed."""

    background: tuple[int, int, int]
    skin: tuple[int, int, int]
    lips: tuple[int, int, int]
    face_radius: float  # half the face width, in pixels
    centre: tuple[float, float]
    drift_phase: float

    @classmethod
    def sample(cls, rng: np.random.Generator) -> FaceStyle:
        skin = rng.uniform([60, 90, 130], [190, 210, 240])
        return cls(
            background=tuple(int(c) for c in rng.integers(0, 256, 3)),
            skin=tuple(int(c) for c in skin),
            lips=tuple(int(c) for c in skin * rng.uniform([0.45, 0.35, 0.75], [0.6, 0.5, 0.9])),
            face_radius=float(rng.uniform(70, 90)),
            centre=(float(rng.uniform(104, 120)), float(rng.uniform(104, 120))),
            drift_phase=float(rng.uniform(0, 2 * np.pi)),
        )


def render_face(style: FaceStyle, opening: float, width: float, eyes_open: float, time: float) -> np.ndarray:
    """One 224 x 224 BGR frame: head, eyes, nose and a mouth of the given opening and width (0-1)."""
    frame = np.empty((FACE_SIZE, FACE_SIZE, 3), np.uint8)
    frame[:] = style.background
    # Slow head drift (period ~4 s), independent of speech.
    cx = style.centre[0] + 4 * np.sin(2 * np.pi * time / 4.1 + style.drift_phase)
    cy = style.centre[1] + 3 * np.sin(2 * np.pi * time / 3.3 + style.drift_phase)
    r = style.face_radius

    def point(dx: float, dy: float) -> tuple[int, int]:
        return int(round(cx + dx * r)), int(round(cy + dy * r))

    def axes(ax: float, ay: float) -> tuple[int, int]:
        return max(1, int(round(ax * r))), max(1, int(round(ay * r)))

    cv2.ellipse(frame, point(0, 0), axes(0.8, 1.0), 0, 0, 360, style.skin, -1, cv2.LINE_AA)
    for side in (-1, 1):
        cv2.ellipse(frame, point(0.32 * side, -0.25), axes(0.14, 0.02 + 0.07 * eyes_open), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)  # fmt: skip
        if eyes_open > 0.3:
            cv2.circle(frame, point(0.32 * side, -0.25), max(1, int(0.05 * r)), (40, 30, 20), -1, cv2.LINE_AA)
    cv2.line(frame, point(0, -0.15), point(0, 0.12), tuple(int(c * 0.8) for c in style.skin), 2, cv2.LINE_AA)
    half_width = 0.18 + 0.16 * width
    half_height = 0.04 + 0.2 * opening
    cv2.ellipse(frame, point(0, 0.45), axes(half_width, half_height), 0, 0, 360, style.lips, -1, cv2.LINE_AA)
    if opening > 0.05:  # the dark inside of the mouth, with a band of upper teeth
        inner = axes(half_width * 0.8, half_height * 0.75)
        cv2.ellipse(frame, point(0, 0.45), inner, 0, 0, 360, (25, 20, 45), -1, cv2.LINE_AA)
        cv2.ellipse(frame, point(0, 0.45 - half_height * 0.55), axes(half_width * 0.6, half_height * 0.2), 0, 0, 360, (230, 230, 235), -1, cv2.LINE_AA)  # fmt: skip
    return frame


def _blinks(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Eye openness per frame: open, with a 3-frame blink every 2-5 s."""
    eyes = np.ones(num_frames)
    frame = int(rng.integers(10, 60))
    while frame < num_frames:
        eyes[frame : frame + 3] = (0.3, 0.0, 0.3)[: max(0, min(3, num_frames - frame))]
        frame += int(rng.integers(50, 125))
    return eyes


def render_talking_face(alignment: Alignment, duration: float, seed: int) -> np.ndarray:
    """(frames, 224, 224, 3) BGR video covering `duration` seconds at 25 fps."""
    rng = np.random.default_rng(seed)
    style = FaceStyle.sample(rng)
    num_frames = int(np.ceil(duration * FPS))
    mouth = mouth_track(alignment, num_frames)
    eyes = _blinks(num_frames, rng)
    frames = [render_face(style, *mouth[i], eyes[i], i / FPS) for i in range(num_frames)]
    return np.stack(frames)


def build_synthetic_av_corpus(
    speech_manifest: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    sources: Sequence[str] = ("mbrola", "festival"),
    max_items: int | None = None,
    progress: bool = True,
) -> Path:
    """Render a talking-face video for each utterance with phone timings; returns the new manifest.

    Only utterances whose `source` starts with one of `sources` are used: by default the engines
    whose timings the alignment benchmark trusts (flite's are off by up to ~100 ms for some voices).
    Videos already rendered are kept, so an interrupted build resumes. Paths in the new manifest
    point back at the speech corpus's audio and timings.
    """
    from tqdm import tqdm

    from sonicsynth.video import write_video

    speech_manifest, out_dir = Path(speech_manifest), Path(out_dir)
    speech_dir = speech_manifest.parent
    timed = [
        u for u in read_manifest(speech_manifest) if u.alignment_path is not None and u.source.startswith(tuple(sources))
    ]
    if not timed:
        raise ValueError(f"{speech_manifest}: no utterance from {', '.join(sources)} has phone timings to animate")
    timed = timed[:max_items]
    lines: list[Utterance] = []
    for index, utterance in enumerate(tqdm(timed, desc="synthetic faces", disable=not progress)):
        video = out_dir / "videos" / utterance.speaker / f"{utterance.id}.mp4"
        if not video.exists():
            audio = load_audio(utterance.audio_file(speech_dir))
            alignment = read_alignment(utterance.alignment_file(speech_dir))
            frames = render_talking_face(alignment, utterance.duration, seed * 1_000_003 + index)
            write_video(video, frames, FPS, audio.samples, audio.sample_rate)
        relative = {
            name: os.path.relpath(speech_dir / getattr(utterance, name), out_dir)
            for name in ("audio_path", "alignment_path")
        }
        lines.append(
            Utterance(**{**utterance.__dict__, **relative, "video_path": str(video.relative_to(out_dir))})
        )
    manifest = out_dir / "manifest.jsonl"
    write_manifest(manifest, lines)
    return manifest
