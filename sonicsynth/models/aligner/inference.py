"""Forced alignment with the built-in aligners: the HMM aligner and the CTC phone recogniser.

The transcript goes through the text front end; its phones (punctuation excluded: it has no sound
of its own) are the targets.

`HMMAligner` (backend "hmm", see `hmm_module`): Viterbi over the phone loop with three states per
phone, scored by the Gaussian mixtures. Pauses shorter than `min_silence_sec` go to the phone before.

`CTCAligner` (backend "ctc"): how frames are assigned depends on how the recogniser was trained
(`decoding` in its package config, see `lightning_module`):

- "phone_loop": Viterbi over the phone loop of `phone_loop` (every frame is a phone or a pause
  between words), each phone lasting at least `min_phone_sec` (30 ms: 3 frames of 10 ms, the floor
  the HMM aligner's three states set; it keeps one uncertain frame from becoming a phone, which
  lifted held-out boundaries within 20 ms from 74.7% to 76.8% for the HMM-taught recogniser).
  Pauses shorter than `min_silence_sec` go to the phone before them.
- "ctc": `torchaudio.functional.forced_align`. CTC is "peaky", so blanks fill the frames between
  spans; a phone owns the frames from its span's start to the next phone's start, and a run of
  blanks of at least `min_silence_sec` at a word boundary becomes a pause, as do the blanks before
  the first and after the last phone.

Both place boundaries on frame edges, and both are biased: trained from the transcripts alone, an
aligner learns where a phone's spectrum changes, not where a synthesis engine or a labeller puts the
boundary. On the demo voices boundaries between phones land a few ms late, and the edges of pauses
(where a phone fades into silence) ten or more ms early. `boundary_shift_sec` moves every boundary
inside the utterance by a constant of its kind (between phones, into a pause, out of a pause; one
number: the same for all); `sonicsynth.align.calibration` measures them on a held-out split with
known timings and records them in the aligner's package (config key `boundary_shift_sec`), which is
where they are read from by default.
"""

from __future__ import annotations

import itertools
import os
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torchaudio.functional as AF
from hydra.utils import instantiate

from sonicsynth.align.base import (
    BOUNDARY_KINDS,
    SILENCE_PHONE,
    Aligner,
    AlignmentError,
    Pronunciations,
    boundary_kind,
    check_plausible,
)
from sonicsynth.audio import MelSpectrogram, load_audio
from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan
from sonicsynth.export.package import (
    check_state_dict_matches,
    load_package,
    load_training_checkpoint,
)
from sonicsynth.models.aligner.hmm_module import HMMAlignerLitModule
from sonicsynth.models.aligner.lightning_module import CTCAlignerLitModule
from sonicsynth.models.aligner.phone_loop import (
    batch_states,
    expand_phone_states,
    phone_loop_states,
    split_words,
    viterbi_states,
)
from sonicsynth.models.packaging import PackageableModule


def collapse_substates(path: list[int], substates: list[int]) -> list[int]:
    """A best path over `expand_phone_states` states as a path over the phone loop's states.

    Sub-state 0 starts a phone (or is a pause): counting them maps each state back to its phone."""
    owner = [i - 1 for i in itertools.accumulate(int(k == 0) for k in substates)]
    return [owner[state] for state in path]


BOUNDARY_SHIFT_KEY = "boundary_shift_sec"


def shift_boundaries(phones: list[PhoneSpan], shift_sec: float | Mapping[str, float]) -> list[PhoneSpan]:
    """Every boundary between two phones moved by `shift_sec`, one value or one per boundary kind
    (`sonicsynth.align.base.BOUNDARY_KINDS`, kinds not named: 0); the utterance's start and end stay.

    A boundary never moves more than a third into the phone it moves into, so every phone keeps a
    positive length whatever the shifts, even when its two boundaries move towards each other."""
    shifts = boundary_shifts_sec(shift_sec)
    if not any(shifts.values()) or len(phones) < 2:
        return phones
    moved = []
    for before, after in itertools.pairwise(phones):
        shift = shifts[boundary_kind(before.phone, after.phone)]
        if shift > 0:
            moved.append(min(after.start + shift, after.start + (after.end - after.start) / 3))
        else:
            moved.append(max(after.start + shift, before.end - (before.end - before.start) / 3))
    starts = [phones[0].start, *moved]
    ends = [*moved, phones[-1].end]
    return [p._replace(start=start, end=end) for p, start, end in zip(phones, starts, ends)]


