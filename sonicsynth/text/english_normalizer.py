"""English text normalisation: everything written that is not a plain word becomes words.

The steps run in a fixed order because later ones would misread what earlier ones handle: money,
times, ordinals and years must see their digits before the generic number step turns every remaining
digit string into a cardinal. Ambiguities are resolved the way American English reads aloud:

  * a 4-digit number is a year ("nineteen ninety") only with a cue: a month before it, a word such as
    "in", "since", "by" before it, "s" (decades) or AD/BC after it, or a year range; otherwise a cardinal;
  * "St." is "street" after a capitalised word ("Baker St.") and "saint" before one ("St. Louis");
    "Dr." is "doctor" before a capitalised word, else "drive";
  * a hyphen between numbers is a range ("10-20" -> "ten to twenty"); before a lone number, "minus".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from sonicsynth.text import english_numbers as numbers
from sonicsynth.text.punctuation import normalize_punctuation

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Abbreviations that precede a name or number: their period never ends a sentence.
_TITLE_ABBREVIATIONS = {
    "Mr.": "mister", "Mrs.": "missus", "Ms.": "ms", "Prof.": "professor", "Mt.": "mount",
    "Gen.": "general", "Capt.": "captain", "Sgt.": "sergeant", "Rev.": "reverend", "vs.": "versus",
    "e.g.": "for example", "i.e.": "that is", "approx.": "approximately",
}  # fmt: skip
# Abbreviations that can end a sentence: before a capital letter or the end, their period is a full stop.
_TRAILING_ABBREVIATIONS = {
    "etc.": "et cetera", "Jr.": "junior", "Sr.": "senior", "Inc.": "incorporated", "Ltd.": "limited",
    "Co.": "company", "Ave.": "avenue", "Rd.": "road", "Blvd.": "boulevard", "Sept.": "September",
    **{f"{month[:3]}.": month for month in _MONTHS if len(month) > 3},
}  # fmt: skip
_SYMBOL_WORDS = {"&": "and", "+": "plus", "=": "equals", "@": "at", "%": "percent", "/": "slash", "#": "hash"}
_ERA_WORDS = {"AD": "ay dee", "BC": "bee see", "CE": "see ee", "BCE": "bee see ee"}
_AM_PM_WORDS = {"a": "ay em", "p": "pee em"}

_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"  # with or without thousands separators
_YEAR = r"1[1-9]\d\d|20\d\d"
_CURRENCY = "[" + "".join(re.escape(symbol) for symbol in numbers.CURRENCIES) + "]"
_AM_PM = r"(?P<am_pm>[AaPp])\.?\s?[Mm]\.?(?![^\W_])"

_SPACE_LIKE = re.compile(r"[\u00a0\u2000-\u200b\u202f\u205f\u3000]")
_ABBREVIATION_START = r"(?<![\w.])"
_BEFORE_CAPITALISED = re.compile(r"\s+[A-Z]")
_AFTER_CAPITALISED = re.compile(r"[A-Z][\w']*\s+$")
# Letters with periods: "U.S.A.", "a.k.a.".
_INITIALISM = re.compile(r"(?<![\w.])((?:[A-Za-z]\.){2,})")
_NUMBER_SIGN = re.compile(r"\b[Nn]o\.\s?(?=\d)")
_DATE = re.compile(
    rf"\b(?P<month>{'|'.join(_MONTHS)})\s+"
    rf"(?:(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?:(?P<comma>,?)\s+(?P<year>{_YEAR})\b)?|(?P<month_year>{_YEAR})\b)"
)
_MONEY_RANGE = re.compile(
    rf"(?P<symbol>{_CURRENCY})(?P<first>(?:{_NUMBER})(?:\.\d+)?)\s*(?:-|–|to)\s*{_CURRENCY}?(?=\d)"
)
_SYMBOL_AFTER_AMOUNT = re.compile(rf"(?P<amount>(?:{_NUMBER})(?:\.\d+)?)\s?(?P<symbol>{_CURRENCY})")
_MONEY = re.compile(
    rf"(?P<symbol>{_CURRENCY})\s?(?P<whole>{_NUMBER})?(?:\.(?P<fraction>\d+))?"
    r"(?:\s?(?P<scale>thousand|million|billion|trillion)\b)?"
)
_CLOCK_TIME = re.compile(rf"\b(?P<hour>[01]?\d|2[0-3]):(?P<minutes>[0-5]\d)\b(?:\s?{_AM_PM})?")
_HOUR_AM_PM = re.compile(rf"\b(?P<hour>1[0-2]|0?[1-9])\s?{_AM_PM}")
_ORDINAL = re.compile(rf"\b(?P<number>{_NUMBER})(?:st|nd|rd|th)\b")
_DECADE = re.compile(r"\b(?P<year>1[1-9]\d0|20\d0)s\b")
_ERA = re.compile(rf"\b(?P<year>\d{{1,4}})\s?(?P<era>{'|'.join(_ERA_WORDS)})\b")
_YEAR_RANGE = re.compile(rf"\b(?P<first>{_YEAR})\s*[-–]\s*(?P<second>{_YEAR})\b")
_YEAR_AFTER_CUE = re.compile(
    rf"\b(?P<cue>in|since|by|from|until|till|to|of|during|before|after|around|circa|year)\s+(?P<year>{_YEAR})\b(?![.,]\d)",
    re.IGNORECASE,
)
_PERCENT = re.compile(r"(?<=\d)\s?%")
_RANGE = re.compile(r"(?<=\d)\s?[-–]\s?(?=\d)")
_MINUS = re.compile(r"(?<![\w.])-(?=\.?\d)")
_DEGREES = re.compile(r"°\s?(?P<scale>[CF])\b|°")
_NUMBER_MARK = re.compile(r"#\s?(?=\d)")
# "mp3" -> "mp 3", "4K" -> "4 K", "COVID-19" -> "COVID 19".
_LETTER_DIGIT_BOUNDARY = re.compile(r"(?<=[^\W\d_])-?(?=\d)|(?<=\d)-?(?=[^\W\d_])")
_PLAIN_NUMBER = re.compile(rf"(?=\.?\d)(?P<whole>{_NUMBER})?(?:\.(?P<fraction>\d+))?")
_SYMBOL = re.compile("[" + re.escape("".join(_SYMBOL_WORDS)) + "]")


def normalize_english(text: str) -> str:
    """Expand numbers, money, times, dates, abbreviations and symbols into words; canonical punctuation."""
    text = _SPACE_LIKE.sub(" ", unicodedata.normalize("NFC", text).replace("’", "'"))
    text = _expand_abbreviations(text)
    text = _DATE.sub(_spoken(_date), text)
    text = _expand_money(text)
    text = _CLOCK_TIME.sub(_spoken(_time), text)
    text = _HOUR_AM_PM.sub(_spoken(_time), text)
    text = _ORDINAL.sub(_spoken(lambda m: numbers.ordinal(int(m["number"].replace(",", "")))), text)
    text = _expand_years(text)
    text = _PERCENT.sub(" percent ", text)
    text = _RANGE.sub(" to ", text)
    text = _MINUS.sub(" minus ", text)
    text = _DEGREES.sub(_spoken(_degrees), text)
    text = _NUMBER_MARK.sub(" number ", text)
    text = _LETTER_DIGIT_BOUNDARY.sub(" ", text)
    text = _PLAIN_NUMBER.sub(_spoken(_number), text)
    text = _SYMBOL.sub(lambda m: f" {_SYMBOL_WORDS[m.group()]} ", text)
    return normalize_punctuation(text)


def _spoken(replace: Callable[[re.Match[str]], str]) -> Callable[[re.Match[str]], str]:
    """Wrap a replacement so the words it returns never glue onto the neighbouring text."""
    return lambda match: f" {replace(match)} "


def _expand_abbreviations(text: str) -> str:
    def street_or_saint(match: re.Match[str]) -> str:
        before_name = _BEFORE_CAPITALISED.match(match.string, match.end())
        if before_name and not _AFTER_CAPITALISED.search(match.string[: match.start()]):
            return "saint"
        return "street" + _sentence_end(match.string, match.end())

    def doctor_or_drive(match: re.Match[str]) -> str:
        if _BEFORE_CAPITALISED.match(match.string, match.end()):
            return "doctor"
        return "drive" + _sentence_end(match.string, match.end())

    text = re.sub(rf"{_ABBREVIATION_START}St\.", street_or_saint, text)
    text = re.sub(rf"{_ABBREVIATION_START}Dr\.", doctor_or_drive, text)
    for abbreviation, expansion in _TITLE_ABBREVIATIONS.items():
        text = re.sub(rf"{_ABBREVIATION_START}{re.escape(abbreviation)}", expansion, text)
    for abbreviation, expansion in _TRAILING_ABBREVIATIONS.items():
        text = re.sub(
            rf"{_ABBREVIATION_START}{re.escape(abbreviation)}",
            lambda match, words=expansion: words + _sentence_end(match.string, match.end()),
            text,
        )
    text = _INITIALISM.sub(_spell_initialism, text)
    # "No. 5" is "number five"; "no." elsewhere is the word "no" ending a sentence.
    return _NUMBER_SIGN.sub("number ", text)


def _spell_initialism(match: re.Match[str]) -> str:
    """Each letter is a word; CMUdict reads the word "a" as the article, so the letter A is spelled "ay"."""
    letters = [letter for letter in match[1] if letter != "."]
    spelled = " ".join("ay" if letter in "Aa" else letter for letter in letters)
    return spelled + _sentence_end(match.string, match.end())


def _sentence_end(text: str, end: int) -> str:
    """The full stop an abbreviation's period doubled as: at the end, or before a capitalised word."""
    return "." if not text[end:].strip() or _BEFORE_CAPITALISED.match(text, end) else ""


