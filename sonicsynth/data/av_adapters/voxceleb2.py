"""VoxCeleb2 (dev or test `mp4` part): celebrity interview clips, speaker-labelled, no transcripts.

Layout::

    <root>/id00012/21Uxsk56VDQ/00001.mp4
    <root>/id00012/21Uxsk56VDQ/00002.mp4
    <root>/id00015/0fijmz4vTVU/00001.mp4

The speaker is the identity folder (id00012); the id joins identity, YouTube video and clip
(id00012_21Uxsk56VDQ_00001). Interviews are in many languages, so `language` defaults to "und"
(ISO 639: undetermined). An mp4 at another depth is reported, not guessed at.
"""

from __future__ import annotations

from pathlib import Path

from sonicsynth.data.adapters.base import Problem, list_files, require_dir, safe_name
from sonicsynth.data.av_adapters.base import VIDEO_PATTERN, VideoCandidate, VideoCorpusScan


def scan(root: Path, language: str = "und") -> VideoCorpusScan:
    require_dir(root, "VoxCeleb2 folder")
    result = VideoCorpusScan()
    for video in list_files(root, f"**/{VIDEO_PATTERN}"):
        parts = video.relative_to(root).parts
        if len(parts) != 3:
            result.problems.append(Problem(video, "not in the VoxCeleb2 layout <identity>/<youtube id>/<clip>.mp4"))
            continue
        identity, youtube_id, _ = parts
        clip_id = safe_name(f"{identity}_{youtube_id}_{video.stem}")
        result.candidates.append(VideoCandidate(clip_id, video, safe_name(identity), language,
                                                extras={"youtube_id": youtube_id}))
    return result
