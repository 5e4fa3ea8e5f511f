"""The text front end: a sentence in, its words, phones and symbol ids out.

    frontend = TextFrontend(languages=("en", "zh"))
    result = frontend.process("我喜欢Python编程", language="auto")
    result.phones, result.ids, result.word_phone_counts

Text is split into runs by script; Han runs are Mandarin, Latin runs are the requested language (or
English when it is "auto" or "zh"), and each run goes to its language's front end. Per-language
resources (CMUdict, jieba's dictionary, espeak voices) load on first use and stay loaded.
"""

from __future__ import annotations

import unicodedata
import warnings
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from sonicsynth.text.english import EnglishG2P
from sonicsynth.text.espeak_g2p import EspeakG2P
from sonicsynth.text.languages import AUTO, LANGUAGES, Script, UnsupportedLanguageError, language_spec
from sonicsynth.text.mandarin import MandarinG2P
from sonicsynth.text.phonemized import PhonemizedRun, PhonemizedText, Word
from sonicsynth.text.scripts import split_by_script

MIXED = "mixed"


class UnsupportedCharactersWarning(UserWarning):
    """Characters the front end cannot read were dropped from a sentence."""


class LanguageG2P(Protocol):
    def phonemize(self, text: str) -> PhonemizedRun: ...


class TextFrontend:
    """Phonemizer for the given languages (default: all supported); see the module docstring."""

    def __init__(self, languages: Iterable[str] = tuple(LANGUAGES)) -> None:
        self.languages: tuple[str, ...] = tuple(language_spec(code).code for code in languages)
        if not self.languages:
            raise ValueError("a TextFrontend needs at least one language")
        self._g2p: dict[str, LanguageG2P] = {}

    def process(self, text: str, language: str = AUTO) -> PhonemizedText:
        """Phonemize one sentence. `language` is a supported code, or "auto" (Han -> zh, Latin -> en).

        Raises ValueError for empty text and when nothing speakable remains; characters that cannot be
        read are dropped with an UnsupportedCharactersWarning naming them.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"text is empty or only whitespace: {text!r}")
        self._check_language(language)
        # NFKC folds full-width letters, digits and marks (Ｐｙｔｈｏｎ，１２) into their plain forms.
        split = split_by_script(unicodedata.normalize("NFKC", text))
        dropped = list(split.dropped)
        words: list[Word] = []
        normalized_parts: list[str] = []
        for run in split.runs:
            run_language = self._language_of(run.script, language)
            if run_language not in self.languages:
                warnings.warn(
                    f"dropped {run.text.strip()!r} of {text!r}: it reads as {run_language!r}, which is not one of "
                    f"this front end's languages {self.languages}",
                    UnsupportedCharactersWarning,
                    stacklevel=2,
                )
                continue
            result = self._g2p_for(run_language).phonemize(run.text)
            words.extend(result.words)
            dropped.extend(result.dropped)
            if result.normalized_text:
                normalized_parts.append(result.normalized_text)
        if dropped:
            warnings.warn(
                f"dropped characters the text front end cannot read: {_describe(dropped)} in {text!r}",
                UnsupportedCharactersWarning,
                stacklevel=2,
            )
        if all(word.is_punctuation for word in words):
            reason = f" (dropped: {_describe(dropped)})" if dropped else ""
            raise ValueError(f"nothing speakable in {text!r}{reason}")
        spoken_languages = {word.language for word in words if not word.is_punctuation}
        sentence_language = spoken_languages.pop() if len(spoken_languages) == 1 else MIXED
        return PhonemizedText(sentence_language, " ".join(normalized_parts), words)

    def _check_language(self, language: str) -> None:
        if language != AUTO and language not in self.languages:
            if language in LANGUAGES:
                raise UnsupportedLanguageError(
                    f"language {language!r} is not one of this front end's languages {self.languages}"
                )
            language_spec(language)  # raises, listing every supported language

    def _language_of(self, script: Script | None, requested: str) -> str:
        """Han is always Mandarin; Latin is the requested language unless that is auto or Mandarin (then
        English); text without letters (digits, marks) is the requested language, English for auto."""
        if script is Script.HAN:
            return "zh"
        if requested == AUTO or (requested == "zh" and script is Script.LATIN):
            return "en"
        return requested

    def _g2p_for(self, language: str) -> LanguageG2P:
        if language not in self._g2p:
            if language == "en":
                self._g2p[language] = EnglishG2P()
            elif language == "zh":
                self._g2p[language] = MandarinG2P()
            else:
                self._g2p[language] = EspeakG2P(language_spec(language))
        return self._g2p[language]


def _describe(chars: list[str]) -> str:
    """Each distinct character once, with its Unicode name: '🙂' (SLIGHTLY SMILING FACE)."""
    return ", ".join(
        f"{char!r} ({unicodedata.name(char, 'unnamed')})" if len(char) == 1 else repr(char)
        for char in dict.fromkeys(chars)
    )


@lru_cache(maxsize=1)
def _default_frontend() -> TextFrontend:
    return TextFrontend()


def phonemize(text: str, language: str = AUTO) -> PhonemizedText:
    """`TextFrontend().process(text, language)` with one shared front end for all supported languages."""
    return _default_frontend().process(text, language)
