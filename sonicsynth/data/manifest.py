"""The corpus manifest: one utterance per JSONL line, and its per-utterance phone-timing files.

Every corpus adapter ends in this format; nothing downstream knows where a corpus came from.

A manifest line, with paths relative to the directory that holds the manifest::

    {"id": "mbrola-us1-007", "audio_path": "wavs/mbrola-us1/mbrola-us1-007.wav", "text": "...",
     "speaker": "mbrola-us1", "language": "en", "duration": 4.2135, "sample_rate": 16000,
     "source": "mbrola-us1", "alignment_path": "alignments/mbrola-us1/mbrola-us1-007.json",
     "split": "train"}

`duration` is the exact sample count divided by `sample_rate` (the native rate of the stored file).
`alignment_path` is null when no phone timings are known. Audio-visual corpora add `video_path` (the
video whose audio track `audio_path` holds, or which shows the speaker of `audio_path`); lines of
speech-only corpora leave it out. An alignment file is JSON::

    {"phone_set": "mbrola-sampa", "source": "mbrola-us1",
     "phones": [{"phone": "_", "start": 0.0, "end": 0.1}, {"phone": "h", "start": 0.1, "end": 0.17}, ...],
     "words": [{"word": "hello", "start": 0.1, "end": 0.45}, ...]}

Phones keep the native symbols of `phone_set`, cover the audio from 0 to its end (silences included)
and never overlap; "words" is present only when the source knows word boundaries.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from sonicsynth.utils.atomic import atomic_write

SPLITS = ("train", "val", "test")

# Ids name files (wavs/<speaker>/<id>.wav), so they must be safe on every filesystem.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Utterance:
    """One line of a manifest. Paths are relative to the manifest's directory."""

    id: str
    audio_path: str
    text: str
    speaker: str
    language: str
    duration: float
    sample_rate: int
    source: str
    alignment_path: str | None
    split: str
    # Format-specific facts worth keeping (e.g. AISHELL-3 pinyin, the original text of LibriTTS).
    extras: dict[str, Any] = field(default_factory=dict)
    video_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("id", "speaker"):
            value = getattr(self, name)
            if not SAFE_NAME.fullmatch(value):
                raise ValueError(f"{name} {value!r} is not filesystem-safe (letters, digits, '.', '_', '-')")
        for name in ("audio_path", "alignment_path", "video_path"):
            value = getattr(self, name)
            # Relative (may climb out with '..', so a manifest can live beside a read-only corpus).
            if value is not None and Path(value).is_absolute():
                raise ValueError(f"{name} {value!r} must be relative to the manifest's directory")
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r} is not one of {SPLITS}")
        if not self.duration > 0:
            raise ValueError(f"duration {self.duration!r} must be positive")
        if not self.sample_rate > 0:
            raise ValueError(f"sample_rate {self.sample_rate!r} must be positive")

    def audio_file(self, manifest_dir: str | os.PathLike[str]) -> Path:
        """The wav file, given the directory that holds the manifest."""
        return Path(manifest_dir) / self.audio_path

    def video_file(self, manifest_dir: str | os.PathLike[str]) -> Path | None:
        """The video file, or None for a speech-only utterance."""
        return None if self.video_path is None else Path(manifest_dir) / self.video_path

    def alignment_file(self, manifest_dir: str | os.PathLike[str]) -> Path | None:
        """The phone-timing JSON file, or None when the utterance has no timings."""
        return None if self.alignment_path is None else Path(manifest_dir) / self.alignment_path


# Expected JSON types per field; bool is excluded explicitly because it is an int subclass.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "audio_path": (str,),
    "text": (str,),
    "speaker": (str,),
    "language": (str,),
    "duration": (float, int),
    "sample_rate": (int,),
    "source": (str,),
    "alignment_path": (str, type(None)),
    "split": (str,),
    "extras": (dict,),
    "video_path": (str, type(None)),
}
_OPTIONAL_FIELDS = {"extras", "video_path"}
assert set(_FIELD_TYPES) == {f.name for f in fields(Utterance)}


