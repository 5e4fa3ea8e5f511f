"""AISHELL-3: Mandarin, 218 speakers, 44.1 kHz.

Layout (`train` and `test` are the published speaker-disjoint parts; either may be absent)::

    <root>/train/content.txt               SSB00050001.wav<TAB>广 guang3 州 zhou1 女 nv3 ...
    <root>/train/wav/SSB0005/SSB00050001.wav
    <root>/test/content.txt, <root>/test/wav/...

A transcript alternates Chinese characters and their tone-numbered pinyin; the manifest text is the
characters joined without spaces. Ids are the file names without extension; the speaker is the
first seven characters of the id (SSB + four digits).
"""

from __future__ import annotations

import re
from pathlib import Path

from sonicsynth.data.adapters.base import (
    Candidate,
    CorpusScan,
    Problem,
    list_files,
    orphan_audio,
    read_lines,
    require_file,
)

PARTS = ("train", "test")
_ID = re.compile(r"(SSB\d{4})\d{4}")
_PINYIN = re.compile(r"[a-z]+[1-5]")


def _parse_line(line: str) -> tuple[str, str, str, str] | str:
    """(id, speaker, characters, pinyin) of a content.txt line, or the reason it is malformed."""
    fields = line.split(maxsplit=1)
    if len(fields) != 2:
        return "expected '<id>.wav<TAB>characters and pinyin'"
    file_name, transcript = fields
    id_match = _ID.fullmatch(file_name.removesuffix(".wav"))
    if not file_name.endswith(".wav") or id_match is None:
        return f"{file_name!r} is not an AISHELL-3 file name like SSB00050001.wav"
    tokens = transcript.split()
    if len(tokens) % 2:
        return f"{len(tokens)} tokens: characters and pinyin must alternate"
    not_pinyin = [token for token in tokens[1::2] if not _PINYIN.fullmatch(token)]
    if not_pinyin:
        return f"{not_pinyin[0]!r} where tone-numbered pinyin was expected: characters and pinyin must alternate"
    return id_match.group(0), id_match.group(1), "".join(tokens[0::2]), " ".join(tokens[1::2])


def scan(root: Path) -> CorpusScan:
    parts = [root / part for part in PARTS if (root / part).is_dir()]
    if not parts:
        raise FileNotFoundError(f"AISHELL-3 not found: neither {root / 'train'} nor {root / 'test'} exists")
    result = CorpusScan()
    for part in parts:
        content = require_file(part / "content.txt", "AISHELL-3 transcript file")
        for line_number, line in read_lines(content, result.problems):
            parsed = _parse_line(line)
            if isinstance(parsed, str):
                result.problems.append(Problem(content, parsed, line_number))
                continue
            utterance_id, speaker, characters, pinyin = parsed
            result.candidates.append(
                Candidate(
                    id=utterance_id,
                    audio_file=part / "wav" / speaker / f"{utterance_id}.wav",
                    text=characters,
                    speaker=speaker,
                    language="zh",
                    transcript=content,
                    line=line_number,
                    extras={"pinyin": pinyin},
                )
            )
    transcribed = {candidate.audio_file for candidate in result.candidates}
    for part in parts:
        result.problems += orphan_audio(list_files(part / "wav", "*/*.wav"), transcribed)
    return result
