"""Praat TextGrids (long and short text formats, through praatio) <-> our `Alignment`.

Tier naming follows the Montreal Forced Aligner (2.x and 3.x): interval tiers "words" and "phones";
when one file holds several speakers MFA prefixes each tier with the speaker, "spk1 - words",
"spk1 - phones". Silence is an empty interval (MFA also writes "sil"/"sp"/"<eps>" when its cleanup
is off; those read as silence too).

Reading fills any gap in the phone tier with the silence phone, so the phones cover the file from
its xmin to its xmax as `Alignment` requires; words keep only the spoken words. Writing puts each
silence phone in an empty interval; reading that file back gives the same `Alignment`
(praatio writes times with Python's shortest round-trip float repr).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Literal

from praatio import textgrid as praat
from praatio.utilities.constants import Interval

from sonicsynth.align.base import ARPABET, SILENCE_PHONE
from sonicsynth.data.manifest import Alignment, PhoneSpan, WordSpan
from sonicsynth.utils.atomic import atomic_write

WORDS_TIER = "words"
PHONES_TIER = "phones"
# Labels that mean "no word / no phone here" in MFA output, plus the engines' silence symbols.
SILENCE_LABELS = frozenset({"", "sil", "sp", "<eps>", "_", "pau", "#"})
_PRAAT_FORMATS = {"long": "long_textgrid", "short": "short_textgrid"}
_SPEAKER_TIER = re.compile(r"^(?P<speaker>.+?) - (?P<kind>words|phones)$")


def read_textgrid(
    path: str | os.PathLike[str],
    phone_set: str = ARPABET,
    source: str = "textgrid",
    speaker: str | None = None,
    silence_phone: str = SILENCE_PHONE,
) -> Alignment:
    """One speaker's alignment from a TextGrid.

    `speaker` picks a speaker's tiers in a multi-speaker file ("spk1 - words"); it may be left out
    when the file has tiers of one speaker only (prefixed or not). ValueError names the file otherwise.
    """
    by_speaker = read_textgrid_speakers(path, phone_set, source, silence_phone)
    if speaker is None:
        if len(by_speaker) > 1:
            raise ValueError(
                f"{path}: the TextGrid holds tiers of several speakers ({', '.join(sorted(by_speaker))}); "
                "pass speaker=... to pick one"
            )
        return next(iter(by_speaker.values()))
    if speaker not in by_speaker:
        raise ValueError(f"{path}: no tiers of speaker {speaker!r} (speakers: {', '.join(sorted(by_speaker))})")
    return by_speaker[speaker]


def read_textgrid_speakers(
    path: str | os.PathLike[str],
    phone_set: str = ARPABET,
    source: str = "textgrid",
    silence_phone: str = SILENCE_PHONE,
) -> dict[str, Alignment]:
    """Every speaker's alignment in a TextGrid, keyed by speaker ("" for unprefixed "words"/"phones")."""
    try:
        grid = praat.openTextgrid(str(path), includeEmptyIntervals=False, reportingMode="silence")
    except Exception as error:  # praatio raises a zoo of types for malformed files
        raise ValueError(f"{path}: not a readable TextGrid ({type(error).__name__}: {error})") from error
    tiers: dict[str, dict[str, praat.IntervalTier]] = {}
    for name in grid.tierNames:
        tier = grid.getTier(name)
        match = _SPEAKER_TIER.match(name)
        speaker, kind = (match["speaker"], match["kind"]) if match else ("", name)
        if kind in (WORDS_TIER, PHONES_TIER) and isinstance(tier, praat.IntervalTier):
            tiers.setdefault(speaker, {})[kind] = tier
    alignments: dict[str, Alignment] = {}
    for speaker, kinds in tiers.items():
        if PHONES_TIER not in kinds:
            label = f"{speaker} - {PHONES_TIER}" if speaker else PHONES_TIER
            raise ValueError(f"{path}: no {label!r} interval tier (tiers: {', '.join(grid.tierNames)})")
        phones = _phone_spans(kinds[PHONES_TIER], grid.minTimestamp, grid.maxTimestamp, silence_phone)
        words = None if WORDS_TIER not in kinds else _word_spans(kinds[WORDS_TIER])
        alignments[speaker] = Alignment(phone_set=phone_set, source=source, phones=phones, words=words)
    if not alignments:
        raise ValueError(f"{path}: no 'phones' interval tier (tiers: {', '.join(grid.tierNames) or 'none'})")
    return alignments


