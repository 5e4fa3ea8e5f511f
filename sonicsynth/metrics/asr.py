"""Intelligibility through speech recognition: word and character error rates of an ASR transcript.

- `intelligibility` (needs the reference text, not reference audio): transcribes the clip with a
  `SpeechRecognizer` and returns `wer`, `cer` and the raw `hypothesis`. Audio is resampled to the
  recognizer's rate (16 kHz for `PocketsphinxRecognizer`); lower input rates are refused
  (upsampling cannot restore the missing band, and the recognizer's errors would be charged to the
  audio). Silence, audio shorter than `MIN_SECONDS` and an empty reference raise `MetricError`
  naming the input. `intelligibility_or_missed` is the form for report rows: a clip with nothing
  recognisable counts as every word missed (cer = wer = 1, empty hypothesis) instead of stopping
  the report.
- `error_rates` (reference text and hypothesis text): `wer` is word error rate and `cer` character
  error rate (spaces count as characters), both from jiwer after `normalize_transcript` on both
  sides. Range 0..inf (insertions can push them past 1), 0 best; an empty hypothesis scores 1.
- `normalize_transcript`: lowercase, punctuation and symbols replaced by spaces (apostrophes inside
  words are kept: "don't"), whitespace collapsed. Numbers are left as written: "2" and "two" count
  as different words, so write references the way the recognizer spells (pocketsphinx spells out
  numbers).

`PocketsphinxRecognizer` is a weak recognizer (CMU Sphinx en-us acoustic model, 3-gram language
model and CMU dictionary from the pocketsphinx wheel): its error rates measure *relative*
intelligibility between systems on the same sentences, not absolute quality. English only.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from sonicsynth.audio.io import resample
from sonicsynth.metrics.base import MetricError, check_rate, check_signal

if TYPE_CHECKING:
    from pocketsphinx import Decoder

log = logging.getLogger(__name__)

MIN_SECONDS = 0.1
_PUNCTUATION = re.compile(r"[^\w\s']|_")
_LOOSE_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")
_SPACES = re.compile(r"\s+")


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Anything that turns mono float samples at `sample_rate` into text."""

    sample_rate: int

    def transcribe(self, samples: np.ndarray) -> str: ...


class PocketsphinxRecognizer:
    """English large-vocabulary recognition with pocketsphinx's bundled en-us models, 16 kHz int16 input.

    The decoder is created on first use and reused (it loads in well under a second); an instance is
    not safe to share between threads.
    """

    sample_rate = 16000  # the en-us acoustic model's rate

    def __init__(self) -> None:
        self._decoder: Decoder | None = None

    @property
    def decoder(self) -> Decoder:
        if self._decoder is None:
            # Default configuration = the wheel's en-us acoustic model, language model and dictionary.
            # loglevel FATAL as in the aligner: search failures surface as RuntimeError instead of stderr noise.
            from pocketsphinx import Decoder

            self._decoder = Decoder(loglevel="FATAL")
        return self._decoder

    def transcribe(self, samples: np.ndarray) -> str:
        """Best hypothesis for float samples in [-1, 1] at 16 kHz ("" if nothing was recognised)."""
        pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def normalize_transcript(text: str) -> str:
    """Lowercase, punctuation to spaces (in-word apostrophes kept), single spaces; numbers untouched."""
    text = _PUNCTUATION.sub(" ", text.lower())
    text = _LOOSE_APOSTROPHE.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def error_rates(reference_text: str, hypothesis_text: str, *, name: str = "transcript") -> dict[str, float]:
    """`wer` and `cer` of the hypothesis against the reference, after `normalize_transcript`."""
    import jiwer

    reference = normalize_transcript(reference_text)
    if not reference:
        raise MetricError(f"{name}: the reference text {reference_text!r} has no words to score against")
    hypothesis = normalize_transcript(hypothesis_text)
    return {"wer": float(jiwer.wer(reference, hypothesis)), "cer": float(jiwer.cer(reference, hypothesis))}


def intelligibility(samples: np.ndarray, sample_rate: int, reference_text: str, recognizer: SpeechRecognizer, *,
                    name: str = "audio") -> dict[str, float | str]:
    """Transcribe one clip and score it against its text: {"wer", "cer", "hypothesis"}."""
    if not normalize_transcript(reference_text):
        raise MetricError(f"{name}: the reference text {reference_text!r} has no words to score against")
    check_rate(sample_rate, name=name, minimum=recognizer.sample_rate)
    samples = check_signal(samples, sample_rate, name=name, min_seconds=MIN_SECONDS)
    audio = np.asarray(resample(samples, sample_rate, recognizer.sample_rate), dtype=np.float32)
    try:
        hypothesis = recognizer.transcribe(audio)
    except RuntimeError as error:  # pocketsphinx's only failure signal
        raise MetricError(f"{name}: speech recognition failed ({error})") from error
    return {**error_rates(reference_text, hypothesis, name=name), "hypothesis": hypothesis}


def intelligibility_or_missed(samples: np.ndarray, sample_rate: int, reference_text: str,
                              recognizer: SpeechRecognizer, *, name: str = "audio") -> dict[str, float | str]:
    """`intelligibility` for a report row: where the clip cannot be transcribed (silence, too short,
    recognizer failure) every word counts as missed, with a logged warning."""
    try:
        return intelligibility(samples, sample_rate, reference_text, recognizer, name=name)
    except MetricError as err:
        log.warning("intelligibility: %s", err)
        return {"cer": 1.0, "wer": 1.0, "hypothesis": ""}
