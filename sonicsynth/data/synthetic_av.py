"""The synthetic audio-visual corpus: drawn talking faces with exact motion targets.

For every utterance of a speech corpus with known phone timings (the demo corpus's engine timings),
the exact face motion is computed from its phone timeline and audio
(`sonicsynth.models.face.synthetic_targets`: coarticulated visemes, seeded blinks, a head that nods
with loudness, tilts with intonation and sways) and performed by a drawn face
(`sonicsynth.models.face.procedural_face`), written as a face-centred 224 x 224 H.264 video at 25 fps
with the utterance's audio as AAC. Each speaker is one identity: a face whose colours and
proportions are drawn once from (seed, speaker), so holding out a speaker holds out a voice and a
face together; each video gets its own background and placement.

Per utterance the corpus holds
    videos/<speaker>/<id>.mp4    the rendered face with the audio
    motion/<speaker>/<id>.npz    the exact targets: blendshapes (T, 52), pose (T, 6), fps
and a manifest whose lines add `video_path` and `extras.motion_path` / `extras.identity` to the
speech manifest's fields, so the face predictor, SyncNet and the lip-sync evaluation read it like any
audio-visual corpus. Deterministic: the same corpus and seed give the same videos and targets.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import Utterance, read_alignment, read_manifest, write_manifest
from sonicsynth.models.face.blendshapes import FPS, FaceMotion
from sonicsynth.models.face.procedural_face import FaceStyle, render_motion
from sonicsynth.models.face.synthetic_targets import SAMPLE_RATE, synthetic_face_motion
from sonicsynth.utils.atomic import atomic_write


def _stable_seed(seed: int, name: str) -> int:
    """A seed for one named thing (a speaker, an utterance) that does not depend on corpus order."""
    return seed * 1_000_003 + zlib.crc32(name.encode())


def identity_style(speaker: str, seed: int = 0) -> FaceStyle:
    """The face of one speaker's identity."""
    return FaceStyle.sample(np.random.default_rng(_stable_seed(seed, f"identity:{speaker}")))


def save_motion(path: Path, motion: FaceMotion) -> None:
    with atomic_write(path) as handle:
        np.savez(handle, blendshapes=motion.blendshapes, pose=motion.pose, fps=np.float32(motion.fps))


def load_motion(path: str | os.PathLike[str]) -> FaceMotion:
    with np.load(path) as arrays:
        return FaceMotion(arrays["blendshapes"], arrays["pose"], fps=float(arrays["fps"]), name=str(path))


def build_synthetic_av_corpus(
    speech_manifest: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    sources: Sequence[str] = ("mbrola", "festival"),
    max_items: int | None = None,
    progress: bool = True,
) -> Path:
    """Render a talking face and its exact motion for each utterance with phone timings; returns the
    new manifest.

    Only utterances whose `source` starts with one of `sources` are used: by default the engines
    whose timings the alignment benchmark trusts (flite's are off by up to ~100 ms for some voices).
    Videos and targets already written are kept, so an interrupted build resumes. Paths in the new
    manifest point back at the speech corpus's audio and timings.
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
    for utterance in tqdm(timed, desc="synthetic faces", disable=not progress):
        video = out_dir / "videos" / utterance.speaker / f"{utterance.id}.mp4"
        motion_file = out_dir / "motion" / utterance.speaker / f"{utterance.id}.npz"
        if not (video.exists() and motion_file.exists()):
            audio = load_audio(utterance.audio_file(speech_dir), sample_rate=SAMPLE_RATE)
            alignment = read_alignment(utterance.alignment_file(speech_dir))
            motion = synthetic_face_motion(alignment, audio.samples, _stable_seed(seed, utterance.id))
            style = identity_style(utterance.speaker, seed).with_framing(
                np.random.default_rng(_stable_seed(seed, f"framing:{utterance.id}"))
            )
            write_video(video, render_motion(style, motion), FPS, audio.samples, audio.sample_rate)
            save_motion(motion_file, motion)
        relative = {
            name: os.path.relpath(speech_dir / getattr(utterance, name), out_dir)
            for name in ("audio_path", "alignment_path")
        }
        extras = {**utterance.extras, "motion_path": str(motion_file.relative_to(out_dir)), "identity": utterance.speaker}
        lines.append(Utterance(**{
            **utterance.__dict__, **relative, "video_path": str(video.relative_to(out_dir)), "extras": extras,
        }))
    manifest = out_dir / "manifest.jsonl"
    write_manifest(manifest, lines)
    return manifest