def _date(match: re.Match[str]) -> str:
    words = [match["month"]]
    if match["month_year"]:
        words.append(numbers.year(int(match["month_year"])))
    else:
        words.append(numbers.ordinal(int(match["day"])) + (match["comma"] or ""))
        if match["year"]:
            words.append(numbers.year(int(match["year"])))
    return " ".join(words)


def _expand_money(text: str) -> str:
    # "$5-10" reads "five dollars to ten dollars": give the range's second amount its symbol.
    text = _MONEY_RANGE.sub(lambda m: f"{m['symbol']}{m['first']} to {m['symbol']}", text)
    text = _SYMBOL_AFTER_AMOUNT.sub(lambda m: m["symbol"] + m["amount"], text)  # "5 €" reads like "€5"

    def money(match: re.Match[str]) -> str:
        if match["whole"] is None and match["fraction"] is None:  # a lone symbol: "in $"
            return numbers.CURRENCIES[match["symbol"]][1]
        whole = (match["whole"] or "").replace(",", "")
        return numbers.money(match["symbol"], whole, match["fraction"], match["scale"])

    return _MONEY.sub(_spoken(money), text)


def _time(match: re.Match[str]) -> str:
    minutes = match.groupdict().get("minutes")
    words = [numbers.cardinal(int(match["hour"]))]
    if minutes and minutes != "00":
        words.append(("oh " if minutes.startswith("0") else "") + numbers.cardinal(int(minutes)))
    if match["am_pm"]:
        words.append(_AM_PM_WORDS[match["am_pm"].lower()])
        if match.group().endswith("."):  # "p.m." at a sentence end: its period was the full stop too
            words[-1] += _sentence_end(match.string, match.end())
    elif minutes == "00":
        words.append("o'clock")
    return " ".join(words)


def _expand_years(text: str) -> str:
    text = _DECADE.sub(_spoken(lambda m: numbers.plural_of_last_word(numbers.year(int(m["year"])))), text)
    text = _ERA.sub(_spoken(lambda m: f"{numbers.year(int(m['year']))} {_ERA_WORDS[m['era']]}"), text)
    text = _YEAR_RANGE.sub(
        _spoken(lambda m: f"{numbers.year(int(m['first']))} to {numbers.year(int(m['second']))}"), text
    )
    return _YEAR_AFTER_CUE.sub(_spoken(lambda m: f"{m['cue']} {numbers.year(int(m['year']))}"), text)


def _degrees(match: re.Match[str]) -> str:
    scale = {"C": " celsius", "F": " fahrenheit"}.get(match["scale"] or "", "")
    return "degrees" + scale


def _number(match: re.Match[str]) -> str:
    whole = (match["whole"] or "").replace(",", "")
    return numbers.decimal(whole, match["fraction"]) if match["fraction"] is not None else numbers.integer(whole)
