"""The phone table of the published GPT-SoVITS v2 models, and our front end's phones named in it.

The published v2 files (s1 GPT `.ckpt`, s2 SoVITS `.pth`) embed a phone by its index in the
reference implementation's v2 symbol list (GPT_SoVITS/text/symbols2.py): 732 symbols. Our own
table (`sonicsynth.text.symbols`) orders and names phones differently, so a published model must be
given ids of this table instead. The inventory is written here as data; its order is the
reference's, which every id depends on:

  1. a sorted core: the pad "_", the punctuation "!", "?", "…", ",", ".", "-" with the markers
     "SP", "SP2", "SP3" (pauses) and "UNK", the Mandarin initials and toned finals, the Japanese
     phones and the ARPAbet phones, deduplicated (Mandarin "b" and Japanese "b" are one symbol) and
     sorted by code point, so "!" is id 0 and the pad is not;
  2. "[" and "]" (Japanese pitch marks), appended after the sort;
  3. the Korean jamo with "空" (a space) and "停" (any other mark), sorted;
  4. the Cantonese phones (Jyutping, prefixed "Y"), sorted.

A test pins the table's length and hash: a change here would give every published model wrong ids.

Our phones map to it as follows (`published_v2_phones`):
  * ARPAbet: one to one; the published list holds every CMUdict phone with its stress digit.
  * Punctuation: the same mark, except ";" and ":", which the reference's front ends read as ",".
  * Mandarin: syllable by syllable, since the published front end names the parts of some
    syllables differently from pinyin's strict initials and finals (see `_ZERO_INITIAL` and
    `_FINAL_AFTER_INITIAL`).
  * IPA (Czech and the other espeak-ng languages): no counterpart; a published v2 model never saw
    these sounds, so they raise `UnmappablePhoneError` naming the phone, the word and the model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from sonicsynth.text.languages import language_spec
from sonicsynth.text.phonemized import Word
from sonicsynth.text.symbols import PhoneSet, UnknownPhoneError

# The name a model's text settings give this table (their "symbol_table_version").
PUBLISHED_V2_TABLE = "gpt-sovits-v2"

_PUNCTUATION = ("!", "?", "…", ",", ".", "-")
_MARKERS = ("SP", "SP2", "SP3", "UNK")
_PAD = "_"

# --- Mandarin, as the reference's opencpop-style front end names it. ------------------------------------------
# Initials: pinyin's, plus markers for the syllables that have none: AA (a-), EE (e-), OO (o-), and
# the glides y and w of the y-/w- spellings (yan, wo), which the published front end keeps as initials.
_MANDARIN_INITIALS = (
    "AA", "EE", "OO",
    "b", "c", "ch", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "q", "r", "s", "sh", "t", "w", "x", "y",
    "z", "zh",
)  # fmt: skip
# Finals, each with tones 1-4 and 5 (neutral). "i0" is the apical vowel of zi/ci/si, "ir" that of
# zhi/chi/shi/ri; "ui", "iu", "un" are the abbreviated spellings of uei, iou, uen; "E" and "En" are
# the [ɛ] of ye and yan; "v" is ü.
_MANDARIN_FINALS = (
    "E", "En", "a", "ai", "an", "ang", "ao", "e", "ei", "en", "eng", "er",
    "i", "i0", "ia", "ian", "iang", "iao", "ie", "in", "ing", "iong", "ir", "iu",
    "o", "ong", "ou", "u", "ua", "uai", "uan", "uang", "ui", "un", "uo", "v", "van", "ve", "vn",
)  # fmt: skip
_MANDARIN_TONES = "12345"

_JAPANESE = (
    "I", "N", "U", "a", "b", "by", "ch", "cl", "d", "dy", "e", "f", "g", "gy", "h", "hy", "i", "j", "k", "ky",
    "m", "my", "n", "ny", "o", "p", "py", "r", "ry", "s", "sh", "t", "ts", "u", "v", "w", "y", "z",
)  # fmt: skip

# CMUdict's phones, vowels with stress 0/1/2; the reference's list also holds "ER" and "IH" without
# a stress digit (CMUdict never writes them so; they keep their ids all the same).
_ARPABET_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
_ARPABET_CONSONANTS = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T", "TH",
    "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
_ARPABET_UNSTRESSED_EXTRAS = ("ER", "IH")

_JAPANESE_PITCH_MARKS = ("[", "]")

# Plain, tense and vowel jamo, then the markers the Korean front end writes for a space and for
# anything else.
_KOREAN = tuple("ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ" "ㄲㄸㅃㅆㅉ" "ㅏㅓㅗㅜㅡㅣㅐㅔ" "空停")

# Cantonese: every symbol is "Y" + a Jyutping part. Toneless ones are the initials and a few finals;
# toned ones (tones 1-6) are finals, including bare codas (g, k, m, n, p, t) that the reference's
# Jyutping splitter produces. Our front end emits none of them; they are here for their ids' sake.
_CANTONESE_TONELESS = (
    "b", "c", "d", "f", "g", "gw", "h", "j", "k", "kw", "l", "m", "n", "ng", "p", "s", "t", "w", "z",
    "a", "aa", "ai", "ak", "au", "e", "o", "oi", "ok", "on", "ou", "uk",
)  # fmt: skip
_CANTONESE_TONED = (
    "a", "aa", "aai", "aak", "aam", "aan", "aang", "aap", "aat", "aau", "ai", "ak", "am", "an", "ang", "ap",
    "at", "au", "e", "ei", "ek", "eng", "eoi", "eon", "eot", "g", "i", "ik", "im", "in", "ing", "ip", "it",
    "iu", "k", "m", "n", "o", "oe", "oek", "oeng", "oi", "ok", "on", "ong", "ot", "ou", "p", "t", "u", "ui",
    "uk", "un", "ung", "ut", "yu", "yun", "yut",
)  # fmt: skip
_CANTONESE_TONES = "123456"


def _build_table() -> tuple[str, ...]:
    core = {
        _PAD,
        *_PUNCTUATION,
        *_MARKERS,
        *_MANDARIN_INITIALS,
        *(final + tone for final in _MANDARIN_FINALS for tone in _MANDARIN_TONES),
        *_JAPANESE,
        *(vowel + stress for vowel in _ARPABET_VOWELS for stress in "012"),
        *_ARPABET_CONSONANTS,
        *_ARPABET_UNSTRESSED_EXTRAS,
    }
    cantonese = {"Y" + part for part in _CANTONESE_TONELESS} | {
        "Y" + final + tone for final in _CANTONESE_TONED for tone in _CANTONESE_TONES
    }
    return (*sorted(core), *_JAPANESE_PITCH_MARKS, *sorted(_KOREAN), *sorted(cantonese))


PUBLISHED_V2_SYMBOLS: tuple[str, ...] = _build_table()
_PUBLISHED_V2_IDS: dict[str, int] = {symbol: index for index, symbol in enumerate(PUBLISHED_V2_SYMBOLS)}


def published_v2_hash() -> str:
    """SHA-256 of the symbols in id order: changes whenever any id would."""
    canonical = json.dumps(PUBLISHED_V2_SYMBOLS, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class UnmappablePhoneError(UnknownPhoneError):
    """A phone of our front end with no counterpart in the published GPT-SoVITS v2 table."""


# --- our phones -> published symbols ------------------------------------------------------------------------

# ";" and ":" are commas to both of the reference's front ends (Mandarin and English).
_PUNCTUATION_TO_PUBLISHED = {",": ",", ".": ".", "?": "?", "!": "!", "…": "…", ";": ",", ":": ","}

# Finals after an initial: pinyin's abbreviations (gui, liu, dun) and the two apical vowels, which
# our front end writes "ii" (zi) and "iii" (zhi); every other final keeps its name.
_FINAL_AFTER_INITIAL = {"uei": "ui", "iou": "iu", "uen": "un", "ii": "i0", "iii": "ir"}

# Syllables without an initial, as (published initial, published final). Our front end gives them
# pypinyin's strict finals (ya -> ia, wo -> uo, yu -> v); the published front end respells them
# (ya, wo, yu) and splits that spelling, so the glide becomes the initial and the final loses it:
# ya -> y a, yan -> y En, ye -> y E, wo -> w o, wei -> w ei. a-, e- and o- syllables get the markers
# AA, EE, OO.
_ZERO_INITIAL = {
    **{final: ("AA", final) for final in ("a", "ai", "an", "ang", "ao")},
    **{final: ("EE", final) for final in ("e", "ei", "en", "eng", "er")},
    # "o" is also what pypinyin gives for yo (哟): our front end does not tell the two apart, and
    # o (哦, 噢) is by far the commoner, so yo is read as OO o, where the published front end has y o.
    **{final: ("OO", final) for final in ("o", "ou")},
    "i": ("y", "i"), "ia": ("y", "a"), "ie": ("y", "E"), "iao": ("y", "ao"), "iou": ("y", "ou"),
    "ian": ("y", "En"), "iang": ("y", "ang"), "in": ("y", "in"), "ing": ("y", "ing"), "iong": ("y", "ong"),
    "u": ("w", "u"), "ua": ("w", "a"), "uo": ("w", "o"), "uai": ("w", "ai"), "uei": ("w", "ei"),
    "uan": ("w", "an"), "uen": ("w", "en"), "uang": ("w", "ang"), "ueng": ("w", "eng"),
    "v": ("y", "v"), "ve": ("y", "ve"), "van": ("y", "van"), "vn": ("y", "vn"),
    # Syllables the published front end cannot read (its syllable table stops with an error), each
    # given the published symbols closest to it:
    # ê (欸) is [ɛ], the published "E" (of ye), behind the e-row marker.
    "ê": ("EE", "E"),
    # wong (a rare reading, of 𥦷), whose strict final pypinyin gives as "ong": w + ong, as it sounds.
    "ong": ("w", "ong"),
    # The syllabic nasals of interjections. The published front end rewrites 嗯 as 恩 (en) and 呣 as
    # 母 (mu) before reading them, so its models know these sounds only as those syllables.
    "n": ("EE", "en"), "ng": ("EE", "en"), "m": ("m", "u"),
}  # fmt: skip
# hng (哼) is read as its other reading heng, the one the published front end gives 哼. hm (噷) has
# no published counterpart and is refused.
_SYLLABIC_NASALS_AFTER_H = {"ng": ("h", "eng")}
_SYLLABIC_NASALS = ("m", "n", "ng")


def _published_syllable(initial: str, final: str) -> tuple[str, str] | None:
    """(published initial, published final without tone) of a pinyin syllable, None if there is none."""
    if not initial:
        return _ZERO_INITIAL.get(final)
    if final in _SYLLABIC_NASALS:
        return _SYLLABIC_NASALS_AFTER_H.get(final) if initial == "h" else None
    return initial, _FINAL_AFTER_INITIAL.get(final, final)


def _mandarin_syllables(phones: list[str]) -> Iterable[tuple[str, str, str]]:
    """(initial or "", final, tone) of each syllable of our Mandarin phones (initial, final+tone)."""
    position = 0
    while position < len(phones):
        if phones[position][-1:].isdigit():
            initial, toned = "", phones[position]
            position += 1
        else:
            toned = phones[position + 1] if position + 1 < len(phones) else ""
            if not toned[-1:].isdigit():
                raise UnmappablePhoneError(f"initial {phones[position]!r} is not followed by a toned final")
            initial = phones[position]
            position += 2
        yield initial, toned[:-1], toned[-1]


def published_v2_phones(word: Word, model: str) -> list[str]:
    """`word`'s phones named in the published v2 table (see the module docstring). `model` names the
    model (its file) in the error raised for a phone the table has no counterpart for."""
    if word.is_punctuation:
        published = [_PUNCTUATION_TO_PUBLISHED.get(mark, mark) for mark in word.phones]
    else:
        spec = language_spec(word.language)
        if spec.phone_set is PhoneSet.PINYIN:
            return _published_mandarin(word, model)
        if spec.phone_set is not PhoneSet.ARPABET:
            raise UnmappablePhoneError(
                f"phone {word.phones[0]!r} of word {word.text!r} ({spec.name}, {spec.phone_set.value.upper()}) has "
                f"no counterpart in the GPT-SoVITS v2 phone table of {model}, which holds English (ARPAbet), "
                f"Mandarin, Japanese, Korean and Cantonese phones only: that model cannot speak {spec.name}"
            )
        published = list(word.phones)  # CMUdict's names, which the published table uses as they are
    for ours, theirs in zip(word.phones, published, strict=True):
        if theirs not in _PUBLISHED_V2_IDS:
            raise UnmappablePhoneError(
                f"phone {ours!r} of word {word.text!r} has no counterpart in the GPT-SoVITS v2 phone table of {model}"
            )
    return published


def _published_mandarin(word: Word, model: str) -> list[str]:
    published: list[str] = []
    try:
        syllables = list(_mandarin_syllables(word.phones))
    except UnmappablePhoneError as error:
        raise UnmappablePhoneError(
            f"Mandarin word {word.text!r} ({' '.join(word.phones)}) cannot be named in the GPT-SoVITS v2 phone "
            f"table of {model}: {error}"
        ) from error
    for initial, final, tone in syllables:
        pair = _published_syllable(initial, final)
        symbols = [pair[0], pair[1] + tone] if pair else []
        if not pair or any(symbol not in _PUBLISHED_V2_IDS for symbol in symbols):
            syllable = " ".join(part for part in (initial, final + tone) if part)
            raise UnmappablePhoneError(
                f"Mandarin syllable {syllable!r} of word {word.text!r} has no counterpart in the GPT-SoVITS v2 "
                f"phone table of {model}"
            )
        published.extend(symbols)
    return published


def published_v2_ids(symbols: Iterable[str]) -> list[int]:
    """Ids of published v2 symbols (as `published_v2_phones` names them); a symbol outside the table
    raises UnmappablePhoneError naming it."""
    ids = []
    for symbol in symbols:
        if symbol not in _PUBLISHED_V2_IDS:
            raise UnmappablePhoneError(f"{symbol!r} is not a symbol of the GPT-SoVITS v2 phone table")
        ids.append(_PUBLISHED_V2_IDS[symbol])
    return ids
