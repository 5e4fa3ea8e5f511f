"""What every talking-face corpus adapter returns.

An adapter only lists files and reads transcripts: it returns `VideoCandidate`s (clips whose video
has not been opened yet) and `Problem`s (items it had to leave out, with the reason). Opening the
videos, extracting their audio and writing the manifest is the same for every layout
(`sonicsynth.data.av_adapters.make_av_manifest`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sonicsynth.data.adapters.base import Problem


@dataclass(frozen=True)
class VideoCandidate:
    id: str
    video_file: Path
    speaker: str
    language: str
    text: str = ""  # empty where the corpus has no transcripts (HDTF, VoxCeleb2)
    transcript: Path | None = None
    extras: dict[str, str] = field(default_factory=dict)


@dataclass
class VideoCorpusScan:
    candidates: list[VideoCandidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


VIDEO_PATTERN = "*.mp4"