def boundary_shifts_sec(value: float | Mapping[str, float]) -> dict[str, float]:
    """A recorded or given boundary shift as one value per boundary kind (a single value: the same
    for every kind, as packages calibrated before the kinds recorded it)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(BOUNDARY_KINDS))
        if unknown:
            raise ValueError(f"boundary shifts for unknown boundary kinds {unknown}; "
                             f"the kinds are {list(BOUNDARY_KINDS)}")
        return {kind: float(value.get(kind, 0.0)) for kind in BOUNDARY_KINDS}
    return dict.fromkeys(BOUNDARY_KINDS, float(value))


class TranscriptAligner(Aligner):
    """What the built-in aligners share: transcript to phone targets through the text front end,
    a best path over the phone loop to phone and word intervals, loading from a package or checkpoint."""

    family_module: type[PackageableModule]

    def __init__(self, config: dict[str, Any], frontend, language: str, min_silence_sec: float,
                 boundary_shift_sec: float | Mapping[str, float] | None, origin: str | Path) -> None:
        from sonicsynth.text import SYMBOLS

        if list(config["symbols"]) != list(SYMBOLS):
            raise ValueError(f"{origin}: the aligner was trained with another symbol table than this front end's")
        self.frontend, self.language, self.min_silence_sec = frontend, language, min_silence_sec
        # None: the calibrated shifts the package records (0 for an uncalibrated model or a checkpoint).
        self.boundary_shift_sec = boundary_shifts_sec(config.get(BOUNDARY_SHIFT_KEY, 0.0) if boundary_shift_sec is None
                                                      else boundary_shift_sec)

    @classmethod
    def load(cls, path: str | Path, frontend, **kwargs: Any) -> TranscriptAligner:
        """A package directory or a training checkpoint of the aligner's family."""
        path = Path(path)
        if path.is_dir():
            package = load_package(path, family=cls.family_module.family)
            return cls(package.config, package.state_dict, frontend, origin=path, **kwargs)
        weights, config = cls.family_module.package_contents(load_training_checkpoint(path))
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

    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @property
    @abstractmethod
    def frame_sec(self) -> float: ...

    @abstractmethod
    def _phones(self, words, ids: list[int], samples, audio_path) -> list[PhoneSpan]:
        """Phone intervals (pauses included) of the audio samples at `sample_rate`."""

    def align(self, audio_path: str | os.PathLike[str], transcript: str, words: Pronunciations | None = None) -> Alignment:
        try:
            words, ids = self._targets(transcript, words)
        except ValueError as err:  # empty text, unknown phones or characters
            raise AlignmentError(audio_path, f"transcript: {err}") from err
        if not ids:
            raise AlignmentError(audio_path, "the transcript has no phones to align")
        audio = load_audio(audio_path, self.sample_rate)
        phones = self._phones(words, ids, audio.samples, audio_path)
        phones[-1] = phones[-1]._replace(end=audio.duration)  # the last frame may be partial
        phones = shift_boundaries(phones, self.boundary_shift_sec)
        alignment = self._alignment(words, phones)
        check_plausible(alignment, audio.duration, [w for w, _ in words], audio_path)
        return alignment

    def _phone_loop_spans(self, words, path: list[int], optional: list[bool]) -> list[PhoneSpan]:
        """Intervals of a best path over `phone_loop_states` (one state per phone or pause)."""
        labels = [SILENCE_PHONE]
        for _, ps in words:
            labels += [*ps, SILENCE_PHONE]
        runs: list[list[int]] = []  # [state, first frame, end frame]
        for frame, state in enumerate(path):
            if runs and runs[-1][0] == state:
                runs[-1][2] = frame + 1
            else:
                runs.append([state, frame, frame + 1])
        min_pause = round(self.min_silence_sec / self.frame_sec)
        phones: list[PhoneSpan] = []
        for state, start, end in runs:
            short_pause = optional[state] and end - start < min_pause
            if short_pause and phones:  # too short to be a pause: the end of the phone before it
                phones[-1] = phones[-1]._replace(end=end * self.frame_sec)
            else:
                phones.append(PhoneSpan(labels[state], start * self.frame_sec, end * self.frame_sec))
        return phones

    def _alignment(self, words, phones: list[PhoneSpan]) -> Alignment:
        word_spans, i = [], 0
        speech = [p for p in phones if p.phone != SILENCE_PHONE]
        for word, ps in words:
            word_spans.append(WordSpan(word, speech[i].start, speech[i + len(ps) - 1].end))
            i += len(ps)
        return Alignment(phone_set=self._phone_set_name(), source=self.name, phones=tuple(phones), words=tuple(word_spans))


