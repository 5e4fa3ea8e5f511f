"""Mandarin tone sandhi on a phrase (the words between two punctuation marks).

pypinyin gives dictionary (citation) tones, with a few 一/不 phrases already changed and its own
`tone_sandhi` option applying rules inconsistently (一样 stays yi1, 一九八四 becomes yi4, and nothing
crosses a word boundary), so the rules are implemented here, in this order:

不 (bu4): neutral between a repeated word (好不好); bu2 before a 4th tone (不是 bu2 shi4); else bu4.
一 (yi1): yi1 as an ordinal (第一), inside a number (十一, 一九八四), phrase-final or word-final (统一);
    neutral between a repeated verb (看一看); yi2 before a 4th tone (一个); yi4 before tones 1-3 (一天).
    For 一 and 不 the next syllable's citation tone counts, so a neutral 个/下 still triggers yi2.
    A 一 or 不 that the dictionary already reads as neutral (对不起) keeps its neutral tone.
Third tone: a 3rd tone before a 3rd tone becomes 2nd (你好 ni2 hao3). Words are cut into feet of at
    most two syllables, using the dictionary for three-syllable words: 展览|馆 (2+1) gives 2 2 3, 小|老虎
    (1+2) keeps the first 3rd tone: 3 2 3. A monosyllabic word joins its neighbour into a prosodic group
    of at most three syllables (我|很|好), in which the rule also crosses word boundaries. Within a group
    feet are resolved first, then the boundaries between feet from right to left, so a syllable only
    changes when the tone after it is still a 3rd tone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

NEUTRAL = 5
_NUMERALS = frozenset("零〇一二三四五六七八九十两")
_DIGITS = frozenset("零〇一二三四五六七八九")
_MAGNITUDES = frozenset("百千万亿")
_MAX_GROUP_SYLLABLES = 3


def apply_tone_sandhi(
    words: Sequence[str],
    tones: Sequence[int],
    citation_tones: Sequence[int],
    is_dictionary_word: Callable[[str], bool],
) -> list[int]:
    """Surface tones of a phrase. `words` are its segmented words (concatenated they give one character
    per tone); `tones` are pypinyin's tones for it and `citation_tones` each character's own tone."""
    chars = "".join(words)
    if len(chars) != len(tones) or len(tones) != len(citation_tones):
        raise ValueError(f"{len(chars)} characters but {len(tones)} tones and {len(citation_tones)} citation tones")
    word_ends = _word_end_indices(words)
    result = list(tones)
    for index, char in enumerate(chars):
        if char == "不" and result[index] != NEUTRAL:
            result[index] = _bu_tone(chars, citation_tones, result, index)
        elif char == "一" and result[index] != NEUTRAL:
            result[index] = _yi_tone(chars, citation_tones, result, index, word_ends)
    for group in _prosodic_groups(words, is_dictionary_word):
        _third_tone_sandhi(group, result)
    return result


def _word_end_indices(words: Sequence[str]) -> set[int]:
    """Character indices that end a word of two or more characters."""
    ends, position = set(), 0
    for word in words:
        position += len(word)
        if len(word) > 1:
            ends.add(position - 1)
    return ends


def _next_tone(citation_tones: Sequence[int], tones: Sequence[int], index: int) -> int:
    """The tone that conditions 一/不: the surface tone, or the citation tone where that is neutral."""
    return citation_tones[index] if tones[index] == NEUTRAL else tones[index]


def _bu_tone(chars: str, citation_tones: Sequence[int], tones: Sequence[int], index: int) -> int:
    previous = chars[index - 1] if index > 0 else None
    following = chars[index + 1] if index + 1 < len(chars) else None
    if following is None:
        return 4
    if previous == following:  # A不A question: 好不好, 是不是
        return NEUTRAL
    return 2 if _next_tone(citation_tones, tones, index + 1) == 4 else 4


def _yi_tone(chars: str, citation_tones: Sequence[int], tones: Sequence[int], index: int, word_ends: set[int]) -> int:
    previous = chars[index - 1] if index > 0 else None
    following = chars[index + 1] if index + 1 < len(chars) else None
    after_following = chars[index + 2] if index + 2 < len(chars) else None
    if following is None or previous == "第" or index in word_ends:
        return 1
    if previous in _NUMERALS or previous in _MAGNITUDES or following in _DIGITS or following == "十":
        return 1  # a digit of a number: 十一, 一九八四, 三百一
    if following == "点" and after_following in _DIGITS:
        return 1  # a decimal: 一点五
    if previous == following:  # A一A: 看一看
        return NEUTRAL
    return 2 if _next_tone(citation_tones, tones, index + 1) == 4 else 4


def _prosodic_groups(words: Sequence[str], is_dictionary_word: Callable[[str], bool]) -> list[list[list[int]]]:
    """Groups of feet; a foot is a list of (at most two) character indices."""
    groups: list[list[list[int]]] = []
    group_length = 0
    previous_word_length = 0
    position = 0
    for word in words:
        feet = [[position + offset for offset in foot] for foot in _feet(word, is_dictionary_word)]
        joins = (
            bool(groups)
            and (len(word) == 1 or previous_word_length == 1)
            and group_length + len(word) <= _MAX_GROUP_SYLLABLES
        )
        if joins:
            groups[-1].extend(feet)
            group_length += len(word)
        else:
            groups.append(feet)
            group_length = len(word)
        previous_word_length = len(word)
        position += len(word)
    return groups


def _feet(word: str, is_dictionary_word: Callable[[str], bool]) -> list[list[int]]:
    """Character offsets of the word's feet: 展览馆 -> [0, 1], [2]; 小老虎 -> [0], [1, 2]."""
    if len(word) <= 2:
        return [list(range(len(word)))]
    if len(word) == 3:
        if not is_dictionary_word(word[:2]) and is_dictionary_word(word[1:]):
            return [[0], [1, 2]]
        return [[0, 1], [2]]
    return [list(range(start, min(start + 2, len(word)))) for start in range(0, len(word), 2)]


def _third_tone_sandhi(feet: list[list[int]], tones: list[int]) -> None:
    for foot in feet:
        for left, right in pairwise(foot):
            if tones[left] == 3 and tones[right] == 3:
                tones[left] = 2
    for left_foot, right_foot in reversed(list(pairwise(feet))):
        if tones[left_foot[-1]] == 3 and tones[right_foot[0]] == 3:
            tones[left_foot[-1]] = 2
