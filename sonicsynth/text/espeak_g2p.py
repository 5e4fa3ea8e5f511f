"""Languages phonemized by espeak-ng alone (IPA): Czech, Slovak, Polish, German, French, ...

espeak reads numbers and symbols in the language itself, so they are passed through as words. Words
are sent as whole phrases (the text between punctuation marks) so espeak can apply its cross-word rules
(French liaison); when espeak's words do not line up one-to-one with ours (it joins Czech clitics with
the next word, splits a number into several words), that phrase is phonemized again word by word.
"""

from __future__ import annotations

from sonicsynth.text.espeak import phonemize_lines
from sonicsynth.text.languages import LanguageSpec
from sonicsynth.text.phonemized import PhonemizedRun, Word
from sonicsynth.text.punctuation import normalize_punctuation
from sonicsynth.text.tokenize import Token, tokenize

# Letters and digits, joined by in-word apostrophes or hyphens, or by a decimal separator between
# digits; or one symbol espeak reads aloud in the language ("%" -> Czech "procento").
_WORD_PATTERN = r"[^\W_]+(?:(?:['’-]|(?<=\d)[.,](?=\d))[^\W_]+)*|[%&+=@#$£€°]"


class EspeakG2P:
    def __init__(self, spec: LanguageSpec) -> None:
        if spec.espeak_voice is None:
            raise ValueError(f"language {spec.code!r} has no espeak-ng voice")
        self.language = spec.code
        self._voice = spec.espeak_voice

    def phonemize(self, text: str) -> PhonemizedRun:
        normalized = normalize_punctuation(text)
        tokenized = tokenize(normalized, _WORD_PATTERN)
        phones_of = self._word_phones(tokenized.tokens)
        words: list[Word] = []
        dropped = list(tokenized.dropped)
        for index, token in enumerate(tokenized.tokens):
            if token.is_punctuation:
                words.append(Word(token.text, [token.text], self.language))
            elif phones_of[index]:
                words.append(Word(token.text, phones_of[index], self.language))
            else:  # espeak had nothing to say for it (a symbol it does not name)
                dropped.append(token.text)
        return PhonemizedRun(normalized, words, dropped)

    def _word_phones(self, tokens: list[Token]) -> dict[int, list[str]]:
        """Phones of every word token, by token index: phrase-level where espeak's words line up."""
        phrases = _phrases(tokens)
        lines = [" ".join(tokens[index].text for index in phrase) for phrase in phrases]
        phones_of: dict[int, list[str]] = {}
        misaligned: list[int] = []
        for phrase, phrase_words in zip(phrases, phonemize_lines(lines, self._voice), strict=True):
            if len(phrase_words) == len(phrase):
                phones_of.update(zip(phrase, phrase_words, strict=True))
            else:
                misaligned.extend(phrase)
        # One line per word: whatever espeak makes of it (several words for a number) is that word's.
        retried = phonemize_lines([tokens[index].text for index in misaligned], self._voice)
        for index, line_words in zip(misaligned, retried, strict=True):
            phones_of[index] = [phone for word in line_words for phone in word]
        return phones_of


def _phrases(tokens: list[Token]) -> list[list[int]]:
    """Indices of the word tokens between punctuation marks, one list per phrase."""
    phrases: list[list[int]] = [[]]
    for index, token in enumerate(tokens):
        if token.is_punctuation:
            phrases.append([])
        else:
            phrases[-1].append(index)
    return [phrase for phrase in phrases if phrase]
