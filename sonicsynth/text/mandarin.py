"""Mandarin: jieba words, pypinyin syllables, tone sandhi, then pinyin initials and toned finals.

A syllable becomes its initial (none for a, e, yi, wu, ...) and its final with the tone digit, e.g.
不是 -> b u2 sh iii4. Finals are pypinyin's strict ones (yi -> i, wu -> u, you -> iou, ju -> v), with
the two apical vowels spelled apart ("ii" after z/c/s, "iii" after zh/ch/sh/r) since they are
different sounds from the "i" of ji. Polyphones are resolved by pypinyin's phrase dictionary, given
jieba's words. Syllables are read in Style.TONE3 so that sandhi can change their tones, then split with
to_initials/to_finals, the converters behind pypinyin's Style.INITIALS and Style.FINALS_TONE3.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

from sonicsynth.text.mandarin_numbers import normalize_numbers
from sonicsynth.text.mandarin_sandhi import NEUTRAL, apply_tone_sandhi
from sonicsynth.text.phonemized import PhonemizedRun, Word
from sonicsynth.text.punctuation import normalize_punctuation
from sonicsynth.text.tokenize import tokenize

LANGUAGE = "zh"
HAN_CHARACTERS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff〇"
_HAN_RUN = f"[{HAN_CHARACTERS}]+"
_APICAL_INITIALS = {"z": "ii", "c": "ii", "s": "ii", "zh": "iii", "ch": "iii", "sh": "iii", "r": "iii"}
_NO_PINYIN = "?"  # pypinyin's answer, through our error handler, for a character it cannot read


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()  # loads the dictionary (about 1 s) once, not on the first sentence
    return tokenizer


def _tone3(words: list[str]) -> list[str]:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(
        words,
        style=Style.TONE3,
        neutral_tone_with_five=True,
        errors=lambda characters: [_NO_PINYIN] * len(characters),
    )


@lru_cache(maxsize=8192)
def _character_reading(character: str) -> str | None:
    """The character's own (most common) reading outside any phrase; None if pypinyin has none."""
    syllable = _tone3([character])[0]
    # pypinyin appends the neutral tone's 5 even to the error placeholder ("?5").
    return None if syllable.startswith(_NO_PINYIN) else syllable


def _citation_tone(character: str) -> int:
    reading = _character_reading(character)
    return _split_tone(reading)[1] if reading else NEUTRAL


def _split_tone(syllable: str) -> tuple[str, int]:
    return (syllable[:-1], int(syllable[-1])) if syllable[-1:].isdigit() else (syllable, NEUTRAL)


def _is_dictionary_word(word: str) -> bool:
    return _jieba().FREQ.get(word, 0) > 0


class MandarinG2P:
    def phonemize(self, text: str) -> PhonemizedRun:
        normalized = normalize_punctuation(normalize_numbers(unicodedata.normalize("NFKC", text)))
        tokenized = tokenize(normalized, _HAN_RUN)
        words: list[Word] = []
        dropped = list(tokenized.dropped)
        for token in tokenized.tokens:
            if token.is_punctuation:
                words.append(Word(token.text, [token.text], LANGUAGE))
            else:
                words.extend(self._phrase_words(token.text, dropped))
        return PhonemizedRun(normalized, words, dropped)

    def _phrase_words(self, phrase: str, dropped: list[str]) -> list[Word]:
        """The words of a run of Han characters (a prosodic phrase: no punctuation inside)."""
        dropped.extend(char for char in phrase if _character_reading(char) is None)
        phrase = "".join(char for char in phrase if _character_reading(char) is not None)
        if not phrase:
            return []
        segmented: list[str] = _jieba().lcut(phrase)
        bases, dictionary_tones = zip(*(_split_tone(syllable) for syllable in _tone3(segmented)), strict=True)
        citation_tones = [_citation_tone(char) for char in phrase]
        tones = apply_tone_sandhi(segmented, dictionary_tones, citation_tones, _is_dictionary_word)
        words: list[Word] = []
        position = 0
        for word in segmented:
            syllables = zip(bases[position : position + len(word)], tones[position : position + len(word)], strict=True)
            words.append(
                Word(word, [phone for base, tone in syllables for phone in _syllable_phones(base, tone)], LANGUAGE)
            )
            position += len(word)
        return words


@cache  # a few thousand distinct syllables: the pinyin conversion runs once for each
def _syllable_phones(base: str, tone: int) -> tuple[str, ...]:
    """Toneless pinyin + tone -> (initial, final+tone) or (final+tone,): ("shi", 4) -> ("sh", "iii4")."""
    from pypinyin.contrib.tone_convert import to_finals, to_initials

    initial = to_initials(base, strict=True)
    final = to_finals(base, strict=True)
    if not final:
        # Syllabic nasals of interjections (嗯 n/ng, 呣 m, 哼 hng): the nasal is the final.
        initial = "h" if base.startswith("h") else ""
        final = base.removeprefix("h")
    elif final == "i" and initial in _APICAL_INITIALS:
        final = _APICAL_INITIALS[initial]
    return (initial, f"{final}{tone}") if initial else (f"{final}{tone}",)
