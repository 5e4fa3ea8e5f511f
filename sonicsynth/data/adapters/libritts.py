"""LibriTTS and LibriTTS-R: English audiobook sentences, about 2,500 speakers, 24 kHz.

Both share one layout::

    <root>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<paragraph>_<sentence>.wav
                                        <speaker>_<chapter>_<paragraph>_<sentence>.normalized.txt
                                        <speaker>_<chapter>_<paragraph>_<sentence>.original.txt

`root` is the corpus folder (holding train-clean-100, dev-clean, ...) or a single subset folder.
Ids are the file names without extension; the speaker is the LibriVox reader id. The text is the
normalized one unless `text="original"` (the book's spelling, with digits and abbreviations); the
other version, when present, and the chapter go to the utterance's extras (`original_text` or
`normalized_text`, `chapter`), so a front end can be compared on both.
"""

from __future__ import annotations

from pathlib import Path

from sonicsynth.data.adapters.base import Candidate, CorpusScan, Problem, list_files, orphan_audio, read_transcript

TEXT_KINDS = ("normalized", "original")


def scan(root: Path, text: str = "normalized") -> CorpusScan:
    if text not in TEXT_KINDS:
        raise ValueError(f"LibriTTS text must be one of {TEXT_KINDS}, got {text!r}")
    suffix = f".{text}.txt"
    result = CorpusScan()
    for transcript in list_files(root, f"**/*{suffix}"):
        utterance_id = transcript.name.removesuffix(suffix)
        chapter_dir = transcript.parent
        speaker = chapter_dir.parent.name
        if not utterance_id.startswith(f"{speaker}_{chapter_dir.name}_"):
            result.problems.append(
                Problem(transcript, "not in the LibriTTS layout <speaker>/<chapter>/<speaker>_<chapter>_<n>_<n>")
            )
            continue
        sentence = read_transcript(transcript, result.problems)
        if sentence is None:
            continue
        extras = {"chapter": chapter_dir.name}
        other_kind = next(kind for kind in TEXT_KINDS if kind != text)
        other_file = chapter_dir / f"{utterance_id}.{other_kind}.txt"
        if other_file.is_file():
            other = read_transcript(other_file, result.problems)
            if other is not None:
                extras[f"{other_kind}_text"] = other
        result.candidates.append(
            Candidate(
                id=utterance_id,
                audio_file=chapter_dir / f"{utterance_id}.wav",
                text=sentence,
                speaker=speaker,
                language="en",
                transcript=transcript,
                extras=extras,
            )
        )
    transcribed = {candidate.audio_file for candidate in result.candidates}
    result.problems += orphan_audio(list_files(root, "**/*.wav"), transcribed)
    return result
