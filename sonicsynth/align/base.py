"""The forced-aligner interface every backend implements, and the checks that catch a bad result.

An aligner takes an audio file and its transcript and returns an `Alignment` (see
`sonicsynth.data.manifest`) with phone AND word intervals in seconds: phones cover the audio from 0 to
its end with silences as `SILENCE_PHONE`; words list only the spoken words (gaps are silence).

A forced aligner always produces *some* segmentation when it finds any path at all, so a wrong
transcript often shows up not as a failure but as an implausible result. `check_plausible` turns the
symptoms into an `AlignmentError`:
  * the aligned speech covers less than half of the audio (the words were squeezed into a corner);
  * a long run of phones each shorter than 10 ms (words squeezed to nothing);
  * words of the transcript missing from the result.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

from sonicsynth.data.manifest import Alignment, PhoneSpan

# The silence phone of the ARPAbet alignments this package produces (pocketsphinx's SIL, Kaldi/MFA's sil).
SILENCE_PHONE = "sil"
# The kinds of boundary between two phones: aligners err differently at the edges of a pause (where
# a phone fades into silence) than between two phones, so calibration and reports keep them apart.
BOUNDARY_KINDS = ("phones", "into_pause", "out_of_pause")


def boundary_kind(before: str, after: str) -> str:
    """The kind of the boundary between phone labels `before` and `after` (silence: `SILENCE_PHONE`)."""
    if after == SILENCE_PHONE:
        return "into_pause"
    return "out_of_pause" if before == SILENCE_PHONE else "phones"


# Phone-set name of alignments in CMU ARPAbet; stress digits may be present (MFA's english_us_arpa model
# keeps them, pocketsphinx drops them).
ARPABET = "arpabet"

MIN_SPEECH_FRACTION = 0.5
SHORT_PHONE_SEC = 0.010
MAX_SHORT_PHONE_RUN = 3

# Pronunciations a caller supplies: each transcript word with its phones, in order.
Pronunciations = Sequence[tuple[str, Sequence[str]]]

_WORD_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


class AlignmentError(RuntimeError):
    """Alignment failed or gave an implausible result; the message names the audio file and why."""

    def __init__(self, audio_path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{audio_path}: {reason}")
        self.audio_path = str(audio_path)
        self.reason = reason


def transcript_words(transcript: str) -> list[str]:
    """Lower-case words of a transcript: punctuation dropped, hyphens split, inner apostrophes kept ("don't")."""
    return _WORD_TOKEN.findall(transcript.lower().replace("\u2019", "'"))


class Aligner(ABC):
    """A forced-alignment backend."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Registry name, e.g. "pocketsphinx"; also the `source` of the alignments it returns."""

    @abstractmethod
    def align(
        self,
        audio_path: str | os.PathLike[str],
        transcript: str,
        words: Pronunciations | None = None,
    ) -> Alignment:
        """Align `transcript` to the audio; phone and word intervals in seconds.

        `words`, when given, are the transcript's words in order with their phones (from a lexicon or
        G2P); the backend aligns exactly those pronunciations instead of looking the words up.
        Raises AlignmentError (naming the file) when no alignment is found or the result is implausible.
        """


def check_plausible(
    alignment: Alignment,
    audio_duration: float,
    expected_words: Sequence[str],
    audio_path: str | os.PathLike[str],
    min_speech_fraction: float = MIN_SPEECH_FRACTION,
) -> None:
    """Raise AlignmentError when the alignment shows the symptoms of a transcript that does not fit."""
    aligned_words = [span.word for span in alignment.words or ()]
    if aligned_words != list(expected_words):
        missing = [word for word in expected_words if word not in aligned_words]
        raise AlignmentError(
            audio_path,
            f"the alignment has {len(aligned_words)} of the transcript's {len(expected_words)} words"
            + (f" (missing: {' '.join(missing[:10])})" if missing else " (in a different order)"),
        )
    speech = sum(span.end - span.start for span in alignment.phones if span.phone != SILENCE_PHONE)
    if speech < min_speech_fraction * audio_duration:
        raise AlignmentError(
            audio_path,
            f"implausible alignment: the aligned speech covers only {speech:.2f} s of {audio_duration:.2f} s "
            f"({speech / audio_duration:.0%} < {min_speech_fraction:.0%}); the transcript probably does not "
            "match the audio",
        )
    run = _longest_short_phone_run(alignment.phones)
    if run > MAX_SHORT_PHONE_RUN:
        raise AlignmentError(
            audio_path,
            f"implausible alignment: {run} phones in a row are shorter than {SHORT_PHONE_SEC * 1000:.0f} ms; "
            "the transcript probably has more words than the audio",
        )


def _longest_short_phone_run(phones: Sequence[PhoneSpan]) -> int:
    longest = current = 0
    for span in phones:
        current = current + 1 if span.end - span.start < SHORT_PHONE_SEC else 0
        longest = max(longest, current)
    return longest
