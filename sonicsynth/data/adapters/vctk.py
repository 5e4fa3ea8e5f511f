"""VCTK: about 110 English speakers with various accents, 48 kHz, two microphones.

Both published layouts are read; the first one found wins::

    VCTK-Corpus-0.92 (2019):  <root>/txt/p225/p225_001.txt
                              <root>/wav48_silence_trimmed/p225/p225_001_mic1.flac   (and _mic2)
    VCTK-Corpus (0.80, 2017): <root>/txt/p225/p225_001.txt
                              <root>/wav48/p225/p225_001.wav

`speaker-info.txt` (age, gender, accent) sits beside them; its fields go to each utterance's extras
(`age`, `gender`, `accent`, `region`), with the microphone (`mic`). Ids drop the microphone suffix
(p225_001); the speaker is the folder name (p225, s5). `mic` picks the microphone of 0.92. A
speaker with audio but no transcript folder (p315, whose texts were lost) is one problem for the
whole speaker rather than one per file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sonicsynth.data.adapters.base import (
    Candidate,
    CorpusScan,
    Problem,
    list_files,
    orphan_audio,
    read_transcript,
    require_dir,
)

MICROPHONES = ("mic1", "mic2")
AUDIO_DIR_092 = "wav48_silence_trimmed"
AUDIO_DIR_080 = "wav48"


def _audio_layout(root: Path, mic: str) -> tuple[Path, str]:
    """The audio folder and the file-name ending that follows `<speaker>_<nnn>`."""
    if (root / AUDIO_DIR_092).is_dir():
        return root / AUDIO_DIR_092, f"_{mic}.flac"
    if (root / AUDIO_DIR_080).is_dir():
        if mic != "mic1":
            raise ValueError(f"{root / AUDIO_DIR_080}: the VCTK 0.80 layout has one microphone; mic={mic!r} needs 0.92")
        return root / AUDIO_DIR_080, ".wav"
    raise FileNotFoundError(
        f"VCTK audio folder not found: neither {root / AUDIO_DIR_092} (0.92) nor {root / AUDIO_DIR_080} (0.80) exists"
    )


def read_speaker_info(path: Path) -> dict[str, dict[str, str]]:
    """Speaker id -> age, gender, accent and region from `speaker-info.txt` (absent file: empty).

    Columns are whitespace-separated under the header `ID AGE GENDER ACCENTS REGION COMMENTS`; the
    region may hold several words and comments sit in parentheses, so the region is the rest of
    the line before any parenthesis."""
    if not path.is_file():
        return {}
    speakers = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]:
        fields = line.split("(")[0].split()
        if len(fields) < 4:
            continue
        speaker_id, age, gender, accent, *region = fields
        # 0.80 names speakers by number (225), the folders by p + number (p225).
        speaker = speaker_id if not speaker_id.isdigit() else f"p{speaker_id}"
        info = {"age": age, "gender": gender, "accent": accent}
        if region:
            info["region"] = " ".join(region)
        speakers[speaker] = info
    return speakers


def scan(root: Path, mic: str = "mic1") -> CorpusScan:
    if mic not in MICROPHONES:
        raise ValueError(f"VCTK mic must be one of {MICROPHONES}, got {mic!r}")
    txt = require_dir(root / "txt", "VCTK transcript folder")
    audio_dir, ending = _audio_layout(root, mic)
    speaker_info = read_speaker_info(root / "speaker-info.txt")
    result = CorpusScan()

    for transcript in list_files(txt, "*/*.txt"):
        text = read_transcript(transcript, result.problems)
        if text is None:
            continue
        speaker = transcript.parent.name
        result.candidates.append(
            Candidate(
                id=transcript.stem,
                audio_file=audio_dir / speaker / f"{transcript.stem}{ending}",
                text=text,
                speaker=speaker,
                language="en",
                transcript=transcript,
                extras={"mic": mic, **speaker_info.get(speaker, {})},
            )
        )

    transcribed = {candidate.audio_file for candidate in result.candidates}
    audio_files = list_files(audio_dir, f"*/*{ending}")
    files_per_speaker = Counter(path.parent for path in audio_files)
    speakers_without_text = sorted(d for d in files_per_speaker if not (txt / d.name).is_dir())
    for speaker_dir in speakers_without_text:
        reason = f"speaker has {files_per_speaker[speaker_dir]} audio file(s) but no transcripts"
        result.problems.append(Problem(speaker_dir, f"{reason} ({txt / speaker_dir.name} missing)"))
    result.problems += orphan_audio(
        (path for path in audio_files if path.parent not in speakers_without_text), transcribed
    )
    return result
