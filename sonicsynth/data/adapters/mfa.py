"""Montreal Forced Aligner corpus folders: audio with a transcript file of the same name beside it.

    <root>/<speaker>/<utterance>.wav   + <utterance>.lab or <utterance>.txt
    <root>/<utterance>.wav             files directly in <root> belong to a speaker named after <root>

Audio is .wav or .flac. When both a .lab and a .txt exist the .lab is used. The
speaker is the name of the folder holding the file; ids are `<speaker>-<utterance>` because speaker
folders commonly reuse the same file names (001.wav). Names that are not filesystem-safe are made
safe with `safe_name`. The corpus has a single `language`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sonicsynth.data.adapters.base import (
    Candidate,
    CorpusScan,
    Problem,
    list_files,
    read_transcript,
    require_dir,
    safe_name,
)

AUDIO_SUFFIXES = (".wav", ".flac")
TRANSCRIPT_SUFFIXES = (".lab", ".txt")  # in order of preference


def scan(root: Path, language: str = "en") -> CorpusScan:
    require_dir(root, "MFA corpus folder")
    files_by_stem: dict[Path, dict[str, Path]] = defaultdict(dict)
    for path in list_files(root, "**/*"):
        if path.suffix.lower() in AUDIO_SUFFIXES + TRANSCRIPT_SUFFIXES:
            files_by_stem[path.with_suffix("")][path.suffix.lower()] = path

    result = CorpusScan()
    for stem, files in sorted(files_by_stem.items()):
        audio = next((files[suffix] for suffix in AUDIO_SUFFIXES if suffix in files), None)
        transcript = next((files[suffix] for suffix in TRANSCRIPT_SUFFIXES if suffix in files), None)
        if transcript is None:
            assert audio is not None  # every stem comes from an audio or a transcript file
            result.problems.append(Problem(audio, "audio without transcript (no .lab or .txt beside it)"))
            continue
        text = read_transcript(transcript, result.problems)
        if text is None:
            continue
        speaker = safe_name(stem.parent.name)
        result.candidates.append(
            Candidate(
                id=f"{speaker}-{safe_name(stem.name)}",
                # A transcript without audio keeps the .wav it expects, reported as missing later.
                audio_file=audio if audio is not None else stem.with_name(f"{stem.name}.wav"),
                text=text,
                speaker=speaker,
                language=language,
                transcript=transcript,
            )
        )
    return result