def _phone_spans(tier: praat.IntervalTier, start: float, end: float, silence_phone: str) -> tuple[PhoneSpan, ...]:
    spans: list[PhoneSpan] = []
    cursor = start
    for interval in tier.entries:
        label = interval.label.strip()
        if label in SILENCE_LABELS:
            continue
        if interval.start > cursor:
            spans.append(PhoneSpan(silence_phone, cursor, interval.start))
        spans.append(PhoneSpan(label, interval.start, interval.end))
        cursor = interval.end
    if cursor < end:
        spans.append(PhoneSpan(silence_phone, cursor, end))
    return tuple(spans)


def _word_spans(tier: praat.IntervalTier) -> tuple[WordSpan, ...]:
    return tuple(
        WordSpan(interval.label.strip(), interval.start, interval.end)
        for interval in tier.entries
        if interval.label.strip() not in SILENCE_LABELS
    )


def write_textgrid(
    path: str | os.PathLike[str],
    alignment: Alignment,
    duration: float | None = None,
    text_format: Literal["long", "short"] = "long",
) -> Path:
    """Write an alignment as a TextGrid with MFA's tiers ("words" when the alignment has words, "phones").

    `duration` is the file's xmax; by default the end of the last phone (phones cover the audio).
    Written atomically: a temporary sibling renamed into place.
    """
    if text_format not in _PRAAT_FORMATS:
        raise ValueError(f"text_format must be one of {sorted(_PRAAT_FORMATS)}, got {text_format!r}")
    if not alignment.phones:
        raise ValueError(f"{path}: cannot write an alignment without phones")
    end = alignment.phones[-1].end if duration is None else duration
    grid = praat.Textgrid(0.0, end)
    if alignment.words is not None:
        grid.addTier(_interval_tier(path, WORDS_TIER, alignment.words, end))
    grid.addTier(_interval_tier(path, PHONES_TIER, alignment.phones, end))
    # praatio saves only to a file name; render in a scratch directory, then write atomically.
    with tempfile.TemporaryDirectory(prefix="sonicsynth-textgrid-") as scratch:
        rendered = Path(scratch) / "grid.TextGrid"
        grid.save(
            str(rendered), format=_PRAAT_FORMATS[text_format], includeBlankSpaces=True, minimumIntervalLength=None
        )
        text = rendered.read_text(encoding="utf-8")
    with atomic_write(path, mode="w") as file:
        file.write(text)
    return Path(path)


def _interval_tier(
    path: str | os.PathLike[str], name: str, spans: tuple[PhoneSpan, ...] | tuple[WordSpan, ...], end: float
) -> praat.IntervalTier:
    intervals = []
    for label, start, stop in spans:
        if not start < stop:
            raise ValueError(f"{path}: {name} interval {label!r} [{start}, {stop}] has no duration")
        if label not in SILENCE_LABELS:
            intervals.append(Interval(start, stop, label))
    return praat.IntervalTier(name, intervals, 0.0, end)


def load_alignment(path: str | os.PathLike[str]) -> Alignment:
    """An alignment file of either kind a manifest may point at: a praat TextGrid (e.g. MFA's output,
    used unchanged) or our JSON (`sonicsynth.data.manifest.write_alignment`)."""
    if Path(path).suffix.lower() == ".textgrid":
        return read_textgrid(path, source="mfa")
    from sonicsynth.data.manifest import read_alignment

    return read_alignment(path)
