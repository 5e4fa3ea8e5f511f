"""LJSpeech 1.1: one English speaker, 13,100 clips at 22.05 kHz.

Layout::

    <root>/metadata.csv            LJ001-0001|raw text|normalized text   (no header, no quoting)
    <root>/wavs/LJ001-0001.wav

Ids are the LJSpeech ids; the speaker is "ljspeech". The text is the normalized column (numbers and
abbreviations spelled out) unless `text="raw"`.
"""

from __future__ import annotations

from pathlib import Path

from sonicsynth.data.adapters.base import (
    Candidate,
    CorpusScan,
    Problem,
    clean_text,
    list_files,
    orphan_audio,
    read_lines,
    require_dir,
    require_file,
)

SPEAKER = "ljspeech"
TEXT_COLUMNS = ("normalized", "raw")


def scan(root: Path, text: str = "normalized") -> CorpusScan:
    if text not in TEXT_COLUMNS:
        raise ValueError(f"LJSpeech text must be one of {TEXT_COLUMNS}, got {text!r}")
    metadata = require_file(root / "metadata.csv", "LJSpeech metadata file")
    wavs = require_dir(root / "wavs", "LJSpeech audio folder")
    result = CorpusScan()
    for line_number, line in read_lines(metadata, result.problems):
        fields = line.split("|")
        if len(fields) != 3:
            result.problems.append(
                Problem(
                    metadata, f"expected 3 '|'-separated fields (id|raw|normalized), found {len(fields)}", line_number
                )
            )
            continue
        utterance_id, raw, normalized = fields
        result.candidates.append(
            Candidate(
                id=utterance_id,
                audio_file=wavs / f"{utterance_id}.wav",
                text=clean_text(normalized if text == "normalized" else raw),
                speaker=SPEAKER,
                language="en",
                transcript=metadata,
                line=line_number,
            )
        )
    transcribed = {candidate.audio_file for candidate in result.candidates}
    result.problems += orphan_audio(list_files(wavs, "*.wav"), transcribed)
    return result
