"""English forced alignment with pocketsphinx and the en-us acoustic model and dictionary in its wheel.

Two decoding passes over the same audio (pocketsphinx's documented recipe): `set_align_text` builds
a grammar of exactly the transcript's words (optional silence between them, alternative
pronunciations allowed) and the first pass finds the word path; `set_alignment` then aligns that path
at the phone level in a second pass. Times come in 10 ms frames.

Words missing from the CMU dictionary: the error lists them. Callers with pronunciations (a lexicon or
G2P) pass them as `words`; pocketsphinx then aligns those phones (CMU ARPAbet, stress digits dropped),
added to its dictionary under one entry per distinct pronunciation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from sonicsynth.align.base import (
    ARPABET,
    MIN_SPEECH_FRACTION,
    SILENCE_PHONE,
    Aligner,
    AlignmentError,
    Pronunciations,
    check_plausible,
    transcript_words,
)
from sonicsynth.align.phone_sets import ARPABET_PHONES
from sonicsynth.audio import AudioError, load_audio
from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan

SAMPLE_RATE = 16_000  # the en-us acoustic model's rate
FRAMES_PER_SEC = 100  # pocketsphinx's default frame rate
# The last frame ends up to one frame (plus window overhang) before the end of the audio.
MAX_TAIL_SEC = 0.05
_STRESS = re.compile(r"[012]$")


class AlignedWord(NamedTuple):
    """One word of pocketsphinx's phone-level alignment (a dictionary entry or "<sil>"), in seconds."""

    entry: str
    start: float
    end: float
    phones: list[PhoneSpan]


def _seconds(first_frame: int, frames: int) -> tuple[float, float]:
    return first_frame / FRAMES_PER_SEC, (first_frame + frames) / FRAMES_PER_SEC


