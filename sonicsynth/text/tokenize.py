"""Splitting normalised text into word and punctuation tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sonicsynth.text.punctuation import PUNCTUATION

_PUNCTUATION_CLASS = "".join(re.escape(mark) for mark in PUNCTUATION)


@dataclass(frozen=True)
class Token:
    text: str
    is_punctuation: bool


@dataclass(frozen=True)
class Tokenized:
    tokens: list[Token]
    dropped: list[str]  # characters that were neither word, punctuation nor space


def tokenize(text: str, word_pattern: str) -> Tokenized:
    """Words (matching `word_pattern`) and punctuation marks in order; anything else is reported as dropped."""
    scanner = re.compile(rf"(?P<word>{word_pattern})|(?P<mark>[{_PUNCTUATION_CLASS}])|(?P<space>\s+)|(?P<other>.)")
    tokens: list[Token] = []
    dropped: list[str] = []
    for match in scanner.finditer(text):
        if match.lastgroup == "word":
            tokens.append(Token(match.group(), is_punctuation=False))
        elif match.lastgroup == "mark":
            tokens.append(Token(match.group(), is_punctuation=True))
        elif match.lastgroup == "other":
            dropped.append(match.group())
    return Tokenized(tokens, dropped)
