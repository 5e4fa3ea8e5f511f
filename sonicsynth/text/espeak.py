"""espeak-ng through phonemizer: IPA phones per word, cleaned into the symbol table's units.

Phonemizer is asked to separate phones with " " and words with "|", so espeak's own segmentation
decides what one phone is: an affricate (tʃ), a long vowel (aː), a diphthong (aɪ) or a Czech ř (r̝)
stays one phone instead of being cut into characters. A backend per voice is created once and reused;
each call takes a whole batch of lines, because a call costs far more than a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from sonicsynth.text.symbols import IPA_STRESS_MARKS, IPA_SYLLABIC, PhoneSet, is_known_phone

if TYPE_CHECKING:
    from phonemizer.backend import EspeakBackend

_PHONE_SEPARATOR = " "
_WORD_SEPARATOR = "|"
_SYLLABIC = frozenset(IPA_SYLLABIC)

# espeak-ng 1.51 spellings that are not IPA units, mapped to the unit they stand for.
_ESPEAK_QUIRKS: dict[str, str] = {
    "ss": "sː",  # Italian geminate s, the only geminate espeak writes doubled
}
# espeak marks an elidable French schwa with a trailing hyphen ("ə-"): the phone is the schwa.
_TRAILING_HYPHEN = re.compile(r"-+$")
# A doubled length mark ("iːː") is still one long vowel.
_DOUBLE_LENGTH = re.compile(r"ː{2,}")


class EspeakUnavailableError(RuntimeError):
    """espeak-ng (the library phonemizer drives) is missing."""


@cache
def _backend(voice: str) -> EspeakBackend:
    from phonemizer.backend import EspeakBackend  # imported on first use: it costs about 0.3 s

    if not EspeakBackend.is_available():
        raise EspeakUnavailableError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    # remove-flags: when espeak reads a loan word with another language's rules it wraps the word in
    # flags; keep its phones (they are in the IPA table) rather than dropping the whole line.
    # words_mismatch is checked by the caller, which knows how to realign.
    return EspeakBackend(voice, with_stress=True, language_switch="remove-flags", words_mismatch="ignore")


def phonemize_lines(lines: Sequence[str], voice: str) -> list[list[list[str]]]:
    """IPA phones of every word of every line: result[line][word] is a list of phones.

    espeak may read one written token as several words (numbers, symbols) or join a clitic with the next
    word (Czech "na tramvaj"), so the number of words per line is espeak's, not the caller's.
    """
    from phonemizer.separator import Separator

    if not lines:
        return []
    separator = Separator(phone=_PHONE_SEPARATOR, word=_WORD_SEPARATOR)
    outputs = _backend(voice).phonemize(list(lines), separator=separator, strip=True)
    return [_split_words(output) for output in outputs]


def _split_words(output: str) -> list[list[str]]:
    words = (clean_word_phones(word.split()) for word in output.split(_WORD_SEPARATOR))
    return [phones for phones in words if phones]


def clean_word_phones(raw_phones: Sequence[str]) -> list[str]:
    """One word's espeak phones made into table units: quirks fixed, stress on a syllabic phone.

    espeak usually puts the stress mark on the vowel, but now and then on the syllable's onset (French
    "ˈw a"). Stress belongs to the syllable's nucleus, so a mark on a non-syllabic phone moves to the next
    syllabic phone of the word, and is dropped if there is none (a lone consonant preposition).
    """
    phones: list[str] = []
    pending_stress = ""
    for raw in raw_phones:
        # espeak mixes precomposed (ç) and combining (o + U+0303) spellings; the table is NFC throughout.
        stress, phone = _split_stress(unicodedata.normalize("NFC", raw))
        phone = _ESPEAK_QUIRKS.get(phone, phone)
        phone = _DOUBLE_LENGTH.sub("ː", _TRAILING_HYPHEN.sub("", phone))
        if not phone:
            continue
        stress = stress or pending_stress
        for unit in _split_into_known_units(phone):
            if unit in _SYLLABIC:
                phones.append(stress + unit)
                stress = ""
            else:
                phones.append(unit)
        pending_stress = stress
    return phones


def _split_stress(raw: str) -> tuple[str, str]:
    stress = ""
    while raw and raw[0] in IPA_STRESS_MARKS:
        stress, raw = raw[0], raw[1:]  # if espeak ever doubles a mark, the last one wins
    return stress, raw


def _split_into_known_units(phone: str) -> list[str]:
    """A phone the table lacks, cut into the longest table phones from the left ("ææ" -> "æ", "æ").

    espeak occasionally writes two identical phonemes without a separator. A phone that cannot be cut
    into known units is returned whole, so the symbol lookup reports it by name.
    """
    if is_known_phone(phone, PhoneSet.IPA):
        return [phone]
    units: list[str] = []
    start = 0
    while start < len(phone):
        for end in range(len(phone), start, -1):
            if is_known_phone(phone[start:end], PhoneSet.IPA):
                units.append(phone[start:end])
                start = end
                break
        else:
            return [phone]
    return units
