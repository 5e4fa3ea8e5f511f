"""Arabic numerals in Chinese text, read as Chinese: 2024 -> 两千零二十四, 3.5 -> 三点五, 2024年 -> 二零二四年."""

from __future__ import annotations

import re

_DIGITS = "零一二三四五六七八九"
_UNITS_IN_GROUP = ("", "十", "百", "千")
# Numbers group by 10^4: 万 (10^4), 亿 (10^8), 万亿 (10^12).
_GROUP_UNITS = ("", "万", "亿", "万亿")
_MAX_CARDINAL = 10 ** (4 * len(_GROUP_UNITS)) - 1

_CURRENCY_UNITS = {"$": "美元", "¥": "元", "￥": "元", "€": "欧元", "£": "英镑"}
_SYMBOL_WORDS = {"+": "加", "=": "等于", "&": "和", "℃": "摄氏度"}

_YEAR = re.compile(r"(\d{4})(?=年)")
_TIME = re.compile(r"(?<!\d)([01]?\d|2[0-3]):([0-5]\d)(?!\d)")
_CURRENCY = re.compile(r"([$¥￥€£])\s?(\d+(?:\.\d+)?)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?[%％]")
_RANGE = re.compile(r"(?<=\d)\s?[-~～]\s?(?=\d)")
_NEGATIVE = re.compile(r"(?<![\d.])-(?=\d)")
_CELSIUS = re.compile(r"°\s?C")
_DEGREES = re.compile(r"°")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SYMBOL = re.compile("[" + re.escape("".join(_SYMBOL_WORDS)) + "]")


def integer_to_chinese(number: int) -> str:
    """Cardinal reading: 10 -> 十, 105 -> 一百零五, 10005 -> 一万零五, 2000 -> 两千, 22 -> 二十二."""
    if number == 0:
        return _DIGITS[0]
    if number > _MAX_CARDINAL:
        return digits_to_chinese(str(number))
    groups = []
    while number:
        number, group = divmod(number, 10_000)
        groups.append(group)
    words = ""
    zero_pending = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(words)
            continue
        # A gap before this group (10005, 1005) is read as one 零.
        if words and (zero_pending or group < 1000):
            words += _DIGITS[0]
        # 两 (not 二) counts thousands and whole 万/亿: 两千, 两万, 两亿.
        group_words = "两" if group == 2 and index > 0 else _group_to_chinese(group)
        words += group_words + _GROUP_UNITS[index]
        zero_pending = False
    # 10-19 at the start are 十, 十一 ..., not 一十, 一十一.
    return words[1:] if words.startswith("一十") else words


def _group_to_chinese(group: int) -> str:
    """0 < group < 10000, with 零 for inner gaps (1005 -> 一千零五) and none trailing (1500 -> 一千五百)."""
    digits = f"{group:04d}".lstrip("0")
    words = ""
    zero_pending = False
    for position, digit in enumerate(digits):
        unit = _UNITS_IN_GROUP[len(digits) - position - 1]
        if digit == "0":
            zero_pending = True
            continue
        if zero_pending:
            words += _DIGITS[0]
            zero_pending = False
        words += ("两" if digit == "2" and unit == "千" else _DIGITS[int(digit)]) + unit
    return words


def digits_to_chinese(digits: str) -> str:
    """Digit by digit: 2024 -> 二零二四."""
    return "".join(_DIGITS[int(digit)] for digit in digits)


def number_to_chinese(number: str) -> str:
    """A decimal string: "3.14" -> 三点一四; leading zeros ("007") are read digit by digit."""
    whole, _, fraction = number.partition(".")
    spoken = digits_to_chinese(whole) if len(whole) > 1 and whole.startswith("0") else integer_to_chinese(int(whole))
    return spoken + ("点" + digits_to_chinese(fraction) if fraction else "")


def normalize_numbers(text: str) -> str:
    """Years, times, money, percentages, ranges, negatives, degrees and plain numbers to Chinese."""
    text = _YEAR.sub(lambda m: digits_to_chinese(m[1]), text)
    text = _TIME.sub(lambda m: _clock_time(int(m[1]), int(m[2])), text)
    text = _CURRENCY.sub(lambda m: number_to_chinese(m[2]) + _CURRENCY_UNITS[m[1]], text)
    text = _PERCENT.sub(lambda m: "百分之" + number_to_chinese(m[1]), text)
    text = _RANGE.sub("到", text)
    text = _NEGATIVE.sub("负", text)
    text = _CELSIUS.sub("摄氏度", text)
    text = _DEGREES.sub("度", text)
    text = _NUMBER.sub(lambda m: number_to_chinese(m[0]), text)
    return _SYMBOL.sub(lambda m: _SYMBOL_WORDS[m[0]], text)


def _clock_time(hour: int, minute: int) -> str:
    """3:00 -> 三点, 3:05 -> 三点零五分, 15:30 -> 十五点三十分."""
    spoken = integer_to_chinese(hour) + "点"
    if minute:
        spoken += ("零" if minute < 10 else "") + integer_to_chinese(minute) + "分"
    return spoken
