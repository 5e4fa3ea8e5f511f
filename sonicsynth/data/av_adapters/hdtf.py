"""HDTF (High-Definition Talking Face): a flat folder of YouTube interview clips, no transcripts.

Layout::

    <root>/WDA_BarackObama_000.mp4
    <root>/RD_Radio1_000.mp4

The id is the file name without `.mp4`; the speaker is the id without its trailing `_<number>`
(the clip index of one source video), so the clips of one person share a speaker.
"""

from __future__ import annotations

import re
from pathlib import Path

from sonicsynth.data.adapters.base import list_files, require_dir, safe_name
from sonicsynth.data.av_adapters.base import VIDEO_PATTERN, VideoCandidate, VideoCorpusScan

_CLIP_INDEX = re.compile(r"_\d+$")


def scan(root: Path, language: str = "en") -> VideoCorpusScan:
    result = VideoCorpusScan()
    for video in list_files(require_dir(root, "HDTF folder"), VIDEO_PATTERN):
        speaker = _CLIP_INDEX.sub("", video.stem) or video.stem
        result.candidates.append(VideoCandidate(safe_name(video.stem), video, safe_name(speaker), language))
    return result
