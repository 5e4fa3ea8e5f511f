"""Text front end: normalisation, G2P per language and the symbol table.

English: CMUdict ARPAbet (espeak-ng for unknown words, mapped to ARPAbet); Mandarin: jieba + pypinyin
initials and toned finals with tone sandhi; Czech and other European languages: espeak-ng IPA.
"""

from sonicsynth.text.frontend import TextFrontend, UnsupportedCharactersWarning, phonemize
from sonicsynth.text.languages import LANGUAGES, UnsupportedLanguageError
from sonicsynth.text.phonemized import PhonemizedText, Word
from sonicsynth.text.symbols import (
    SYMBOL_TABLE_VERSION,
    SYMBOLS,
    PhoneSet,
    UnknownPhoneError,
    ids_to_phones,
    phones_to_ids,
)

__all__ = [
    "LANGUAGES",
    "SYMBOLS",
    "SYMBOL_TABLE_VERSION",
    "PhoneSet",
    "PhonemizedText",
    "TextFrontend",
    "UnknownPhoneError",
    "UnsupportedCharactersWarning",
    "UnsupportedLanguageError",
    "Word",
    "ids_to_phones",
    "phonemize",
    "phones_to_ids",
]