class HMMAligner(TranscriptAligner):
    family_module = HMMAlignerLitModule

    def __init__(self, config: dict[str, Any], state_dict: dict[str, torch.Tensor], frontend, language: str = "en",
                 min_silence_sec: float = 0.06, boundary_shift_sec: float | Mapping[str, float] | None = None,
                 origin: str | Path = "") -> None:
        super().__init__(config, frontend, language, min_silence_sec, boundary_shift_sec, origin)
        self.model = HMMAlignerLitModule.from_package_contents(config, state_dict, origin)
        self.states_per_phone = config["states_per_phone"]

    @property
    def name(self) -> str:
        return "hmm"

    @property
    def sample_rate(self) -> int:
        return self.model.features.sample_rate

    @property
    def frame_sec(self) -> float:
        return self.model.features.frame_sec

    @torch.inference_mode()
    def _phones(self, words, ids: list[int], samples, audio_path) -> list[PhoneSpan]:
        features = self.model.features(torch.from_numpy(samples))
        counts = [len(ps) for _, ps in words]
        classes, optional = phone_loop_states(split_words(ids, counts))
        mandatory = len(ids) * self.states_per_phone
        if mandatory > len(features):
            raise AlignmentError(audio_path, f"{len(ids)} phones ({mandatory} states) cannot fit in {len(features)} frames")
        topology = batch_states(torch.tensor([ids]), torch.tensor([len(ids)]), torch.tensor([counts]),
                                torch.tensor([len(counts)]), self.states_per_phone)
        paths, _ = self.model.align_batch(features.unsqueeze(0), torch.tensor([len(features)]), topology)
        _, substates, _ = expand_phone_states(classes, optional, self.states_per_phone)
        return self._phone_loop_spans(words, collapse_substates(paths[0], substates), optional)


class CTCAligner(TranscriptAligner):
    family_module = CTCAlignerLitModule

    def __init__(self, config: dict[str, Any], state_dict: dict[str, torch.Tensor], frontend, language: str = "en",
                 min_silence_sec: float = 0.06, min_phone_sec: float = 0.03,
                 boundary_shift_sec: float | Mapping[str, float] | None = None, origin: str | Path = "") -> None:
        super().__init__(config, frontend, language, min_silence_sec, boundary_shift_sec, origin)
        self.recognizer = instantiate(config["recognizer"], _convert_="all")
        check_state_dict_matches(self.recognizer, state_dict, origin)
        self.recognizer.load_state_dict(state_dict)
        self.recognizer.eval()
        self.mel = MelSpectrogram(**config["mel"])
        self.min_phone_frames = max(1, round(min_phone_sec / self.frame_sec))
        self.decoding = config.get("decoding", "ctc")
        if self.decoding not in ("ctc", "phone_loop"):
            raise ValueError(f"{origin}: unknown decoding {self.decoding!r} (expected 'ctc' or 'phone_loop')")

    @property
    def name(self) -> str:
        return "ctc"

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    @property
    def frame_sec(self) -> float:
        """The recogniser's output frame: a mel frame, or a sub-frame of one."""
        return self.recognizer.output_frame_sec(self.mel.frame_sec)

    @torch.inference_mode()
    def log_probs(self, samples: torch.Tensor) -> torch.Tensor:
        return self.recognizer(self.mel(samples))[0]

    def _phones(self, words, ids: list[int], samples, audio_path) -> list[PhoneSpan]:
        log_probs = self.log_probs(torch.from_numpy(samples))
        if len(ids) > log_probs.shape[0]:
            raise AlignmentError(audio_path, f"{len(ids)} phones cannot fit in {log_probs.shape[0]} frames")
        if self.decoding == "phone_loop":
            classes, optional = phone_loop_states(split_words(ids, [len(ps) for _, ps in words]))
            if len(ids) * self.min_phone_frames > log_probs.shape[0]:
                raise AlignmentError(audio_path, f"{len(ids)} phones of at least {self.min_phone_frames} frames "
                                                 f"cannot fit in {log_probs.shape[0]} frames")
            # A phone of `min_phone_frames` identical left-to-right states lasts at least that many frames.
            expanded, substates, expanded_optional = expand_phone_states(classes, optional, self.min_phone_frames)
            path = viterbi_states(log_probs, expanded, expanded_optional)
            return self._phone_loop_spans(words, collapse_substates(path, substates), optional)
        return self._ctc_intervals(words, ids, log_probs, audio_path)

    def _ctc_intervals(self, words, ids: list[int], log_probs: torch.Tensor, audio_path) -> list[PhoneSpan]:
        try:
            path, scores = AF.forced_align(log_probs.unsqueeze(0), torch.tensor([ids]), blank=0)
        except RuntimeError as err:
            raise AlignmentError(audio_path, f"no alignment path: {err}") from err
        spans = AF.merge_tokens(path[0], scores[0].exp())
        num_frames = log_probs.shape[0]
        frame_sec = self.frame_sec
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
        return phones
