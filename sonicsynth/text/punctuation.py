"""The punctuation every language shares, and the mapping of other scripts' marks onto it.

Punctuation stays in the phone sequence as its own token because prosody models use it: a comma is a
short pause, a full stop a long one, a question mark a rising contour. Marks that carry no prosody of
their own (quotes, guillemets, inverted Spanish marks) are removed; brackets and dashes are pauses, so
they become commas.
"""

from __future__ import annotations

import re

# Canonical marks, in symbol-table order.
PUNCTUATION: tuple[str, ...] = (",", ".", "?", "!", "…", ";", ":")

# Characters removed without a warning: they are understood, they just have nothing to say.
QUOTES = frozenset("\"'‘’‚‛“”„‟«»‹›「」『』《》〈〉¿¡")

_TO_CANONICAL: dict[str, str] = {
    # Chinese and Japanese full-width marks.
    "，": ",",
    "、": ",",
    "。": ".",
    "．": ".",
    "？": "?",
    "！": "!",
    "；": ";",
    "：": ":",
    "⋯": "…",
    # Brackets and dashes mark a parenthetical: a pause. The space keeps "(twice)" from gluing a
    # comma onto the next word; spaces before marks are removed afterwards.
    **{mark: ", " for mark in "()[]{}（）【】〔〕—–―～"},
}

# Every mark normalize_punctuation understands (keeps, maps or removes on purpose).
KNOWN_MARKS = frozenset(PUNCTUATION) | frozenset(_TO_CANONICAL) | QUOTES | {"-"}

_ELLIPSIS = re.compile(r"\.{3,}|。{2,}|…+")
# A hyphen with space on either side (or doubled) is a dash, not part of a word.
_SPACED_HYPHEN = re.compile(r"(?:(?<=\s)-+(?!\d)|-+(?=\s)|-{2,})")
_PUNCTUATION_CLASS = "".join(re.escape(mark) for mark in PUNCTUATION)
# A repeated mark ("!!!", ",,") says nothing more than one; also absorb the spaces in between.
_REPEATED_MARK = re.compile(rf"([{_PUNCTUATION_CLASS}])(?:\s*\1)+")
_SPACE_BEFORE_MARK = re.compile(rf"\s+([{_PUNCTUATION_CLASS}])")


def normalize_punctuation(text: str) -> str:
    """Map every known mark onto `PUNCTUATION`, drop quotes standing on their own, collapse repeats.

    Apostrophes inside words ("don't", "l'homme") are kept: the word tokenisers read them as part of
    the word. A quote at a word edge is a quotation mark and is removed.
    """
    text = _ELLIPSIS.sub("…", text)
    text = _SPACED_HYPHEN.sub(", ", text)
    text = "".join(_TO_CANONICAL.get(char, char) for char in text)
    text = "".join(
        char for index, char in enumerate(text) if char not in QUOTES or _is_word_internal_apostrophe(text, index)
    )
    text = _REPEATED_MARK.sub(r"\1", text)
    text = _SPACE_BEFORE_MARK.sub(r"\1", text)
    return " ".join(text.split())


def _is_word_internal_apostrophe(text: str, index: int) -> bool:
    """An apostrophe with a letter on both sides belongs to the word ("it's", "O’Brien")."""
    if text[index] not in "'’":
        return False
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    return before.isalpha() and after.isalpha()
