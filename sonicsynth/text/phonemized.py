"""What the front end returns: words with their phones, the flat phone sequence and its symbol ids."""

from __future__ import annotations

from dataclasses import dataclass, field

from sonicsynth.text.languages import language_spec
from sonicsynth.text.punctuation import PUNCTUATION
from sonicsynth.text.symbols import SYMBOL_TABLE_VERSION, phones_to_ids


@dataclass(frozen=True)
class Word:
    """A written word (or a punctuation mark, whose one phone is the mark itself) and its phones."""

    text: str
    phones: list[str]
    language: str

    @property
    def is_punctuation(self) -> bool:
        return self.text in PUNCTUATION


@dataclass(frozen=True)
class PhonemizedText:
    """A sentence as phones. `phones` is the words' phones concatenated; `ids` are their symbol ids.

    `word_phone_counts` gives the word boundaries inside `phones` (the word-to-phone map that duration
    models and face visemes need). `language` is the sentence's language, or "mixed" when its words
    come from more than one.
    """

    language: str
    normalized_text: str
    words: list[Word]
    phones: list[str] = field(init=False)
    ids: list[int] = field(init=False)
    symbol_table_version: str = field(init=False, default=SYMBOL_TABLE_VERSION)

    def __post_init__(self) -> None:
        # Computed here so that phones and ids can never disagree with the words.
        phones = [phone for word in self.words for phone in word.phones]
        ids = [
            phone_id
            for word in self.words
            for phone_id in phones_to_ids(
                word.phones,
                language_spec(word.language).phone_set,
                text=f"word {word.text!r} of {self.normalized_text!r}",
            )
        ]
        object.__setattr__(self, "phones", phones)
        object.__setattr__(self, "ids", ids)

    @property
    def word_phone_counts(self) -> list[int]:
        """Number of phones of each word, in order; sums to len(phones)."""
        return [len(word.phones) for word in self.words]


@dataclass(frozen=True)
class PhonemizedRun:
    """One language's part of a sentence, as a language front end returns it.

    `dropped` lists the characters the front end could not read, for the caller to warn about once.
    """

    normalized_text: str
    words: list[Word]
    dropped: list[str]
