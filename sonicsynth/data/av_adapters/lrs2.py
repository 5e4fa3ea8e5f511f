"""LRS2 (BBC lip reading sentences; `main` or `pretrain`): face-centred clips with transcripts.

Layout (the root is the `main` or `pretrain` folder)::

    <root>/5535415699068794046/00001.mp4
    <root>/5535415699068794046/00001.txt     Text:  WHEN YOU LOOK AT THE RECORDS
                                             Conf:  4
                                             (word timings follow in pretrain)

The text is what follows `Text:` on the first line (upper case, as published). LRS2 names no
speakers, so the speaker is the programme (the video-id folder): one programme can show several
people. A clip without its .txt, or whose .txt does not start with `Text:`, is reported.
"""

from __future__ import annotations

from pathlib import Path

from sonicsynth.data.adapters.base import Problem, clean_text, list_files, read_lines, require_dir, safe_name
from sonicsynth.data.av_adapters.base import VIDEO_PATTERN, VideoCandidate, VideoCorpusScan

TEXT_FIELD = "Text:"


def read_text(path: Path, problems: list[Problem]) -> str | None:
    """The transcript of an LRS2 .txt file, or None (with a problem) if it has none."""
    first = next(read_lines(path, problems), None)
    if first is None or not first[1].startswith(TEXT_FIELD):
        problems.append(Problem(path, f"first line does not start with {TEXT_FIELD!r}", 1))
        return None
    text = clean_text(first[1][len(TEXT_FIELD):])
    if not text:
        problems.append(Problem(path, "empty text", first[0]))
    return text or None


def scan(root: Path, language: str = "en") -> VideoCorpusScan:
    require_dir(root, "LRS2 folder")
    result = VideoCorpusScan()
    for video in list_files(root, f"*/{VIDEO_PATTERN}"):
        transcript = video.with_suffix(".txt")
        if not transcript.is_file():
            result.problems.append(Problem(video, f"transcript missing: {transcript}"))
            continue
        text = read_text(transcript, result.problems)
        if text is None:
            continue
        programme = video.parent.name
        result.candidates.append(VideoCandidate(safe_name(f"{programme}_{video.stem}"), video, safe_name(programme),
                                                language, text, transcript))
    return result
