"""Recorded human speech that Debian packages ship, with its transcripts.

Czech voice acting from Fish Fillets NG: `fillets-ng-data-cs` holds the ogg clips in
`sound/<level>/cs/<clip>.ogg`; `fillets-ng-data` holds the transcripts in `script/<level>/dialogs_cs.lua`
as `dialogId("<clip>", "<font>", "English gloss")` followed by `dialogStr("Czech text")`. The second
dash-separated part of a clip name is the speaker code; `m` and `v` are the two main characters.

The game's English dialogue (`script/<level>/dialogs_en.lua`, `dialogId(...)` lines only) is a source of
text, not audio: about 1,500 distinct conversational English lines that synthetic voices can speak
(`fillets_english_lines`), many more than the demo corpus's 30 sentences.

LibriVox: `pocketsphinx-testdata` holds five clips of one male reader (Sense and Sensibility, ch. 1)
with a Sphinx-style transcription file, `<s> words </s> (utterance-id)` per line.

Both are GPL or otherwise not ours to redistribute: clips are converted into a corpus directory at
build time and never copied into the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

FILLETS_ROOT = Path("/usr/share/games/fillets-ng")
LIBRIVOX_DIR = Path("/usr/share/pocketsphinx/test/data/librivox")
FILLETS_MAIN_SPEAKERS = ("m", "v")
# Clips outside this range are mostly exclamations or long monologues, poor training examples.
FILLETS_MIN_SEC, FILLETS_MAX_SEC = 1.0, 12.0

_LUA_STRING = r'"((?:[^"\\]|\\.)*)"'
_DIALOG = re.compile(
    rf"dialogId\(\s*{_LUA_STRING}\s*,\s*{_LUA_STRING}\s*,\s*{_LUA_STRING}\s*\)\s*dialogStr\(\s*{_LUA_STRING}\s*\)"
)
_DIALOG_ID = re.compile(rf"dialogId\(\s*{_LUA_STRING}\s*,\s*{_LUA_STRING}\s*,\s*{_LUA_STRING}\s*\)")
# Typographic characters of the scripts that some synthesis engines read out or trip over.
_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...",
                             "\u2013": "-", "\u2014": "-"})
_LUA_ESCAPES = {"n": " ", "t": " ", '"': '"', "'": "'", "\\": "\\"}
_SPHINX_TRANSCRIPT = re.compile(r"^(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\(([^()]+)\)\s*$")


@dataclass(frozen=True)
class HumanClip:
    """One recorded clip and what the corpus needs to know about it."""

    utterance_id: str
    recording: Path
    text: str
    speaker: str
    language: str
    source: str


def _lua_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _LUA_ESCAPES.get(m.group(1), m.group(1)), text)


def _clean(text: str) -> str:
    return " ".join(text.split())


def fillets_installed() -> bool:
    """Both halves are needed: the Czech audio and the scripts with its transcripts."""
    return (FILLETS_ROOT / "sound").is_dir() and (FILLETS_ROOT / "script").is_dir()


def _fillets_transcripts(level: str) -> dict[str, str]:
    # Per level: a few clip names recur in several levels' scripts with different lines.
    script = FILLETS_ROOT / "script" / level / "dialogs_cs.lua"
    if not script.is_file():
        return {}
    return {
        match.group(1): _clean(_lua_unescape(match.group(4)))
        for match in _DIALOG.finditer(script.read_text(encoding="utf-8"))
    }


def _evenly_spaced(items: list, count: int | None) -> list:
    """`count` items spread evenly over the sorted list (all of them when count is None or large)."""
    if count is None or count >= len(items):
        return items
    return [items[i * len(items) // count] for i in range(count)]


def fillets_czech_clips(max_per_speaker: int | None) -> list[HumanClip]:
    """Transcribed clips of the two main speakers, 1-12 s long, evenly spaced over the sorted clip names."""
    if not fillets_installed():
        raise FileNotFoundError(
            f"{FILLETS_ROOT}: Czech clips need Debian packages fillets-ng-data-cs (audio) "
            "and fillets-ng-data (transcripts)"
        )
    by_speaker: dict[str, list[HumanClip]] = {code: [] for code in FILLETS_MAIN_SPEAKERS}
    for recording in sorted((FILLETS_ROOT / "sound").glob("*/cs/*.ogg")):
        name_parts = recording.stem.split("-")
        if len(name_parts) < 3 or name_parts[1] not in by_speaker:
            continue
        text = _fillets_transcripts(recording.parts[-3]).get(recording.stem)
        if not text:
            continue
        info = sf.info(str(recording))
        if not FILLETS_MIN_SEC <= info.frames / info.samplerate <= FILLETS_MAX_SEC:
            continue
        code = name_parts[1]
        by_speaker[code].append(
            HumanClip(
                utterance_id=f"fillets-{recording.stem}",
                recording=recording,
                text=text,
                speaker=f"fillets-{code}",
                language="cs",
                source="human-fillets",
            )
        )
    return [clip for code in FILLETS_MAIN_SPEAKERS for clip in _evenly_spaced(by_speaker[code], max_per_speaker)]


def fillets_english_lines(min_words: int = 4, max_words: int = 25) -> list[str]:
    """The distinct English lines of the game's dialogue with `min_words` to `max_words` words, sorted.

    Lines with characters other than ASCII letters, digits, spaces and common punctuation (after
    typographic quotes and dashes become ASCII) are left out: a few name in-game objects with symbols
    no English voice reads the same way."""
    if not (FILLETS_ROOT / "script").is_dir():
        raise FileNotFoundError(f"{FILLETS_ROOT / 'script'}: the English dialogue needs Debian package fillets-ng-data")
    lines = set()
    for script in sorted((FILLETS_ROOT / "script").glob("*/dialogs_en.lua")):
        for match in _DIALOG_ID.finditer(script.read_text(encoding="utf-8")):
            line = _clean(_lua_unescape(match.group(3)).translate(_TYPOGRAPHY))
            if min_words <= len(line.split()) <= max_words and re.fullmatch(r"[A-Za-z0-9 .,;:!?'\"()-]+", line):
                lines.add(line)
    return sorted(lines)


def _parse_librivox_transcription(path: Path) -> dict[str, str]:
    texts = {}
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _SPHINX_TRANSCRIPT.match(line)
        if match is None:
            raise ValueError(f"{path}, line {line_number}: expected '<s> words </s> (utterance-id)', got {line!r}")
        texts[match.group(2)] = _clean(match.group(1))
    return texts


def librivox_installed() -> bool:
    return (LIBRIVOX_DIR / "transcription").is_file()


def librivox_clips(max_clips: int | None) -> list[HumanClip]:
    """The LibriVox clips of pocketsphinx-testdata (one reader), evenly spaced when capped."""
    if not librivox_installed():
        raise FileNotFoundError(f"{LIBRIVOX_DIR}: LibriVox clips need Debian package pocketsphinx-testdata")
    texts = _parse_librivox_transcription(LIBRIVOX_DIR / "transcription")
    clips = []
    for recording in sorted(LIBRIVOX_DIR.glob("*.wav")):
        if recording.stem not in texts:
            raise ValueError(f"{LIBRIVOX_DIR / 'transcription'}: no transcript for {recording.name}")
        clips.append(
            HumanClip(
                utterance_id=f"librivox-{recording.stem}",
                recording=recording,
                text=texts[recording.stem],
                speaker="librivox-reader",
                language="en",
                source="human-librivox",
            )
        )
    return _evenly_spaced(clips, max_clips)


def convert_to_wav(recording: Path, wav_file: str | Path | BinaryIO) -> None:
    """Decode any libsndfile-readable clip (ogg/vorbis, wav) to mono 16-bit wav at its native rate."""
    try:
        samples, sample_rate = sf.read(str(recording), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise ValueError(f"{recording}: not a readable audio file ({error})") from error
    if samples.shape[0] == 0:
        raise ValueError(f"{recording}: the file holds no audio samples")
    # Lossy decoders overshoot 1.0 a little; libsndfile would wrap such samples around, not clip them.
    mono = np.clip(samples.mean(axis=1), -1.0, 1.0)
    sf.write(wav_file, mono, sample_rate, subtype="PCM_16", format="WAV")
