"""Forced alignment with the built-in CTC phone recogniser (`torchaudio.functional.forced_align`).

The transcript goes through the text front end; its phones (punctuation excluded: it has no sound
of its own) are the CTC targets. forced_align gives each phone a span of frames; CTC is "peaky", so
blanks fill the frames between spans. A phone owns the frames from its span's start to the next
phone's start; a run of blanks of at least `min_silence_sec` at a word boundary becomes a silence
interval, as do the blanks before the first and after the last phone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torchaudio.functional as AF
from hydra.utils import instantiate

from sonicsynth.align.base import SILENCE_PHONE, Aligner, AlignmentError, Pronunciations, check_plausible
from sonicsynth.audio import MelSpectrogram, load_audio
from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan
from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.aligner.lightning_module import CTCAlignerLitModule


class CTCAligner(Aligner):
    def __init__(self, config: dict[str, Any], state_dict: dict[str, torch.Tensor], frontend, language: str = "en",
                 min_silence_sec: float = 0.06, origin: str | Path = "") -> None:
        self.recognizer = instantiate(config["recognizer"], _convert_="all")
        check_state_dict_matches(self.recognizer, state_dict, origin)
        self.recognizer.load_state_dict(state_dict)
        self.recognizer.eval()
        self.mel = MelSpectrogram(**config["mel"])
        from sonicsynth.text import SYMBOLS

        if list(config["symbols"]) != list(SYMBOLS):
            raise ValueError(f"{origin}: the aligner was trained with another symbol table than this front end's")
        self.frontend, self.language, self.min_silence_sec = frontend, language, min_silence_sec

    @property
    def name(self) -> str:
        return "ctc"

    @classmethod
    def load(cls, path: str | Path, frontend, **kwargs: Any) -> "CTCAligner":
        """A package directory or a training checkpoint of the aligner family."""
        path = Path(path)
        if path.is_dir():
            package = load_package(path, family=CTCAlignerLitModule.family)
            return cls(package.config, package.state_dict, frontend, origin=path, **kwargs)
        weights, config = CTCAlignerLitModule.package_contents(load_training_checkpoint(path))
        return cls(config, weights, frontend, origin=path, **kwargs)

    def _targets(self, transcript: str, words: Pronunciations | None) -> tuple[list[tuple[str, list[str]]], list[int]]:
        """The spoken words with their phones, and the phones' ids (punctuation left out)."""
        from sonicsynth.text import phones_to_ids
        from sonicsynth.text.languages import language_spec
        from sonicsynth.text.punctuation import PUNCTUATION

        if words is None:
            text = self.frontend.process(transcript, self.language)
            spoken = [w for w in text.words if w.phones[0] not in PUNCTUATION]
            words = [(w.text, list(w.phones)) for w in spoken]
            ids = [i for w in spoken for i in phones_to_ids(w.phones, language_spec(w.language).phone_set)]
        else:
            words = [(w, list(p)) for w, p in words]
            phone_set = language_spec(self.language).phone_set
            ids = phones_to_ids([p for _, ps in words for p in ps], phone_set, transcript)
        return words, ids

    def _phone_set_name(self) -> str:
        """English phones are CMU ARPAbet (with stress), readable by every ARPAbet tool; the others are
        named by our symbol table's version and phone set."""
        from sonicsynth.align.base import ARPABET
        from sonicsynth.text import SYMBOL_TABLE_VERSION, PhoneSet
        from sonicsynth.text.languages import language_spec

        phone_set = language_spec(self.language).phone_set
        return ARPABET if phone_set == PhoneSet.ARPABET else f"sonicsynth-v{SYMBOL_TABLE_VERSION}-{phone_set.value}"

    @torch.inference_mode()
    def log_probs(self, samples: torch.Tensor) -> torch.Tensor:
        return self.recognizer(self.mel(samples))[0]

    def align(self, audio_path: str | os.PathLike[str], transcript: str, words: Pronunciations | None = None) -> Alignment:
        try:
            words, ids = self._targets(transcript, words)
        except ValueError as err:  # empty text, unknown phones or characters
            raise AlignmentError(audio_path, f"transcript: {err}") from err
        if not ids:
            raise AlignmentError(audio_path, "the transcript has no phones to align")
        audio = load_audio(audio_path, self.mel.sample_rate)
        log_probs = self.log_probs(torch.from_numpy(audio.samples))
        targets = torch.tensor([ids])
        if targets.shape[1] > log_probs.shape[0]:
            raise AlignmentError(audio_path, f"{targets.shape[1]} phones cannot fit in {log_probs.shape[0]} frames")
        try:
            path, scores = AF.forced_align(log_probs.unsqueeze(0), targets, blank=0)
        except RuntimeError as err:
            raise AlignmentError(audio_path, f"no alignment path: {err}") from err
        spans = AF.merge_tokens(path[0], scores[0].exp())
        alignment = self._intervals(words, spans, log_probs.shape[0], audio.duration)
        check_plausible(alignment, audio.duration, [w for w, _ in words], audio_path)
        return alignment

    def _intervals(self, words, spans, num_frames: int, duration: float) -> Alignment:
        frame_sec = self.mel.hop_length / self.mel.sample_rate
        min_gap = round(self.min_silence_sec / frame_sec)
        word_starts, index = set(), 0
        for _, phones in words:
            word_starts.add(index)
            index += len(phones)
        phones: list[PhoneSpan] = []
        if spans[0].start > 0:
            phones.append(PhoneSpan(SILENCE_PHONE, 0.0, spans[0].start * frame_sec))
        flat = [p for _, ps in words for p in ps]
        for i, span in enumerate(spans):
            next_start = spans[i + 1].start if i + 1 < len(spans) else num_frames
            end = next_start
            # A long enough blank run before the next word is a pause, not part of this phone.
            if next_start - span.end >= min_gap and (i + 1 in word_starts or i + 1 == len(spans)):
                end = span.end
            phones.append(PhoneSpan(flat[i], span.start * frame_sec, end * frame_sec))
            if end < next_start:
                phones.append(PhoneSpan(SILENCE_PHONE, end * frame_sec, next_start * frame_sec))
        phones[-1] = phones[-1]._replace(end=duration)  # the last frame may be partial
        word_spans, i = [], 0
        speech = [p for p in phones if p.phone != SILENCE_PHONE]
        for word, ps in words:
            word_spans.append(WordSpan(word, speech[i].start, speech[i + len(ps) - 1].end))
            i += len(ps)
        return Alignment(phone_set=self._phone_set_name(), source=self.name, phones=tuple(phones), words=tuple(word_spans))
