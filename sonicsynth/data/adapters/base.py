"""What every corpus adapter returns, and the small helpers adapters share.

An adapter only reads transcripts and lists files: it returns `Candidate`s (utterances whose audio
has not been opened yet) and `Problem`s (items it had to leave out, each with the reason). Checks
common to every format (empty text, duplicate ids, missing or unreadable audio) and the manifest
itself are done once, by `sonicsynth.data.adapters.make_manifest`.

A whole-dataset problem (root, transcript file or audio folder missing) raises FileNotFoundError
or ValueError naming the path instead.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any

from sonicsynth.data.manifest import SAFE_NAME


@dataclass(frozen=True)
class Candidate:
    """An utterance found by an adapter, before its audio is read.

    `transcript` (and `line`, for one-line-per-utterance files) say where the text came from, so a
    problem found later can point the user at it.
    """

    id: str
    audio_file: Path
    text: str
    speaker: str
    language: str
    transcript: Path
    line: int | None = None
    # Format-specific facts kept in the manifest's `extras` (e.g. AISHELL-3 pinyin).
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """One item left out of the manifest: the file (and line) concerned and why."""

    path: Path
    reason: str
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {"path": str(self.path)}
        if self.line is not None:
            record["line"] = self.line
        record["reason"] = self.reason
        return record

    def __str__(self) -> str:
        where = str(self.path) if self.line is None else f"{self.path}, line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class CorpusScan:
    """What an adapter found: the utterances to describe, and the items it could not use."""

    candidates: list[Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(raw: str) -> str:
    """`raw` itself when it is a valid manifest id or speaker name, else a filesystem-safe version.

    The safe version keeps the ASCII letters and digits of `raw` and appends a short hash of `raw`,
    so that two names differing only in other characters (e.g. two Chinese speaker names) stay
    distinct.
    """
    if SAFE_NAME.fullmatch(raw):
        return raw
    readable = _UNSAFE_RUN.sub("_", raw).strip("._-")
    digest = hashlib.sha1(raw.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else digest


def clean_text(raw: str) -> str:
    """Transcripts with runs of whitespace and line breaks folded into single spaces."""
    return " ".join(raw.split())


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what} not found: {path} is not a directory")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def list_files(directory: Path, pattern: str) -> list[Path]:
    """Files under `directory` matching the glob `pattern`, sorted, hidden ones left out.

    Hidden files are skipped because copies made on macOS leave a `._<name>` resource file beside
    every file, which would otherwise look like corrupt audio or a stray transcript.
    """
    return sorted(
        path
        for path in directory.glob(pattern)
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def read_transcript(path: Path, problems: list[Problem]) -> str | None:
    """The cleaned text of a one-utterance transcript file, or None (with a problem) if unreadable."""
    try:
        return clean_text(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        problems.append(Problem(path, f"transcript is not UTF-8 text ({error.reason} at byte {error.start})"))
    except OSError as error:
        problems.append(Problem(path, f"cannot read transcript: {error.strerror}"))
    return None


def read_lines(path: Path, problems: list[Problem]) -> Iterator[tuple[int, str]]:
    """(line number, line) for each non-blank line of a UTF-8 text file, line ends removed.

    Lines are decoded one at a time so that one bad byte costs one line (reported as a problem),
    not the file. A byte-order mark, as editors on Windows write it, is dropped.
    """
    with open(path, "rb") as file:
        for line_number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                problems.append(
                    Problem(path, f"line is not UTF-8 text ({error.reason} at byte {error.start})", line_number)
                )
                continue
            if line_number == 1:
                line = line.removeprefix("\ufeff")
            if line.strip():
                yield line_number, line


def orphan_audio(audio_files: Iterable[Path], transcribed: set[Path]) -> list[Problem]:
    """A problem for each audio file that no transcript refers to."""
    return [Problem(path, "audio without transcript") for path in audio_files if path not in transcribed]


def listed_audio_file(listed: str, list_file: Path, audio_dir: Path | None) -> Path:
    """The audio file named on a line of a list or table file.

    Paths are absolute or relative to the folder of the list file. With `audio_dir`, only the file
    name is kept and looked up there: lists written on another machine (often with Windows paths)
    still work once their audio is copied into one folder.
    """
    if audio_dir is not None:
        return audio_dir / PureWindowsPath(listed).name
    # normpath folds "lists/../wavs" so problems name the file the way a user would.
    return Path(os.path.normpath(list_file.parent / listed))


def listed_audio_stem(listed: str) -> str:
    """The file name without its extension, for '/' and '\\' separated paths alike."""
    return PureWindowsPath(listed).stem
