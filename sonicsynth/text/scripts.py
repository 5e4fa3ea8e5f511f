"""Splitting text into runs of one script (Han or Latin), so each run goes to its language's front end.

Digits, spaces, punctuation and the symbols normalisers read aloud belong to no script: they join the
run they follow (or, at the start, the first run), so "Python 3" stays English and "我有3个" Chinese.
Characters of any other script, emoji and unknown symbols are collected for the caller to warn about.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sonicsynth.text.languages import Script
from sonicsynth.text.mandarin import HAN_CHARACTERS
from sonicsynth.text.punctuation import KNOWN_MARKS

_HAN = re.compile(f"[{HAN_CHARACTERS}]")
# Symbols some language's normaliser reads aloud (or espeak does).
_SPOKEN_SYMBOLS = frozenset("%％&+=@#$£€¥￥°℃/~")
_NEUTRAL_MARKS = KNOWN_MARKS | _SPOKEN_SYMBOLS


@dataclass(frozen=True)
class ScriptRun:
    text: str
    script: Script | None  # None: the text has no letters of any script (only digits, marks, spaces)


@dataclass(frozen=True)
class ScriptSplit:
    runs: list[ScriptRun]
    dropped: list[str]  # characters of no supported script, in order of appearance


def split_by_script(text: str) -> ScriptSplit:
    """Maximal runs of one script; neutral characters join the run before them (or the first run)."""
    runs: list[list[str]] = []  # the characters of each run
    scripts: list[Script | None] = []  # the script of each run
    dropped: list[str] = []
    for char in text:
        script = script_of(char)
        if script is None and not _is_neutral(char):
            dropped.append(char)
            continue
        if script is not None and scripts and scripts[-1] is None:
            scripts[-1] = script  # leading neutral characters join the first run with a script
        if not runs or (script is not None and script != scripts[-1]):
            runs.append([])
            scripts.append(script)
        runs[-1].append(char)
    return ScriptSplit(
        [ScriptRun("".join(chars), script) for chars, script in zip(runs, scripts, strict=True)], dropped
    )


def script_of(char: str) -> Script | None:
    """Script.HAN, Script.LATIN (letters and their combining accents), or None for everything else."""
    if _HAN.match(char):
        return Script.HAN
    if char.isalpha():
        return Script.LATIN if "LATIN" in unicodedata.name(char, "") else None
    if unicodedata.combining(char):
        return Script.LATIN  # an accent that NFC could not compose onto its letter
    return None


def _is_neutral(char: str) -> bool:
    return char.isspace() or char in _NEUTRAL_MARKS or ("0" <= char <= "9")
