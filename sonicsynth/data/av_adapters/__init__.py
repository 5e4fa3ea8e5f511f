"""Talking-face video corpora in their published layouts -> a manifest with `video_path` set.

`make_av_manifest(layout, root, out_dir)` runs the adapter registered under `layout` in
`AV_ADAPTERS`, then, for every clip:

1. probes the video (a corrupt or unreadable file is a problem naming it);
2. extracts its first audio track as 16 kHz mono PCM to `<out_dir>/wavs/<speaker>/<id>.wav`
   (atomically; a video without audio is a problem, since every downstream model needs speech);
3. writes one `Utterance` per clip (duration from the exact sample count, `video_path` and
   `audio_path` relative to `out_dir`, the transcript in `text` or "" where the corpus has none),
   splits by `sonicsynth.data.splits.assign_splits`, to `<out_dir>/manifest.jsonl`, and every item
   left out to `<out_dir>/manifest.jsonl.problems.json`.

Layouts (see each module): hdtf (flat folder of mp4), voxceleb2 (<identity>/<youtube id>/<clip>.mp4),
lrs2 (<programme>/<clip>.mp4 beside <clip>.txt). Each takes the option `language`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from sonicsynth.data.adapters import problems_path
from sonicsynth.data.adapters.base import Problem
from sonicsynth.data.av_adapters import hdtf, lrs2, voxceleb2
from sonicsynth.data.av_adapters.base import VideoCandidate, VideoCorpusScan
from sonicsynth.data.manifest import Utterance, write_manifest
from sonicsynth.data.splits import SplitBy, assign_splits, check_split_options
from sonicsynth.utils.atomic import atomic_write
from sonicsynth.video.io import VideoError, probe_video, read_audio_track

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MANIFEST_NAME = "manifest.jsonl"

AV_ADAPTERS: dict[str, Callable[..., VideoCorpusScan]] = {
    "hdtf": hdtf.scan,
    "voxceleb2": voxceleb2.scan,
    "lrs2": lrs2.scan,
}


def extract_audio(video: Path, wav: Path, sample_rate: int = SAMPLE_RATE) -> int:
    """Write the video's audio as mono 16-bit PCM at `sample_rate` (atomically); returns the sample count.

    An existing wav newer than the video is reused, so re-running a preparation is cheap.
    """
    if wav.is_file() and wav.stat().st_mtime_ns >= video.stat().st_mtime_ns:
        return sf.info(str(wav)).frames
    samples = read_audio_track(video, sample_rate)
    if len(samples) == 0:
        raise VideoError(f"{video}: the audio track has no samples")
    with atomic_write(wav, "wb") as file:
        sf.write(file, samples, sample_rate, subtype="PCM_16", format="WAV")
    return len(samples)


def _describe(candidate: VideoCandidate, layout: str, out_dir: Path) -> Utterance | Problem:
    try:
        info = probe_video(candidate.video_file)
        if not info.has_audio:
            return Problem(candidate.video_file, "has no audio track")
        wav = out_dir / "wavs" / candidate.speaker / f"{candidate.id}.wav"
        samples = extract_audio(candidate.video_file, wav)
    except VideoError as error:
        return Problem(candidate.video_file, str(error).removeprefix(f"{candidate.video_file}: "))
    return Utterance(
        id=candidate.id, audio_path=os.path.relpath(wav, out_dir), text=candidate.text, speaker=candidate.speaker,
        language=candidate.language, duration=samples / SAMPLE_RATE, sample_rate=SAMPLE_RATE, source=layout,
        alignment_path=None, split="train", extras=dict(candidate.extras),
        video_path=os.path.relpath(candidate.video_file, out_dir),
    )


def make_av_manifest(layout: str, root: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
                     val_every: int | None = 10, test_every: int | None = None, split_by: SplitBy = "utterance",
                     seed: int = 0, progress: bool = True, **options: str) -> tuple[list[Utterance], list[Problem]]:
    """Write `<out_dir>/manifest.jsonl` for the corpus at `root` (module doc); returns utterances and problems."""
    if layout not in AV_ADAPTERS:
        raise ValueError(f"unknown video corpus layout {layout!r}; known: {', '.join(AV_ADAPTERS)}")
    check_split_options(val_every, test_every, split_by)
    root, out_dir = Path(os.path.abspath(root)), Path(os.path.abspath(out_dir))
    if not root.exists():
        raise FileNotFoundError(f"{layout} corpus not found: {root} does not exist")
    scan = AV_ADAPTERS[layout](root, **options)
    problems, utterances, seen = list(scan.problems), [], {}
    for candidate in tqdm(scan.candidates, desc=f"{layout}: audio", unit="video", disable=not progress):
        if candidate.id in seen:
            problems.append(Problem(candidate.video_file, f"duplicate id {candidate.id!r} (first: {seen[candidate.id]})"))
            continue
        seen[candidate.id] = candidate.video_file
        described = _describe(candidate, layout, out_dir)
        (problems if isinstance(described, Problem) else utterances).append(described)
    manifest = out_dir / MANIFEST_NAME
    problems.sort(key=lambda problem: (str(problem.path), problem.line or 0))
    with atomic_write(problems_path(manifest), "w") as file:
        json.dump([problem.to_json() for problem in problems], file, indent=1, ensure_ascii=False)
    if not utterances:
        raise ValueError(f"no usable clips in {root} ({len(problems)} problems, listed in {problems_path(manifest)})")
    utterances = assign_splits(utterances, val_every=val_every, test_every=test_every, by=split_by, seed=seed)
    write_manifest(manifest, utterances)
    log.info("%s: %d clips from %s, %d left out (see %s)", layout, len(utterances), root, len(problems),
             problems_path(manifest))
    return utterances, problems
