"""Phone sets of the alignments we compare, mapped to CMU ARPAbet without stress.

Engine ground truth comes in the engines' own symbols (MBROLA SAMPA, festival's radio and mrpa sets,
flite's CMU set); aligners speak ARPAbet. Comparing boundaries needs one alphabet, so every table
maps a native symbol to a tuple of ARPAbet phones:

  * ()                 silence, becomes `SILENCE_PHONE`;
  * ("AH", "L")        one native phone that ARPAbet spells as two (syllabic l = "AH L" in CMUdict).
                       Its time span is split evenly; the split point is not a real boundary and is
                       marked so (`MappedPhone.starts_boundary = False`) so that evaluation skips it.

Choices where the sets disagree, following how CMUdict transcribes the same words:
  * reduced vowels (SAMPA "@", radio "ax", mrpa "@") -> AH; "r="/"@@"/"3:" -> ER;
  * the flap (SAMPA "4", radio "dx") -> T (CMUdict writes T or D; a T/D mismatch is a substitution,
    which the boundary matcher still pairs);
  * aspirated stops (SAMPA "k_h") -> the plain stop; dark l (SAMPA "5") -> L;
  * British vowels: lot ("Q", mrpa "o") -> AA, thought ("O:", mrpa "oo") -> AO; centring diphthongs of
    non-rhotic accents (near "I@", square "e@", cure "U@") -> vowel + R, as CMUdict spells those words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sonicsynth.align.base import ARPABET, SILENCE_PHONE
from sonicsynth.data.manifest import PhoneSpan

# The 39 phones of CMUdict (and of pocketsphinx's en-us acoustic model), without stress.
ARPABET_PHONES = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)
SILENCE: tuple[str, ...] = ()

# MBROLA SAMPA as written by espeak-ng's mb-us1/us2/us3 (American) and mb-en1 (British) voices.
MBROLA_SAMPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "_": SILENCE,
    # vowels and diphthongs
    "i": ("IY",), "i:": ("IY",), "I": ("IH",), "e": ("EH",), "E": ("EH",), "{": ("AE",),
    "A": ("AA",), "A:": ("AA",), "Q": ("AA",), "O": ("AO",), "O:": ("AO",), "O2": ("AA",),
    "V": ("AH",), "@": ("AH",), "U": ("UH",), "u": ("UW",), "u:": ("UW",), "r=": ("ER",), "3:": ("ER",),
    "EI": ("EY",), "eI": ("EY",), "AI": ("AY",), "aI": ("AY",), "OI": ("OY",), "aU": ("AW",), "@U": ("OW",),
    "I@": ("IH", "R"), "e@": ("EH", "R"), "U@": ("UH", "R"),
    "l=": ("AH", "L"), "n=": ("AH", "N"), "m=": ("AH", "M"),
    # consonants
    "p": ("P",), "p_h": ("P",), "b": ("B",), "t": ("T",), "t_h": ("T",), "d": ("D",), "4": ("T",),
    "k": ("K",), "k_h": ("K",), "g": ("G",), "tS": ("CH",), "dZ": ("JH",),
    "f": ("F",), "v": ("V",), "T": ("TH",), "D": ("DH",), "s": ("S",), "z": ("Z",), "S": ("SH",), "Z": ("ZH",),
    "h": ("HH",), "m": ("M",), "n": ("N",), "N": ("NG",), "l": ("L",), "5": ("L",), "r": ("R",),
    "w": ("W",), "j": ("Y",),
}  # fmt: skip

# Festival's "radio" set (American voices: kal, ked, slt): lower-case ARPAbet plus a few extras.
FESTIVAL_RADIO_TO_ARPABET: dict[str, tuple[str, ...]] = {
    **{phone.lower(): (phone,) for phone in ARPABET_PHONES},
    "pau": SILENCE, "h#": SILENCE, "brth": SILENCE,
    "ax": ("AH",), "axr": ("ER",), "dx": ("T",), "nx": ("N",), "hv": ("HH",),
    "el": ("AH", "L"), "em": ("AH", "M"), "en": ("AH", "N"),
}  # fmt: skip

# Festival's "mrpa" set (British voice rab).
FESTIVAL_MRPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "#": SILENCE,
    "i": ("IH",), "ii": ("IY",), "e": ("EH",), "a": ("AE",), "aa": ("AA",), "o": ("AA",), "oo": ("AO",),
    "uh": ("AH",), "@": ("AH",), "@@": ("ER",), "u": ("UH",), "uu": ("UW",),
    "ei": ("EY",), "ai": ("AY",), "oi": ("OY",), "au": ("AW",), "ou": ("OW",),
    "i@": ("IH", "R"), "e@": ("EH", "R"), "u@": ("UH", "R"),
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "ch": ("CH",), "jh": ("JH",),
    "f": ("F",), "v": ("V",), "th": ("TH",), "dh": ("DH",), "s": ("S",), "z": ("Z",), "sh": ("SH",), "zh": ("ZH",),
    "h": ("HH",), "m": ("M",), "n": ("N",), "ng": ("NG",), "l": ("L",), "r": ("R",), "w": ("W",), "y": ("Y",),
}  # fmt: skip

# Labels that mean silence in ARPAbet alignments: ours, MFA's (empty, "sil", "sp") and pocketsphinx's.
ARPABET_SILENCES = frozenset({SILENCE_PHONE, "", "sp", "SIL"})
# MFA's "spoken noise" phone of out-of-vocabulary words: speech, but no ARPAbet phone.
SPOKEN_NOISE = "spn"

PHONE_SET_TABLES: dict[str, Mapping[str, tuple[str, ...]]] = {
    "mbrola-sampa": MBROLA_SAMPA_TO_ARPABET,
    "festival-radio": FESTIVAL_RADIO_TO_ARPABET,
    "festival-mrpa": FESTIVAL_MRPA_TO_ARPABET,
    "flite-cmu": FESTIVAL_RADIO_TO_ARPABET,  # flite's CMU lexicon uses the radio symbols
}
_STRESS = re.compile(r"[012]$")


class MappedPhone(NamedTuple):
    """An ARPAbet phone (no stress) with its span; `starts_boundary` is False inside a split native phone."""

    phone: str
    start: float
    end: float
    starts_boundary: bool = True


def supported_phone_sets() -> list[str]:
    return sorted([ARPABET, *PHONE_SET_TABLES])


def arpabet_of(phone: str, phone_set: str) -> tuple[str, ...]:
    """ARPAbet phones (no stress) for one native phone; () for silence. KeyError names unknown symbols."""
    if phone_set == ARPABET:
        if phone in ARPABET_SILENCES:
            return SILENCE
        if phone == SPOKEN_NOISE:
            return (SPOKEN_NOISE,)
        bare = _STRESS.sub("", phone.upper())
        if bare in ARPABET_PHONES:
            return (bare,)
    elif phone_set in PHONE_SET_TABLES:
        if phone in PHONE_SET_TABLES[phone_set]:
            return PHONE_SET_TABLES[phone_set][phone]
    else:
        raise KeyError(f"phone set {phone_set!r} has no ARPAbet mapping; known: {', '.join(supported_phone_sets())}")
    raise KeyError(f"phone {phone!r} is not in the ARPAbet mapping of phone set {phone_set!r}")


def map_to_arpabet(phones: Sequence[PhoneSpan], phone_set: str) -> list[MappedPhone]:
    """Map a phone sequence to ARPAbet; consecutive silences (and silence-mapped symbols) merge into one."""
    mapped: list[MappedPhone] = []
    for span in phones:
        symbols = arpabet_of(span.phone, phone_set) or (SILENCE_PHONE,)
        if symbols == (SILENCE_PHONE,) and mapped and mapped[-1].phone == SILENCE_PHONE:
            mapped[-1] = mapped[-1]._replace(end=span.end)
            continue
        step = (span.end - span.start) / len(symbols)
        for index, symbol in enumerate(symbols):
            start = span.start + index * step
            end = span.end if index == len(symbols) - 1 else start + step
            mapped.append(MappedPhone(symbol, start, end, starts_boundary=index == 0))
    return mapped
