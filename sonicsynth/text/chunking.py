"""Long text cut into the pieces a text-to-speech model speaks one at a time.

An autoregressive token model drifts (repeats, skips, loses the voice) on long inputs and its cost
grows with the square of the length, so the TTS pipeline speaks a text sentence by sentence:

1. cut after each sentence mark (. ? ! … ; and their full-width forms), the mark kept with its
   sentence; a Latin mark only counts when the end, or a space and no lower-case letter, follows
   ("3.5" and "e.g. cheap" stay whole);
2. a piece still longer than `max_chars` is cut after its commas and colons, then, as a last resort,
   at the last space before `max_chars`;
3. a piece shorter than `min_chars` joins the next one (a lone "Yes." speaks badly on its own).
"""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.?!…;])(?=\s+(?![a-z\u00df-\u024f])|\s*$)|(?<=[。？！；])")
_FULL_WIDTH_END = tuple("。？！；，、：")
_CLAUSE_END = re.compile(r"(?<=[,:])(?=\s)|(?<=[，、：])")


def _split_after(pattern: re.Pattern[str], text: str) -> list[str]:
    return [piece.strip() for piece in pattern.split(text) if piece.strip()]


def _cut_at_spaces(text: str, max_chars: int) -> list[str]:
    pieces = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        if cut <= 0:  # one word longer than the limit (or a script without spaces): a hard cut
            cut = max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    return [*pieces, text] if text else pieces


def split_for_synthesis(text: str, max_chars: int = 200, min_chars: int = 8) -> list[str]:
    """The pieces of `text` to synthesise in order (see the module docstring); [] for blank text."""
    if max_chars < 1 or min_chars < 0:
        raise ValueError(f"max_chars must be >= 1 and min_chars >= 0, got {max_chars} and {min_chars}")
    pieces: list[str] = []
    for sentence in _split_after(_SENTENCE_END, " ".join(text.split())):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in _split_after(_CLAUSE_END, sentence):
            pieces.extend(_cut_at_spaces(clause, max_chars))
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1]) < min_chars and len(merged[-1]) + 1 + len(piece) <= max_chars:
            merged[-1] = _join(merged[-1], piece)
        else:
            merged.append(piece)
    if len(merged) > 1 and len(merged[-1]) < min_chars and len(merged[-2]) + 1 + len(merged[-1]) <= max_chars:
        merged[-2:] = [_join(merged[-2], merged[-1])]
    return merged


def _join(first: str, second: str) -> str:
    # Scripts written without spaces keep none between their sentences.
    return first + second if first.endswith(_FULL_WIDTH_END) else f"{first} {second}"