class PocketsphinxAligner(Aligner):
    """Word and phone alignment in CMU ARPAbet without stress; silence is `SILENCE_PHONE`.

    One decoder per instance, reused across calls (it loads in ~0.1 s); not safe to share between threads.
    """

    def __init__(self, min_speech_fraction: float = MIN_SPEECH_FRACTION) -> None:
        self.min_speech_fraction = min_speech_fraction
        # bestpath=False as `pocketsphinx align` sets it: the lattice best-path pass can leave 1-frame
        # <s>/</s> words in the word segmentation, and the phone pass then fails on about a quarter of
        # utterances. No language model: alignment uses only the transcript grammar.
        # loglevel FATAL: pocketsphinx logs search failures to stderr; we raise them as exceptions.
        # Imported here: code that never aligns with pocketsphinx (training) need not have it installed.
        from pocketsphinx import Decoder

        self._decoder = Decoder(loglevel="FATAL", bestpath=False, lm=None)

    @property
    def name(self) -> str:
        return "pocketsphinx"

    def align(
        self,
        audio_path: str | os.PathLike[str],
        transcript: str,
        words: Pronunciations | None = None,
    ) -> Alignment:
        if words is None:
            expected = transcript_words(transcript)
            dictionary_words = expected
            self._check_in_dictionary(audio_path, expected)
        else:
            expected = [word for word, _ in words]
            dictionary_words = [self._pronunciation_entry(audio_path, word, phones) for word, phones in words]
        if not expected:
            raise AlignmentError(audio_path, f"nothing to align: the transcript {transcript!r} has no words")
        try:
            audio = load_audio(audio_path, sample_rate=SAMPLE_RATE)
        except AudioError as error:
            raise AlignmentError(audio_path, f"cannot read the audio ({error})") from error
        pcm = (np.clip(audio.samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes()

        word_segments = self._decode(audio_path, pcm, dictionary_words)
        alignment = self._to_alignment(word_segments, expected, audio.duration, audio_path)
        check_plausible(alignment, audio.duration, expected, audio_path, self.min_speech_fraction)
        return alignment

    def _check_in_dictionary(self, audio_path: str | os.PathLike[str], words: Sequence[str]) -> None:
        missing = sorted({word for word in words if self._decoder.lookup_word(word) is None})
        if missing:
            raise AlignmentError(
                audio_path,
                f"word(s) not in pocketsphinx's dictionary: {', '.join(missing)}; pass their pronunciations "
                "(CMU ARPAbet) through `words`",
            )

    def _pronunciation_entry(self, audio_path: str | os.PathLike[str], word: str, phones: Sequence[str]) -> str:
        """The dictionary entry for one caller-supplied pronunciation, added on first use."""
        bare = [_STRESS.sub("", phone.upper()) for phone in phones]
        unknown = [phone for phone in bare if phone not in ARPABET_PHONES]
        if not bare or unknown:
            reason = "no phones" if not bare else f"phones not in CMU ARPAbet: {', '.join(unknown)}"
            raise AlignmentError(audio_path, f"pronunciation of {word!r} has {reason}")
        # Named by the pronunciation, not the word: the name must be one whitespace-free token and
        # must not collide with (or become an alternative of) a CMUdict word.
        entry = "pron:" + "_".join(bare).lower()
        if self._decoder.lookup_word(entry) is None:
            self._decoder.add_word(entry, " ".join(bare), True)
        return entry

    def _decode(self, audio_path: str | os.PathLike[str], pcm: bytes, words: Sequence[str]) -> list[AlignedWord]:
        decoder = self._decoder
        try:
            decoder.set_align_text(" ".join(words))
        except RuntimeError as error:
            raise AlignmentError(audio_path, f"pocketsphinx cannot build the alignment grammar ({error})") from error
        self._run_pass(audio_path, pcm, "word")
        if decoder.hyp() is None:
            raise AlignmentError(
                audio_path,
                "pocketsphinx found no alignment path through the audio; the transcript probably does not "
                "match the audio (or the audio is too short or silent)",
            )
        try:
            decoder.set_alignment()
        except RuntimeError as error:
            raise AlignmentError(audio_path, f"pocketsphinx cannot set up phone alignment ({error})") from error
        self._run_pass(audio_path, pcm, "phone")
        # Copy out now: the segment objects point into the decoder's alignment, which the next call frees
        # (touching them after that crashes the interpreter).
        return [
            AlignedWord(
                word.name,
                *_seconds(word.start, word.duration),
                [PhoneSpan(phone.name, *_seconds(phone.start, phone.duration)) for phone in word],
            )
            for word in decoder.get_alignment()
        ]

    def _run_pass(self, audio_path: str | os.PathLike[str], pcm: bytes, level: str) -> None:
        try:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
        except RuntimeError as error:  # pocketsphinx's only signal that its search failed
            raise AlignmentError(audio_path, f"pocketsphinx's {level}-level alignment pass failed ({error})") from error

    def _to_alignment(
        self,
        aligned_words: list[AlignedWord],
        expected: Sequence[str],
        duration: float,
        audio_path: str | os.PathLike[str],
    ) -> Alignment:
        phones: list[PhoneSpan] = []
        words: list[WordSpan] = []
        spoken = iter(expected)
        for aligned in aligned_words:
            is_silence = aligned.entry.startswith(("<", "["))  # <sil>, <s>, </s>, [NOISE]
            if not is_silence:
                # Report the caller's word, not the dictionary entry ("before(2)", "pron:...").
                words.append(WordSpan(next(spoken, aligned.entry), aligned.start, aligned.end))
            for phone in aligned.phones:
                if is_silence and phones and phones[-1].phone == SILENCE_PHONE:
                    phones[-1] = phones[-1]._replace(end=phone.end)
                else:
                    phones.append(phone._replace(phone=SILENCE_PHONE) if is_silence else phone)
        if not phones:
            raise AlignmentError(audio_path, "pocketsphinx returned an empty alignment")
        tail = duration - phones[-1].end
        if tail > MAX_TAIL_SEC:
            raise AlignmentError(
                audio_path, f"pocketsphinx's alignment ends {tail:.3f} s before the audio does ({duration:.3f} s)"
            )
        # Frames stop short of the last samples; the final phone (and its word) takes the remainder.
        if words and words[-1].end == phones[-1].end:
            words[-1] = words[-1]._replace(end=duration)
        phones[-1] = phones[-1]._replace(end=duration)
        return Alignment(phone_set=ARPABET, source=self.name, phones=tuple(phones), words=tuple(words))
