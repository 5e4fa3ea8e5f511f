"""GPT-SoVITS training lists (`.list`): one utterance per line, `root` is the list file.

    <audio path>|<speaker>|<language>|<text>

Audio paths are absolute or relative to the list file's folder; with `audio_dir`, only the file
name is kept and looked up in that folder (lists written on another machine). The text may itself
contain '|'. Language codes are upper or lower case, with the "all_" prefix of the GPT-SoVITS
interface allowed: zh, ja (or jp), en, ko and yue (Cantonese) map to the same codes used by the
rest of sonicsynth. "auto" and other codes that do not name one language are problems.

Ids are the audio file names without extension; ids and speaker names that are not
filesystem-safe (spaces, Chinese characters) are made safe with `safe_name`.
"""

from __future__ import annotations

from pathlib import Path

from sonicsynth.data.adapters.base import (
    Candidate,
    CorpusScan,
    Problem,
    clean_text,
    listed_audio_file,
    listed_audio_stem,
    read_lines,
    require_file,
    safe_name,
)

LANGUAGES = {"zh": "zh", "ja": "ja", "jp": "ja", "en": "en", "ko": "ko", "yue": "yue"}


def manifest_language(code: str) -> str | None:
    """Our language code for a GPT-SoVITS one, or None when it names no single language."""
    return LANGUAGES.get(code.strip().lower().removeprefix("all_"))


def scan(root: Path, audio_dir: str | None = None) -> CorpusScan:
    list_file = require_file(root, "GPT-SoVITS list file")
    audio_folder = None if audio_dir is None else Path(audio_dir)
    result = CorpusScan()
    for line_number, line in read_lines(list_file, result.problems):
        fields = line.split("|", 3)
        if len(fields) != 4:
            result.problems.append(
                Problem(list_file, f"expected 'audio|speaker|language|text', found {len(fields)} field(s)", line_number)
            )
            continue
        listed_audio, speaker, code, text = (field.strip() for field in fields)
        if not listed_audio or not speaker:
            reason = "empty audio path" if not listed_audio else "empty speaker"
            result.problems.append(Problem(list_file, reason, line_number))
            continue
        language = manifest_language(code)
        if language is None:
            known = ", ".join(LANGUAGES)
            reason = f"unknown language code {code!r} (known: {known}, optionally with 'all_')"
            result.problems.append(Problem(list_file, reason, line_number))
            continue
        result.candidates.append(
            Candidate(
                id=safe_name(listed_audio_stem(listed_audio)),
                audio_file=listed_audio_file(listed_audio, list_file, audio_folder),
                text=clean_text(text),
                speaker=safe_name(speaker),
                language=language,
                transcript=list_file,
                line=line_number,
                extras={"language_code": code, "speaker_name": speaker},
            )
        )
    return result
