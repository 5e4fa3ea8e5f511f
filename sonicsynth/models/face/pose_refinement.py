"""Pose refinement from text context: what the words say adjusts the predicted head motion.

A speech-driven face model hears loudness and intonation, but not that a sentence is a question, that
the user stressed a word, or that the text is sad. Speakers mark those with their head (a nod on the
stressed word, a raised head at the end of a question), so this module adds them, by rule, on top of
the predicted pose. Two steps:

1. `build_pose_context(text, duration, words=..., emotion=..., energy_db=...)` reads the text:

   - **Sentences** end after . ? ! ... (and their full-width forms 。？！); a Latin mark only ends a
     sentence when the end of the text, or a space and no lower-case letter, follows ("3.5" and
     "e.g. this" stay whole), closing quotes and brackets after the mark stay with their sentence.
     Unlike `text.chunking` (which cuts for the TTS model and joins or splits pieces by length),
     every sentence is kept as written, because its type depends on its own final mark.
   - **Type** from the final marks (closing quotes and brackets skipped): any ? or ？ makes a
     question ("Really?!", 'She asked "why?"'), else any ! or ！ an exclamation, else (also ... and
     no mark at all) a statement.
   - **Emphasis markup**: `*a word*` (a starred span, one emphasis even when it holds several words
     or Chinese characters) or a word in ALL CAPS of two or more letters (consecutive capitalised
     words form one span; only counted when the text also has lower-case letters, so a text typed
     in capitals is not all emphasis). The asterisks are removed from `PoseContext.text`; capitals
     are kept as written. When nothing is marked and `energy_db` (the audio's frame energy in dB at
     the motion's frame rate, e.g. `audio.prosody.frame_energy_db(samples_16k, 1280, 640)`) is
     given, the loudest word (highest mean energy) of each sentence is emphasised.
   - **Stressed part** of an emphasised word, where its nod peaks: the centre of its primary-stress
     vowel when an ARPAbet alignment with phones is given (digit 1), else its loudest energy frame,
     else one third into the word (most English words stress their first syllable).
   - **Emotion**: one of `EMOTIONS` for the whole text, or one per sentence.
   - **Timing**: with word timings (an `Alignment`'s words, or (word, start, end) seconds), the
     timed words are matched to the text's words character by character (so case, punctuation and
     extra silence entries do not matter); a text word without a timed match (a number the aligner
     spelled out, say) shares the gap between its matched neighbours. Without word timings the
     sentences are spread over the whole duration in proportion to their non-space character
     count, and words inside them likewise: an approximation (it ignores pauses and speaking rate),
     good to a few hundred milliseconds on evenly read text, which is why `PoseContext.timing`
     says "proportional" and the record repeats it.

2. `refine_pose(motion, context, settings)` applies the rules, every one additive on top of the
   predicted pose (and only on the named expression channels), scaled by the preset's
   `PoseRefinementSettings.strength` (0 returns the input bit for bit), at strength 1:

   - **Emphasis nod**: pitch down by `emphasis_nod_degrees` (default 4, presets 3-5) as a
     raised-cosine pulse of `nod_duration_sec` (default 0.36 s) centred on the word's stressed part
     (down and back, zero outside the pulse). Overlapping nods take the deeper, not the sum, so two
     adjacent stressed words do not nod twice as far. A beat gesture of this size and length is what
     speakers produce on pitch accents; larger reads as agreement, not stress.
   - **Question**: over the last `QUESTION_RISE_SEC` (0.6 s) of the sentence the head rises by
     `QUESTION_PITCH_DEGREES` (2) and tilts by `QUESTION_ROLL_DEGREES` (1.5, toward the side the head
     already leans there, right-positive when level), raised-cosine in, then released over
     `QUESTION_RELEASE_SEC` (0.4 s): the "waiting for an answer" posture that accompanies the final
     rise of a question.
   - **Exclamation**: its nods are `EXCLAMATION_NOD_GAIN` (1.5x) deeper and
     `EXCLAMATION_NOD_SHARPNESS` (0.75x) shorter; an exclamation with no emphasised word nods on its
     last word (its nuclear accent); and its predicted head motion is scaled by
     `EXCLAMATION_MOTION_GAIN` (1.25) about the motion's mean pose: more energy, same framing.
   - **Emotion** (`EMOTION_MODULATIONS`), a modulation over the sentences that carry it: happy =
     livelier (motion x1.2, nods x1.1) with the head 1.5 degrees up; sad = head 3 degrees lower,
     motion x0.7, nods x0.7; angry = nods x1.4 and yaw sway x0.6 (a fixed, confronting gaze);
     surprised = head 2.5 degrees up with browInnerUp +0.3 and eyeWideLeft/Right +0.25. Gains act
     about the mean pose (as `motion_scale` does in `postprocess`); between sentences of different
     emotions every modulation crossfades over `EMOTION_TRANSITION_SEC` (0.4 s), so there is no jump.

   Strength scales the offsets and each nod's depth (its emotion and exclamation factors included)
   linearly, and the motion gains as 1 + strength * (gain - 1) (floored at 0, never mirrored).
   Values a rule moves are clipped to the pose limits (those of `PostprocessSettings`, default
   +-45/60/45 degrees, 0.5 face-box sizes) and blendshapes to [0, 1]; values no rule moves are
   returned exactly as given, so the mouth channels and every expression channel not named above
   never change. The returned record lists each applied event (kind, sentence, time, frames,
   magnitude) and the clipping counts for the generation log.

Run it after `postprocess`, on the processed motion: a preset's nod size is then the nod the viewer
sees, neither scaled again by `motion_scale` nor flattened by the pose smoothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np
from scipy.ndimage import convolve1d

from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan
from sonicsynth.models.face.blendshapes import FPS, FaceMotion, blendshape_index
from sonicsynth.models.face.postprocess import PoseRefinementSettings, PostprocessSettings

__all__ = [
    "EMOTIONS", "EMOTION_MODULATIONS", "SENTENCE_TYPES", "Emphasis", "EmotionModulation", "PoseContext",
    "PoseRefinementSettings", "Sentence", "build_pose_context", "parse_emphasis_markup", "refine_pose",
    "sentence_type", "split_sentences",
]

SENTENCE_TYPES = ("statement", "question", "exclamation")

QUESTION_RISE_SEC = 0.6
QUESTION_RELEASE_SEC = 0.4
QUESTION_PITCH_DEGREES = 2.0
QUESTION_ROLL_DEGREES = 1.5
EXCLAMATION_NOD_GAIN = 1.5
EXCLAMATION_NOD_SHARPNESS = 0.75
EXCLAMATION_MOTION_GAIN = 1.25
EMOTION_TRANSITION_SEC = 0.4
STRESS_POSITION = 1.0 / 3.0  # where in a word the nod peaks without phones or energy


@dataclass(frozen=True)
class EmotionModulation:
    """One emotion's effect at strength 1: a pitch offset (degrees, + = up), gains on the predicted
    head motion about its mean (`pose_gain` all six channels, `sway_gain` yaw on top), a gain on the
    emphasis nods and additive offsets on named expression blendshapes."""

    pitch_offset: float = 0.0
    pose_gain: float = 1.0
    sway_gain: float = 1.0
    nod_gain: float = 1.0
    expression: tuple[tuple[str, float], ...] = ()


EMOTION_MODULATIONS: dict[str, EmotionModulation] = {
    "neutral": EmotionModulation(),
    "happy": EmotionModulation(pitch_offset=1.5, pose_gain=1.2, nod_gain=1.1),
    "sad": EmotionModulation(pitch_offset=-3.0, pose_gain=0.7, nod_gain=0.7),
    "angry": EmotionModulation(sway_gain=0.6, nod_gain=1.4),
    "surprised": EmotionModulation(
        pitch_offset=2.5, expression=(("browInnerUp", 0.3), ("eyeWideLeft", 0.25), ("eyeWideRight", 0.25))),
}
EMOTIONS: tuple[str, ...] = tuple(EMOTION_MODULATIONS)
EXPRESSION_CHANNELS: tuple[str, ...] = tuple(dict.fromkeys(
    name for modulation in EMOTION_MODULATIONS.values() for name, _ in modulation.expression))


# --- context ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Emphasis:
    """One emphasised word (or starred span) and the instant its nod peaks at.

    `source`: "markup" (starred or capitals), "audio" (loudest word of its sentence) or
    "exclamation" (last word of an exclamation with nothing emphasised); `peak_from` says how `peak`
    was found ("stressed vowel", "loudest frame" or "one third in").
    """

    text: str
    start: float
    end: float
    peak: float
    source: str
    peak_from: str


@dataclass(frozen=True)
class Sentence:
    """One sentence as written (markup removed), its type, emotion, span in seconds and emphases."""

    text: str
    kind: str
    emotion: str
    start: float
    end: float
    emphasis: tuple[Emphasis, ...] = ()


@dataclass(frozen=True)
class PoseContext:
    """The text side of one utterance, timed against its audio: what `refine_pose` reads.

    `timing` is "aligned" (from word timings) or "proportional" (spread by character count).
    """

    text: str
    duration: float
    timing: str
    sentences: tuple[Sentence, ...] = field(default_factory=tuple)


_EMPHASIS_MARK = re.compile(r"\*([^*]*)\*")
_FULL_WIDTH_MARKS = "。？！"
_CLOSERS = "\"'”’»」』）)]"  # closing quotes and brackets that follow a sentence's final mark
_SENTENCE_MARKS = re.compile(rf"[.?!…。？！]+[{re.escape(_CLOSERS)}]*")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A word: one CJK character (Chinese is written without spaces; a character is a syllable), or a
# run of letters and digits with inner apostrophes ("don't").
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*")


def parse_emphasis_markup(text: str) -> tuple[str, list[tuple[int, int]]]:
    """`text` without the `*...*` marks, and the (start, end) character span of each starred part in it.

    An unpaired or empty pair of asterisks is an error: silently reading it as text would speak it.
    """
    clean, spans, position = [], [], 0
    length = 0
    for match in _EMPHASIS_MARK.finditer(text):
        if not match.group(1).strip():
            raise ValueError(f"empty emphasis mark '**' at character {match.start()} of the text")
        before = text[position:match.start()]
        clean.append(before)
        length += len(before)
        spans.append((length, length + len(match.group(1))))
        clean.append(match.group(1))
        length += len(match.group(1))
        position = match.end()
    rest = text[position:]
    if "*" in rest:
        raise ValueError(f"unpaired '*' at character {position + rest.index('*')} of the text; "
                         "mark emphasis as *word*")
    clean.append(rest)
    return "".join(clean), spans


def sentence_type(sentence: str) -> str:
    """"question", "exclamation" or "statement" from the final marks (closing quotes skipped)."""
    tail = sentence.rstrip().rstrip(_CLOSERS + " ")
    marks = tail[len(tail.rstrip(".?!…。？！")):]
    if "?" in marks or "？" in marks:
        return "question"
    if "!" in marks or "！" in marks:
        return "exclamation"
    return "statement"


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, whitespace trimmed (module docstring)."""
    spans, start = [], 0
    for match in _SENTENCE_MARKS.finditer(text):
        following = text[match.end():]
        full_width = any(mark in _FULL_WIDTH_MARKS for mark in match.group())
        ends = full_width or not following.strip() or (
            following[:1].isspace() and not re.match(r"\s+[a-z\u00df-\u024f]", following))
        if ends:
            spans.append((start, match.end()))
            start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for first, last in spans:
        piece = text[first:last]
        if piece.strip():
            first += len(piece) - len(piece.lstrip())
            last -= len(piece) - len(piece.rstrip())
            trimmed.append((first, last))
    return trimmed


