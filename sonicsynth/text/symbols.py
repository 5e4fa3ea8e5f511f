"""The symbol table: every phone a model can see, with a stable integer id.

Order (and so every id) is fixed: pad, punctuation, ARPAbet, Mandarin pinyin, IPA. Ids are baked into
embedding tables of trained models, so any change to this file's inventories must come with a new
`SYMBOL_TABLE_VERSION`; a test pins the table's hash to the version so that cannot be forgotten.

A phone string alone is ambiguous across phone sets: pinyin "j" is [tɕ] while IPA "j" is a glide, and
pinyin "c" is [tsʰ] while Czech "c" (ť) is a palatal stop. So each phone set gets its own ids and
lookups name the phone set; pad and punctuation are shared by all of them.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Sequence
from functools import cache

from sonicsynth.text.punctuation import PUNCTUATION

SYMBOL_TABLE_VERSION = "1"

PAD = "_"


class PhoneSet(str, enum.Enum):
    """Which inventory a phone string belongs to."""

    ARPABET = "arpabet"
    PINYIN = "pinyin"
    IPA = "ipa"


class UnknownPhoneError(ValueError):
    """A phone has no id in the symbol table."""


# --- ARPAbet (CMUdict): vowels carry stress 0 (none), 1 (primary), 2 (secondary). -----------------------
ARPABET_VOWELS: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
)  # fmt: skip
ARPABET_CONSONANTS: tuple[str, ...] = (
    "B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S", "SH", "T", "TH",
    "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
ARPABET_STRESSES = ("0", "1", "2")
ARPABET_PHONES: tuple[str, ...] = (
    tuple(vowel + stress for vowel in ARPABET_VOWELS for stress in ARPABET_STRESSES) + ARPABET_CONSONANTS
)

# --- Mandarin: pinyin initials, and finals with tone 1-4 (5 = neutral). ------------------------------------
MANDARIN_INITIALS: tuple[str, ...] = (
    "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh", "ch", "sh", "r", "z", "c", "s",
)  # fmt: skip
# pypinyin's strict finals ("v" is ü), with the apical vowel of zi/ci/si written "ii" and that of
# zhi/chi/shi/ri written "iii": both are spelled "i" in pinyin but sound nothing like the "i" of "ji".
# "m", "n", "ng" are the syllabic nasals of interjections (呣, 嗯, 哼 as hm/hng).
MANDARIN_FINALS: tuple[str, ...] = (
    "a", "ai", "an", "ang", "ao", "e", "ei", "en", "eng", "er", "ê", "o", "ong", "ou",
    "i", "ia", "ian", "iang", "iao", "ie", "in", "ing", "iong", "iou", "ii", "iii",
    "u", "ua", "uai", "uan", "uang", "uei", "uen", "ueng", "uo",
    "v", "van", "ve", "vn",
    "m", "n", "ng",
)  # fmt: skip
MANDARIN_TONES = ("1", "2", "3", "4", "5")
PINYIN_PHONES: tuple[str, ...] = MANDARIN_INITIALS + tuple(
    final + tone for final in MANDARIN_FINALS for tone in MANDARIN_TONES
)

# --- IPA from espeak-ng, for the languages in sonicsynth.text.languages. -----------------------------------
# Collected with espeak-ng 1.51 by phonemizing every 1-3 letter string of each language's alphabet and
# 30k random syllable strings (plus all of CMUdict for en-us, whose phones appear in other languages'
# output when espeak switches to English for a loan word), then cleaned of espeak's quirks (see
# sonicsynth.text.espeak). Phones are espeak's own units: an affricate, a diphthong or a long vowel is one
# phone. Syllabic phones can carry stress, so each comes plain, primary- and secondary-stressed.
IPA_STRESS_MARKS = ("ˈ", "ˌ")
IPA_SYLLABIC: tuple[str, ...] = (
    # monophthongs
    "a", "e", "i", "o", "u", "y", "æ", "ø", "œ", "ɐ", "ɑ", "ɒ", "ɔ", "ə", "ɚ", "ɛ", "ɜ", "ɨ", "ɪ", "ɵ",
    "ʊ", "ʌ", "ᵻ",
    # long vowels
    "aː", "eː", "iː", "oː", "uː", "yː", "øː", "ɑː", "ɔː", "ɛː", "ɜː", "ɪː", "ʊː",
    # nasal vowels
    "ɐ̃", "ɑ̃", "ɔ̃", "ɛ̃", "œ̃", "õ", "ũ",
    # diphthongs and triphthongs
    "aɪ", "aʊ", "eɪ", "eʊ", "eə", "iə", "iʊ", "oɪ", "oʊ", "uɪ", "yʊ", "œy", "ɔø", "ɔɪ", "əʊ", "ɛɪ", "ɛʊ",
    "ʊə", "ʌʊ", "ɐ̃ʊ̃", "aɪə", "aɪɚ",
    # English r-coloured vowels and syllabic l, as espeak's en-us units
    "ɑːɹ", "oːɹ", "ɔːɹ", "ɛɹ", "ɪɹ", "ʊɹ", "əl",
    # syllabic consonants (Czech and Slovak vlk, krk; English button)
    "l̩", "l̩ː", "r̩", "r̩ː", "n̩",
)  # fmt: skip
IPA_CONSONANTS: tuple[str, ...] = (
    # plosives
    "p", "b", "t", "d", "d̪", "k", "ɡ", "c", "ɟ", "ʔ",
    # affricates
    "ts", "dz", "tʃ", "dʒ", "tɕ", "dʑ", "pf",
    # fricatives
    "f", "v", "θ", "ð", "s", "z", "ʃ", "ʒ", "ʂ", "ɕ", "ʑ", "ç", "ʝ", "x", "ɣ", "h", "ʁ", "β",
    # nasals
    "m", "n", "ɲ", "ŋ",
    # liquids: Czech ř is r̝ (voiceless r̝̊ after voiceless consonants)
    "l", "ɬ", "ʎ", "r", "r̝", "r̝̊", "ɾ", "ɹ",
    # approximants
    "j", "w", "ʋ",
    # geminates (Italian, Spanish loans)
    "pː", "bː", "tː", "dː", "kː", "ɡː", "tsː", "dzː", "tʃː", "dʒː", "fː", "vː", "θː", "sː", "mː",
    # palatalised (Polish, Portuguese, Slovak ť ď)
    "pʲ", "bʲ", "tʲ", "dʲ", "kʲ", "ɡʲ", "fʲ", "vʲ", "sʲ", "ʃʲ", "ʒʲ", "ɕʲ", "ʑʲ", "tɕʲ", "mʲ", "nʲ", "ɲʲ",
    "lʲ", "rʲ", "wʲ",
)  # fmt: skip
IPA_PHONES: tuple[str, ...] = IPA_CONSONANTS + tuple(
    stress + phone for phone in IPA_SYLLABIC for stress in ("", *IPA_STRESS_MARKS)
)

_SHARED: tuple[str, ...] = (PAD, *PUNCTUATION)
_PHONE_SET_INVENTORIES: dict[PhoneSet, tuple[str, ...]] = {
    PhoneSet.ARPABET: ARPABET_PHONES,
    PhoneSet.PINYIN: PINYIN_PHONES,
    PhoneSet.IPA: IPA_PHONES,
}

# (phone set, symbol) for every id; pad and punctuation belong to no single phone set.
SYMBOL_TABLE: tuple[tuple[str, str], ...] = tuple(("shared", symbol) for symbol in _SHARED) + tuple(
    (phone_set.value, symbol) for phone_set, inventory in _PHONE_SET_INVENTORIES.items() for symbol in inventory
)
SYMBOLS: tuple[str, ...] = tuple(symbol for _, symbol in SYMBOL_TABLE)
PAD_ID = 0


def symbol_table_hash() -> str:
    """SHA-256 of the table as (phone set, symbol) pairs in id order: changes whenever any id would."""
    canonical = json.dumps(SYMBOL_TABLE, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@cache
def _ids_of(phone_set: PhoneSet) -> dict[str, int]:
    ids = {symbol: index for index, (owner, symbol) in enumerate(SYMBOL_TABLE) if owner == "shared"}
    ids.update((symbol, index) for index, (owner, symbol) in enumerate(SYMBOL_TABLE) if owner == phone_set.value)
    return ids


def is_known_phone(phone: str, phone_set: PhoneSet | str) -> bool:
    """Whether `phone` has an id in `phone_set` (pad and punctuation count in every set)."""
    return phone in _ids_of(PhoneSet(phone_set))


def phones_to_ids(phones: Iterable[str], phone_set: PhoneSet | str, text: str | None = None) -> list[int]:
    """Ids of `phones` read in `phone_set`; an unknown phone raises UnknownPhoneError naming it (and `text`)."""
    ids = _ids_of(PhoneSet(phone_set))
    result = []
    for phone in phones:
        if phone not in ids:
            where = f" in {text!r}" if text is not None else ""
            raise UnknownPhoneError(
                f"phone {phone!r}{where} is not in the {PhoneSet(phone_set).value} symbols of symbol table "
                f"v{SYMBOL_TABLE_VERSION}; adding it needs a new SYMBOL_TABLE_VERSION"
            )
        result.append(ids[phone])
    return result


def ids_to_phones(ids: Sequence[int]) -> list[str]:
    """The symbol of every id (phone-set information is not kept: use ids, not strings, as identity)."""
    result = []
    for index in map(int, ids):  # int() so tensors and numpy arrays work too
        if not 0 <= index < len(SYMBOLS):
            raise UnknownPhoneError(
                f"id {index} is outside symbol table v{SYMBOL_TABLE_VERSION} (ids 0..{len(SYMBOLS) - 1})"
            )
        result.append(SYMBOLS[index])
    return result
