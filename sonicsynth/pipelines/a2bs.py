"""`python infer.py task=a2bs`: speech -> face motion files, a plot, a preview video and the log.

Steps: load the audio at 16 kHz -> the predictor (`audio_to_face.FacePredictor`; windows for long
clips) -> post-processing with the face parameters (`postprocess`: gains, smoothing, blinks,
`alignment_offset_sec`, clamping; a named `face_style` preset or explicit settings) -> optionally the
text-driven pose refinement (`pose_refinement`, when a transcript is given) -> outputs:

    <name>.json        the curves (`motion_io.write_motion_json`), with the settings as metadata
    <name>.csv         the Live Link Face CSV layout, for Unreal / Unity
    <name>.png         the main channels and the head pose over time
    <name>_preview.mp4 the drawn face (`procedural_face`) performing the motion, muxed with the audio
    <name>.log.json    the generation log: inputs and hashes, every parameter, what post-processing
                       and refinement did, notes (e.g. no speech), timings, output hashes
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sonicsynth.audio import load_audio
from sonicsynth.models.face.audio_features import SAMPLE_RATE
from sonicsynth.models.face.postprocess import PostprocessSettings, postprocess
from sonicsynth.pipelines.audio_to_face import FacePredictor
from sonicsynth.pipelines.generation_log import GenerationLog


def render_preview(path: str | Path, motion, samples: np.ndarray, seed: int = 0) -> Path:
    """The drawn face of identity `seed` performing `motion`, muxed with the 16 kHz `samples`."""
    from sonicsynth.data.synthetic_av import identity_style
    from sonicsynth.models.face.procedural_face import render_motion
    from sonicsynth.video import write_video

    style = identity_style("preview", seed)
    return write_video(path, render_motion(style, motion), motion.fps, samples, SAMPLE_RATE)


def a2bs(predictor: FacePredictor, audio_path: str | Path, output_dir: str | Path, parameters: dict[str, Any], *,
         settings: PostprocessSettings | None = None, text: str | None = None, emotion: str = "neutral",
         preview: bool = True, seed: int = 0, output_name: str | None = None, identity: str | None = None) -> Path:
    """Run the whole task; returns the generation log's path."""
    from sonicsynth.models.face.motion_io import plot_motion, write_live_link_csv, write_motion_json

    audio_path, output_dir = Path(audio_path), Path(output_dir)
    settings = settings or PostprocessSettings()
    log = GenerationLog("a2bs", parameters, seed)
    log.set_checkpoint(predictor.source)
    with log.timed("load_audio"):
        audio = load_audio(audio_path, sample_rate=SAMPLE_RATE)
    log.add_input(audio_path, duration_sec=len(audio.samples) / SAMPLE_RATE, notes=list(audio.notes))
    with log.timed("predict"):
        prediction = predictor.predict(audio.samples, name=str(audio_path), identity=identity)
    with log.timed("postprocess"):
        motion, record = postprocess(prediction.motion, settings, seed=seed)
    log.record["postprocess"] = record
    log.record["notes"] = list(prediction.notes) + list(record.get("warnings", []))
    if text is not None and str(text).strip():
        from sonicsynth.models.face.pose_refinement import build_pose_context, refine_pose

        with log.timed("pose_refinement"):
            context = build_pose_context(str(text), motion.duration, emotion=emotion)
            motion, refinement = refine_pose(motion, context, settings)
        log.record["pose_refinement"] = refinement

    name = output_name or audio_path.stem
    output_dir.mkdir(parents=True, exist_ok=True)
    meta = {"audio": str(audio_path), "checkpoint": log.record["checkpoint"].get("path"), "seed": seed,
            "style": settings.style}
    with log.timed("write"):
        outputs = [write_motion_json(output_dir / f"{name}.json", motion, meta),
                   write_live_link_csv(output_dir / f"{name}.csv", motion),
                   plot_motion(output_dir / f"{name}.png", motion, title=f"{name}: predicted face motion")]
    if preview:
        with log.timed("preview"):
            outputs.append(render_preview(output_dir / f"{name}_preview.mp4", motion, audio.samples, seed))
    for path in outputs:
        log.add_output(path, frames=motion.num_frames)
    return log.write(output_dir / f"{name}.log.json")
