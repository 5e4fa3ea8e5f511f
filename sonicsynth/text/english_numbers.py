"""English number words: cardinals, ordinals, decimals, years, money (American reading, no "and").

Words come out separated by spaces (inflect's "twenty-one" becomes "twenty one", its commas go) so
each number word is its own word with its own phones, and no comma turns into a pause.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# symbol: (singular unit, plural unit, singular subunit, plural subunit)
CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
}


@lru_cache(maxsize=1)
def _inflect_engine() -> Any:
    # Imported on first use: inflect's import takes about 2 s (typeguard instruments it).
    import inflect

    return inflect.engine()


def _words(inflected: str) -> str:
    return " ".join(inflected.replace("-", " ").replace(",", " ").split())


def cardinal(number: int) -> str:
    """1234 -> "one thousand two hundred thirty four"; -5 -> "minus five"."""
    return _words(_inflect_engine().number_to_words(number, andword=""))


def ordinal(number: int) -> str:
    """21 -> "twenty first"."""
    engine = _inflect_engine()
    return _words(engine.number_to_words(engine.ordinal(number), andword=""))


def digit_string(digits: str) -> str:
    """Read digit by digit: "007" -> "zero zero seven"."""
    return " ".join(_DIGIT_NAMES[int(digit)] for digit in digits)


def integer(digits: str) -> str:
    """A digit string as a cardinal, or digit by digit when it has leading zeros (codes, "007")."""
    if len(digits) > 1 and digits.startswith("0"):
        return digit_string(digits)
    return cardinal(int(digits))


def decimal(whole: str, fraction: str) -> str:
    """("3", "14") -> "three point one four": the fraction is read digit by digit."""
    return f"{integer(whole) if whole else 'zero'} point {digit_string(fraction)}"


def year(number: int) -> str:
    """Years as spoken: 1905 "nineteen oh five", 1900 "nineteen hundred", 2005 "two thousand five",
    2024 "twenty twenty four"."""
    if 2000 <= number <= 2009 or number < 1000:
        return cardinal(number)
    century, rest = divmod(number, 100)
    if rest == 0:
        return f"{cardinal(century)} hundred"
    if rest < 10:
        return f"{cardinal(century)} oh {cardinal(rest)}"
    return f"{cardinal(century)} {cardinal(rest)}"


def plural_of_last_word(words: str) -> str:
    """Decades: "nineteen ninety" -> "nineteen nineties"."""
    *head, last = words.split()
    return " ".join([*head, _inflect_engine().plural_noun(last)])


def money(symbol: str, whole: str, fraction: str | None, scale: str | None = None) -> str:
    """An amount in words: ("$", "5", "50") -> "five dollars and fifty cents", ("$", "1", "5", "million")
    -> "one point five million dollars". A two-digit fraction is the subunit; any other is a decimal."""
    unit, units, subunit, subunits = CURRENCIES[symbol]
    if scale or (fraction is not None and len(fraction) != 2):
        amount = decimal(whole, fraction) if fraction is not None else integer(whole)
        return f"{amount} {scale + ' ' if scale else ''}{units}"
    whole_value = int(whole) if whole else 0
    cents = int(fraction) if fraction is not None else 0
    parts = []
    if whole_value or not cents:
        parts.append(f"{cardinal(whole_value)} {unit if whole_value == 1 else units}")
    if cents:
        parts.append(f"{cardinal(cents)} {subunit if cents == 1 else subunits}")
    return " and ".join(parts)
