"""The languages the front end speaks: how each is phonemized and which script it is written in.

English goes through CMUdict (ARPAbet), Mandarin through jieba + pypinyin (pinyin initials and toned
finals), every other language through espeak-ng (IPA). espeak-ng knows about a hundred more languages;
one becomes supported here once its phones are in the symbol table (a new SYMBOL_TABLE_VERSION), since
a phone without an id cannot reach a model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sonicsynth.text.symbols import PhoneSet

AUTO = "auto"


class Script(str, enum.Enum):
    LATIN = "latin"
    HAN = "han"


class UnsupportedLanguageError(ValueError):
    """A language code the front end cannot phonemize."""


@dataclass(frozen=True)
class LanguageSpec:
    code: str
    name: str
    script: Script
    phone_set: PhoneSet
    espeak_voice: str | None  # None: espeak-ng is not used for this language


LANGUAGES: dict[str, LanguageSpec] = {
    spec.code: spec
    for spec in (
        # en-us is espeak's voice for English words missing from CMUdict.
        LanguageSpec("en", "English", Script.LATIN, PhoneSet.ARPABET, "en-us"),
        LanguageSpec("zh", "Mandarin Chinese", Script.HAN, PhoneSet.PINYIN, None),
        LanguageSpec("cs", "Czech", Script.LATIN, PhoneSet.IPA, "cs"),
        LanguageSpec("sk", "Slovak", Script.LATIN, PhoneSet.IPA, "sk"),
        LanguageSpec("pl", "Polish", Script.LATIN, PhoneSet.IPA, "pl"),
        LanguageSpec("de", "German", Script.LATIN, PhoneSet.IPA, "de"),
        LanguageSpec("fr", "French", Script.LATIN, PhoneSet.IPA, "fr-fr"),
        LanguageSpec("es", "Spanish", Script.LATIN, PhoneSet.IPA, "es"),
        LanguageSpec("it", "Italian", Script.LATIN, PhoneSet.IPA, "it"),
        LanguageSpec("pt", "Portuguese", Script.LATIN, PhoneSet.IPA, "pt"),
        LanguageSpec("nl", "Dutch", Script.LATIN, PhoneSet.IPA, "nl"),
    )
}


def language_spec(code: str) -> LanguageSpec:
    """The spec of `code`; an unknown code raises UnsupportedLanguageError listing the supported ones."""
    if code in LANGUAGES:
        return LANGUAGES[code]
    supported = ", ".join(f"{spec.code} ({spec.name})" for spec in LANGUAGES.values())
    raise UnsupportedLanguageError(
        f"language {code!r} is not supported; supported: {supported}, or {AUTO!r} to detect zh/en by script"
    )