def _normalised(word: str) -> str:
    return "".join(char for char in word.casefold() if char.isalnum())


def _timed_words(words: Alignment | Sequence[Any], duration: float,
                 fps: float) -> tuple[list[WordSpan], tuple[PhoneSpan, ...]]:
    """Word timings checked against the motion's duration (one frame of slack: frames round up)."""
    phones: tuple[PhoneSpan, ...] = ()
    if isinstance(words, Alignment):
        if words.words is None:
            raise ValueError("the alignment has no word timings; pass words=None to spread the sentences "
                             "over the duration by character count")
        if "arpabet" in words.phone_set.lower():
            phones = words.phones
        words = words.words
    spans = []
    for item in words:
        try:
            word, start, end = item
            span = WordSpan(str(word), float(start), float(end))
        except (TypeError, ValueError) as error:
            raise ValueError(f"word timings must be (word, start, end) in seconds, got {item!r}") from error
        if not (math.isfinite(span.start) and math.isfinite(span.end)) or span.start < 0 or span.end < span.start:
            raise ValueError(f"word {span.word!r} has an invalid interval {span.start}-{span.end} s")
        if span.end > duration + 1.0 / fps + 1e-9:
            raise ValueError(f"word {span.word!r} at {span.start:.3f}-{span.end:.3f} s ends after the motion's "
                             f"duration of {duration:.3f} s (wrong alignment for this audio?)")
        spans.append(span)
    if not spans:
        raise ValueError("word timings are empty; pass words=None to spread the sentences by character count")
    return spans, phones


