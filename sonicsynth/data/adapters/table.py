"""Generic tables, one utterance per row: CSV with a header row, or JSON Lines; `root` is the file.

Fields, each name configurable through the `*_column` options:

    audio     the audio path, absolute or relative to the table's folder (or looked up by file name
              in `audio_dir`); the first of "audio", "path", "audio_path" present unless named
    text      the transcript
    speaker   optional; rows without one belong to `speaker` (default: the table's file name)
    language  optional; rows without one get `language` (default "en")
    id        optional; rows without one take the audio file name without extension

Ids and speaker names that are not filesystem-safe are made safe with `safe_name`. A CSV record is
one line (quoted fields may hold the delimiter, not line breaks), so problems can name their line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

AUDIO_FIELDS = ("audio", "path", "audio_path")


@dataclass(frozen=True)
class TableReader:
    """How rows of one table file become candidates."""

    table: Path
    audio_field: str | None  # None: the first of AUDIO_FIELDS the row has
    text_field: str
    speaker_field: str
    language_field: str
    id_field: str
    default_speaker: str
    default_language: str
    audio_dir: Path | None

    def candidate(self, row: dict[str, Any], line: int) -> Candidate | Problem:
        audio_names = (self.audio_field,) if self.audio_field else AUDIO_FIELDS
        audio_field = next((name for name in audio_names if name in row), None)
        if audio_field is None:
            return Problem(self.table, f"no audio field ({' or '.join(audio_names)})", line)
        if self.text_field not in row:
            return Problem(self.table, f"no {self.text_field!r} field", line)
        used = (audio_field, self.text_field, self.speaker_field, self.language_field, self.id_field)
        not_strings = [name for name in used if row.get(name) is not None and not isinstance(row[name], str)]
        if not_strings:
            return Problem(self.table, f"field {not_strings[0]!r} is not a string", line)
        listed_audio = (row[audio_field] or "").strip()
        if not listed_audio:
            return Problem(self.table, f"empty {audio_field!r} field", line)
        speaker = (row.get(self.speaker_field) or "").strip() or self.default_speaker
        utterance_id = (row.get(self.id_field) or "").strip() or listed_audio_stem(listed_audio)
        return Candidate(
            id=safe_name(utterance_id),
            audio_file=listed_audio_file(listed_audio, self.table, self.audio_dir),
            text=clean_text(row[self.text_field] or ""),
            speaker=safe_name(speaker),
            language=(row.get(self.language_field) or "").strip() or self.default_language,
            transcript=self.table,
            line=line,
        )


def _reader(
    table: Path,
    audio_column: str | None,
    text_column: str,
    speaker_column: str,
    language_column: str,
    id_column: str,
    speaker: str | None,
    language: str,
    audio_dir: str | None,
) -> TableReader:
    return TableReader(
        table=table,
        audio_field=audio_column,
        text_field=text_column,
        speaker_field=speaker_column,
        language_field=language_column,
        id_field=id_column,
        default_speaker=speaker if speaker is not None else table.stem,
        default_language=language,
        audio_dir=None if audio_dir is None else Path(audio_dir),
    )


def _add(result: CorpusScan, item: Candidate | Problem) -> None:
    if isinstance(item, Candidate):
        result.candidates.append(item)
    else:
        result.problems.append(item)


def scan_csv(
    root: Path,
    audio_column: str | None = None,
    text_column: str = "text",
    speaker_column: str = "speaker",
    language_column: str = "language",
    id_column: str = "id",
    speaker: str | None = None,
    language: str = "en",
    audio_dir: str | None = None,
    delimiter: str = ",",
) -> CorpusScan:
    table = require_file(root, "CSV table")
    reader = _reader(
        table, audio_column, text_column, speaker_column, language_column, id_column, speaker, language, audio_dir
    )
    result = CorpusScan()
    lines = read_lines(table, result.problems)
    header_line = next(lines, None)
    if header_line is None:
        raise ValueError(f"{table}: empty CSV table (a header row naming the columns is required)")
    header = next(csv.reader([header_line[1]], delimiter=delimiter))
    audio_names = [audio_column] if audio_column else list(AUDIO_FIELDS)
    if not any(name in header for name in audio_names) or text_column not in header:
        raise ValueError(
            f"{table}: the header {header} needs an audio column ({' or '.join(audio_names)}) and {text_column!r}"
        )
    for line_number, line in lines:
        try:
            fields = next(csv.reader([line], delimiter=delimiter, strict=True))
        except csv.Error as error:
            result.problems.append(Problem(table, f"malformed CSV: {error}", line_number))
            continue
        if len(fields) != len(header):
            result.problems.append(
                Problem(table, f"expected {len(header)} fields as in the header, found {len(fields)}", line_number)
            )
            continue
        _add(result, reader.candidate(dict(zip(header, fields)), line_number))
    return result


def scan_jsonl(
    root: Path,
    audio_column: str | None = None,
    text_column: str = "text",
    speaker_column: str = "speaker",
    language_column: str = "language",
    id_column: str = "id",
    speaker: str | None = None,
    language: str = "en",
    audio_dir: str | None = None,
) -> CorpusScan:
    table = require_file(root, "JSON Lines table")
    reader = _reader(
        table, audio_column, text_column, speaker_column, language_column, id_column, speaker, language, audio_dir
    )
    result = CorpusScan()
    for line_number, line in read_lines(table, result.problems):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            result.problems.append(Problem(table, f"not JSON: {error.msg} (column {error.colno})", line_number))
            continue
        if not isinstance(row, dict):
            result.problems.append(Problem(table, f"not a JSON object but a {type(row).__name__}", line_number))
            continue
        _add(result, reader.candidate(row, line_number))
    return result