def _utterance_from_json(record: Any) -> Utterance:
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    missing = [name for name in _FIELD_TYPES if name not in record and name not in _OPTIONAL_FIELDS]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(record) - set(_FIELD_TYPES))
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(unknown)}")
    for name, types in _FIELD_TYPES.items():
        if name not in record:
            continue
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, types):
            raise ValueError(f"field {name!r} has type {type(value).__name__}, expected {types[0].__name__}")
    return Utterance(**{**record, "duration": float(record["duration"])})


def read_manifest(path: str | os.PathLike[str]) -> list[Utterance]:
    """Parse a manifest; a bad line raises ValueError naming the file and the line number."""
    path = Path(path)
    utterances: list[Utterance] = []
    first_line_of_id: dict[str, int] = {}
    with open(path, encoding="utf-8") as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                utterance = _utterance_from_json(json.loads(line))
            except ValueError as error:  # json.JSONDecodeError is a ValueError too
                raise ValueError(f"{path}, line {line_number}: {error}") from error
            if utterance.id in first_line_of_id:
                raise ValueError(
                    f"{path}, line {line_number}: duplicate id {utterance.id!r} "
                    f"(first on line {first_line_of_id[utterance.id]})"
                )
            first_line_of_id[utterance.id] = line_number
            utterances.append(utterance)
    return utterances


def write_manifest(path: str | os.PathLike[str], utterances: list[Utterance]) -> None:
    """Write utterances in the given order, atomically (temp file in the same directory, then rename)."""
    seen: set[str] = set()
    for utterance in utterances:
        if utterance.id in seen:
            raise ValueError(f"{path}: duplicate utterance id {utterance.id!r}")
        seen.add(utterance.id)
    with atomic_write(path, mode="w") as file:
        for utterance in utterances:
            record = asdict(utterance)
            for optional in ("extras", "video_path"):
                if not record[optional]:
                    del record[optional]  # optional: keep plain lines plain
            file.write(json.dumps(record, ensure_ascii=False) + "\n")


class PhoneSpan(NamedTuple):
    phone: str
    start: float
    end: float


class WordSpan(NamedTuple):
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Alignment:
    """Phone (and optionally word) timings of one utterance, in seconds from the start of its audio."""

    phone_set: str
    source: str
    phones: tuple[PhoneSpan, ...]
    words: tuple[WordSpan, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "phone_set": self.phone_set,
            "source": self.source,
            "phones": [span._asdict() for span in self.phones],
        }
        if self.words is not None:
            record["words"] = [span._asdict() for span in self.words]
        return record


def write_alignment(path: str | os.PathLike[str], alignment: Alignment) -> None:
    """Write an alignment atomically, one phone or word per line so the file reads (and diffs) well."""
    record = alignment.to_json()
    parts = [f"{json.dumps(key)}: {json.dumps(record[key], ensure_ascii=False)}" for key in ("phone_set", "source")]
    for key in ("phones", "words"):
        if key in record:
            items = ",\n  ".join(json.dumps(item, ensure_ascii=False) for item in record[key])
            parts.append(f"{json.dumps(key)}: [\n  {items}\n ]")
    with atomic_write(path, mode="w") as file:
        file.write("{" + ",\n ".join(parts) + "}\n")


def read_alignment(path: str | os.PathLike[str]) -> Alignment:
    """Parse an alignment JSON file; a malformed one raises ValueError naming the file."""
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        phones = tuple(PhoneSpan(p["phone"], float(p["start"]), float(p["end"])) for p in record["phones"])
        words = record.get("words")
        return Alignment(
            phone_set=record["phone_set"],
            source=record["source"],
            phones=phones,
            words=None
            if words is None
            else tuple(WordSpan(w["word"], float(w["start"]), float(w["end"])) for w in words),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a valid alignment file ({type(error).__name__}: {error})") from error