def _align_tokens(tokens: list[str], timed: list[WordSpan]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (s) of each text word from the timed words, matched character by character."""
    text_chars, text_owner, timed_chars, timed_owner = [], [], [], []
    for index, token in enumerate(tokens):
        for char in _normalised(token):
            text_chars.append(char)
            text_owner.append(index)
    for index, span in enumerate(timed):
        for char in _normalised(span.word):
            timed_chars.append(char)
            timed_owner.append(index)
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    matcher = SequenceMatcher(None, text_chars, timed_chars, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            votes[timed_owner[b + k]][text_owner[a + k]] += 1
    starts, ends = np.full(len(tokens), np.inf), np.full(len(tokens), -np.inf)
    for word_index in sorted(votes):
        token = votes[word_index].most_common(1)[0][0]
        starts[token] = min(starts[token], timed[word_index].start)
        ends[token] = max(ends[token], timed[word_index].end)
    matched = np.isfinite(starts)
    if not matched.any():
        raise ValueError("none of the timed words matches the text (timings of another utterance?)")
    # Unmatched words share the gap between their matched neighbours, by character count.
    first_time, last_time = min(span.start for span in timed), max(span.end for span in timed)
    index = 0
    while index < len(tokens):
        if matched[index]:
            index += 1
            continue
        run_end = index
        while run_end < len(tokens) and not matched[run_end]:
            run_end += 1
        left = ends[index - 1] if index > 0 else first_time
        right = starts[run_end] if run_end < len(tokens) else last_time
        right = max(right, left)
        weights = np.array([max(1, len(_normalised(tokens[k]))) for k in range(index, run_end)], dtype=float)
        edges = left + (right - left) * np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
        starts[index:run_end], ends[index:run_end] = edges[:-1], edges[1:]
        index = run_end
    return starts, ends


def _proportional_times(text: str, token_spans: list[tuple[int, int]], sentence_spans: list[tuple[int, int]],
                        duration: float) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Word and sentence times with every non-space character taking an equal share of the duration."""
    before = np.cumsum([0] + [0 if char.isspace() else 1 for char in text])  # non-space chars before index
    total = max(int(before[-1]), 1)

    def at(index: int) -> float:
        return duration * float(before[index]) / total

    starts = np.array([at(first) for first, _ in token_spans])
    ends = np.array([at(last) for _, last in token_spans])
    return starts, ends, [(at(first), at(last)) for first, last in sentence_spans]


def _frames_within(start: float, end: float, fps: float, num_frames: int) -> np.ndarray:
    """Frames whose time k / fps lies in [start, end]; the nearest frame for a span shorter than one."""
    first, last = math.ceil(start * fps - 1e-9), math.floor(end * fps + 1e-9)
    first, last = max(first, 0), min(last, num_frames - 1)
    if last < first:
        return np.array([min(max(round((start + end) / 2 * fps), 0), num_frames - 1)])
    return np.arange(first, last + 1)


def _stressed_instant(start: float, end: float, phones: tuple[PhoneSpan, ...], energy: np.ndarray | None,
                      fps: float) -> tuple[float, str]:
    for phone in phones:
        centre = (phone.start + phone.end) / 2
        if phone.phone.endswith("1") and start <= centre <= end:
            return centre, "stressed vowel"
    if energy is not None:
        frames = _frames_within(start, end, fps, len(energy))
        return float(frames[int(np.argmax(energy[frames]))]) / fps, "loudest frame"
    return start + STRESS_POSITION * (end - start), "one third in"


def _emotions_per_sentence(emotion: str | Sequence[str], count: int) -> list[str]:
    names = [emotion] * count if isinstance(emotion, str) else list(emotion)
    if len(names) != count:
        raise ValueError(f"got {len(names)} emotions for {count} sentences; give one emotion for the whole "
                         "text or one per sentence")
    for name in names:
        if name not in EMOTION_MODULATIONS:
            raise ValueError(f"unknown emotion {name!r}; valid emotions: {', '.join(EMOTIONS)}")
    return names


def build_pose_context(text: str, duration: float, *, words: Alignment | Sequence[Any] | None = None,
                       emotion: str | Sequence[str] = "neutral", energy_db: np.ndarray | None = None,
                       fps: float = FPS) -> PoseContext:
    """The sentences, types, emphases and emotions of `text`, timed over `duration` seconds of motion.

    `words`: an `Alignment` with word timings or (word, start, end) triples in seconds; None spreads
    the text by character count. `energy_db`: per-frame energy at `fps`, used for the stressed part of
    a word and, when nothing is marked, to choose the loudest word of each sentence.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the text is empty; pose refinement needs the text that was spoken")
    if isinstance(duration, bool) or not isinstance(duration, (int, float, np.integer, np.floating)) \
            or not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    duration = float(duration)
    clean, starred = parse_emphasis_markup(text)
    sentence_spans = split_sentences(clean)
    matches = list(_WORD.finditer(clean))
    token_spans = [(m.start(), m.end()) for m in matches]
    tokens = [m.group() for m in matches]
    token_sentence = np.array([next(i for i, (a, b) in enumerate(sentence_spans) if a <= first < b)
                               for first, _ in token_spans], dtype=int)

    energy = None
    if energy_db is not None:
        energy = np.asarray(energy_db, dtype=np.float64)
        expected = math.ceil(duration * fps - 1e-9)
        if energy.ndim != 1 or abs(len(energy) - expected) > 2 or not np.isfinite(energy).all():
            raise ValueError(f"energy_db must be {expected} finite values (one per frame at {fps:g} fps), "
                             f"got shape {energy.shape}")

    phones: tuple[PhoneSpan, ...] = ()
    if words is None:
        starts, ends, sentence_times = _proportional_times(clean, token_spans, sentence_spans, duration)
        timing = "proportional"
    else:
        timed, phones = _timed_words(words, duration, fps)
        starts, ends = _align_tokens(tokens, timed) if tokens else (np.zeros(0), np.zeros(0))
        sentence_times, previous_end = [], 0.0
        for index in range(len(sentence_spans)):
            members = np.flatnonzero(token_sentence == index)
            if len(members):
                previous_end = float(ends[members].max())
                sentence_times.append((float(starts[members].min()), previous_end))
            else:  # a sentence of marks only: a point after the previous one
                sentence_times.append((previous_end, previous_end))
        timing = "aligned"

    # Emphasis spans as runs of word indices: starred spans, then capitalised runs outside them.
    runs: list[list[int]] = []
    for first, last in starred:
        inside = [k for k, (a, b) in enumerate(token_spans) if a < last and b > first]
        if not inside:
            raise ValueError(f"emphasis mark *{clean[first:last]}* holds no word")
        runs.append(inside)
    starred_tokens = {k for run in runs for k in run}
    if any(char.islower() for char in clean):
        for k, token in enumerate(tokens):
            if k in starred_tokens or sum(char.isalpha() for char in token) < 2 or not token.isupper():
                continue
            if runs and runs[-1][-1] == k - 1 and k - 1 not in starred_tokens \
                    and token_sentence[k - 1] == token_sentence[k]:
                runs[-1].append(k)
            else:
                runs.append([k])
    runs.sort()
    source = "markup"
    if not runs and energy is not None:
        source = "audio"
        for index in range(len(sentence_spans)):
            members = np.flatnonzero(token_sentence == index)
            if len(members):
                loudness = [energy[_frames_within(starts[k], ends[k], fps, len(energy))].mean() for k in members]
                runs.append([int(members[int(np.argmax(loudness))])])

    def emphasis(run: list[int], origin: str) -> Emphasis:
        start, end = float(starts[run].min()), float(ends[run].max())
        peak, peak_from = _stressed_instant(start, end, phones, energy, fps)
        return Emphasis(clean[token_spans[run[0]][0]:token_spans[run[-1]][1]], start, end, peak, origin, peak_from)

    emotions = _emotions_per_sentence(emotion, len(sentence_spans))
    sentences = []
    for index, (first, last) in enumerate(sentence_spans):
        piece = clean[first:last]
        kind = sentence_type(piece)
        own = tuple(emphasis(run, source) for run in runs if token_sentence[run[0]] == index)
        members = np.flatnonzero(token_sentence == index)
        if kind == "exclamation" and not own and len(members):
            own = (emphasis([int(members[-1])], "exclamation"),)
        start, end = sentence_times[index]
        sentences.append(Sentence(piece, kind, emotions[index], start, end, own))
    return PoseContext(clean, duration, timing, tuple(sentences))


# --- rules ----------------------------------------------------------------------------------------------

def _raised_cosine_pulse(times: np.ndarray, centre: float, width: float) -> np.ndarray:
    """1 at `centre`, falling as a raised cosine to 0 at +-width/2, exactly 0 outside."""
    offset = times - centre
    pulse = 0.5 * (1.0 + np.cos(2.0 * math.pi * offset / width))
    return np.where(np.abs(offset) < width / 2, pulse, 0.0)


def _question_shape(times: np.ndarray, rise_start: float, end: float) -> np.ndarray:
    """0 before `rise_start`, raised-cosine up to 1 at `end`, raised-cosine back to 0 over the release."""
    shape = np.zeros_like(times)
    rise = (times > rise_start) & (times <= end)
    if end > rise_start:
        shape[rise] = 0.5 * (1.0 - np.cos(math.pi * (times[rise] - rise_start) / (end - rise_start)))
    release = (times > end) & (times < end + QUESTION_RELEASE_SEC)
    shape[release] = 0.5 * (1.0 + np.cos(math.pi * (times[release] - end) / QUESTION_RELEASE_SEC))
    return shape


def _sentence_of_frame(times: np.ndarray, sentences: Sequence[Sentence]) -> np.ndarray:
    """Each frame's sentence: the one whose span holds it, else the nearest (pauses keep the mood)."""
    distance = np.stack([np.maximum(np.maximum(s.start - times, times - s.end), 0.0) for s in sentences])
    return np.argmin(distance, axis=0)


def _crossfade(track: np.ndarray, fps: float) -> np.ndarray:
    """A piecewise-constant track smoothed with a normalised raised-cosine window of the transition
    length; a track of zeros stays exactly zero (so a neutral text leaves the pose untouched)."""
    if not track.any():
        return track
    half = max(1, round(EMOTION_TRANSITION_SEC * fps / 2))
    window = np.hanning(2 * half + 3)[1:-1]
    return convolve1d(track, window / window.sum(), mode="nearest")


def _frame_range(weights: np.ndarray) -> list[int]:
    active = np.flatnonzero(weights)
    return [int(active[0]), int(active[-1])] if len(active) else []


def _scaled_gain(gain: float, strength: float) -> float:
    return max(0.0, 1.0 + strength * (gain - 1.0))


def refine_pose(motion: FaceMotion, context: PoseContext,
                settings: PostprocessSettings | PoseRefinementSettings | None = None
                ) -> tuple[FaceMotion, dict[str, Any]]:
    """`motion` with the text-context rules applied (module docstring), and the record of every event.

    `settings`: a style preset (its `pose_refinement` and `pose_limits` are used), bare
    `PoseRefinementSettings` (default pose limits) or None for the defaults.
    """
    if settings is None or isinstance(settings, PoseRefinementSettings):
        limits_from = PostprocessSettings()
        refinement = settings or limits_from.pose_refinement
    elif isinstance(settings, PostprocessSettings):
        limits_from, refinement = settings, settings.pose_refinement
    else:
        raise TypeError("settings must be PostprocessSettings or PoseRefinementSettings, "
                        f"got {type(settings).__name__}")
    if not isinstance(context, PoseContext):
        raise TypeError(f"context must be a PoseContext (from build_pose_context), got {type(context).__name__}")
    fps = float(motion.fps)
    if abs(context.duration - motion.duration) > 1.0 / fps + 1e-9:
        raise ValueError(f"the context covers {context.duration:.3f} s but the motion {motion.duration:.3f} s "
                         f"({motion.num_frames} frames at {fps:g} fps); build the context for this motion")
    limits = np.asarray(limits_from.pose_limits, dtype=np.float64)
    strength = refinement.strength
    record: dict[str, Any] = {
        "style": limits_from.style if isinstance(settings, PostprocessSettings) else None,
        "settings": asdict(refinement), "pose_limits": limits.tolist(), "timing": context.timing,
        "sentences": [{"text": s.text, "kind": s.kind, "emotion": s.emotion, "start": s.start, "end": s.end,
                       "emphasis": [e.text for e in s.emphasis]} for s in context.sentences],
        "events": [], "clipped": {"pose": 0, "blendshapes": 0},
    }
    if strength == 0.0 or not context.sentences:
        return motion.replace(), record

    num_frames = motion.num_frames
    times = np.arange(num_frames) / fps
    pose = motion.pose.astype(np.float64)
    pose_delta = np.zeros_like(pose)
    blendshape_delta = np.zeros_like(motion.blendshapes, dtype=np.float64)
    events: list[dict[str, Any]] = record["events"]
    sentences = context.sentences
    owner = _sentence_of_frame(times, sentences)

    # Emotion and exclamation: per-sentence tracks, crossfaded, then gains about the mean pose.
    modulations = [EMOTION_MODULATIONS[s.emotion] for s in sentences]
    pitch_offset = np.array([strength * m.pitch_offset for m in modulations])[owner]
    pose_gain = np.array([_scaled_gain(m.pose_gain, strength) - 1.0 for m in modulations])[owner]
    sway_gain = np.array([_scaled_gain(m.sway_gain, strength) - 1.0 for m in modulations])[owner]
    exclamation = np.zeros(num_frames)
    for index, sentence in enumerate(sentences):
        if sentence.kind == "exclamation":
            exclamation[(times >= sentence.start) & (times <= sentence.end)] = \
                _scaled_gain(EXCLAMATION_MOTION_GAIN, strength) - 1.0
            frames = _frame_range(exclamation * (owner == index))
            if frames:
                events.append({"kind": "exclamation_energy", "sentence": index, "time": sentence.start,
                               "frames": frames,
                               "magnitude": {"pose_gain": _scaled_gain(EXCLAMATION_MOTION_GAIN, strength)}})
    gain = (1.0 + _crossfade(pose_gain, fps)) * (1.0 + _crossfade(exclamation, fps))
    gains = np.repeat(gain[:, None], 6, axis=1)
    gains[:, 1] *= 1.0 + _crossfade(sway_gain, fps)
    mean_pose = pose.mean(axis=0, keepdims=True)
    pose_delta += (np.maximum(gains, 0.0) - 1.0) * (pose - mean_pose)
    pose_delta[:, 0] += _crossfade(pitch_offset, fps)
    for name in EXPRESSION_CHANNELS:
        offsets = np.array([strength * dict(m.expression).get(name, 0.0) for m in modulations])[owner]
        blendshape_delta[:, blendshape_index(name)] += _crossfade(offsets, fps)
    for index, (sentence, modulation) in enumerate(zip(sentences, modulations)):
        if sentence.emotion == "neutral":
            continue
        magnitude = {"pitch": strength * modulation.pitch_offset,
                     "pose_gain": _scaled_gain(modulation.pose_gain, strength),
                     "yaw_gain": _scaled_gain(modulation.sway_gain, strength),
                     "nod_gain": modulation.nod_gain,
                     **{name: strength * value for name, value in modulation.expression}}
        events.append({"kind": "emotion", "emotion": sentence.emotion, "sentence": index, "time": sentence.start,
                       "frames": _frame_range(owner == index), "magnitude": magnitude})

    # Nods on the emphasised words; overlapping nods take the deeper one.
    nod_depth = np.zeros(num_frames)
    for index, (sentence, modulation) in enumerate(zip(sentences, modulations)):
        sharp = sentence.kind == "exclamation"
        width = refinement.nod_duration_sec * (EXCLAMATION_NOD_SHARPNESS if sharp else 1.0)
        depth = strength * refinement.emphasis_nod_degrees * modulation.nod_gain \
            * (EXCLAMATION_NOD_GAIN if sharp else 1.0)
        for word in sentence.emphasis:
            pulse = depth * _raised_cosine_pulse(times, word.peak, width)
            frames = _frame_range(pulse)
            if not frames:
                continue
            nod_depth = np.maximum(nod_depth, pulse)
            events.append({"kind": "emphasis_nod", "sentence": index, "word": word.text, "source": word.source,
                           "time": word.peak, "frames": frames, "duration_sec": width,
                           "magnitude": {"pitch": -depth}})
    pose_delta[:, 0] -= nod_depth

    # Questions: raise and tilt toward the end, released after it.
    for index, sentence in enumerate(sentences):
        if sentence.kind != "question":
            continue
        shape = _question_shape(times, max(sentence.start, sentence.end - QUESTION_RISE_SEC), sentence.end)
        frames = _frame_range(shape)
        if not frames:
            continue
        lean = pose[frames[0]:frames[1] + 1, 2].mean() - mean_pose[0, 2]
        side = -1.0 if lean < 0 else 1.0
        pose_delta[:, 0] += strength * QUESTION_PITCH_DEGREES * shape
        pose_delta[:, 2] += side * strength * QUESTION_ROLL_DEGREES * shape
        events.append({"kind": "question_raise", "sentence": index, "time": sentence.end, "frames": frames,
                       "magnitude": {"pitch": strength * QUESTION_PITCH_DEGREES,
                                     "roll": side * strength * QUESTION_ROLL_DEGREES}})

    # Only what a rule moved changes; it is clipped to the pose limits and the blendshape range.
    moved_pose = pose + pose_delta
    record["clipped"]["pose"] = int(np.count_nonzero((pose_delta != 0) & (np.abs(moved_pose) > limits)))
    new_pose = np.where(pose_delta != 0, np.clip(moved_pose, -limits, limits).astype(np.float32), motion.pose)
    moved_blendshapes = motion.blendshapes.astype(np.float64) + blendshape_delta
    record["clipped"]["blendshapes"] = int(np.count_nonzero(
        (blendshape_delta != 0) & ((moved_blendshapes < 0) | (moved_blendshapes > 1))))
    new_blendshapes = np.where(blendshape_delta != 0, np.clip(moved_blendshapes, 0.0, 1.0).astype(np.float32),
                               motion.blendshapes)
    events.sort(key=lambda event: (event["time"], event["kind"]))
    return motion.replace(blendshapes=new_blendshapes, pose=new_pose), record
