"""The phone tables a model's phone ids can index, and a sentence's words named in each.

A model's text settings record the table its phone embedding is indexed by ("symbol_table_version"):
sonicsynth's own table (`sonicsynth.text.symbols`, recorded as its version) for the models trained
here, the published GPT-SoVITS v2 table (`sonicsynth.text.published_symbols`) for published files.
The front end always phonemizes into our phone sets; `words_in_table` renames a sentence's phones
for the model's table and `ids_in_table` gives their ids there.
"""

from __future__ import annotations

from collections.abc import Iterable

from sonicsynth.text.languages import language_spec
from sonicsynth.text.phonemized import Word
from sonicsynth.text.published_symbols import (
    PUBLISHED_V2_SYMBOLS,
    PUBLISHED_V2_TABLE,
    published_v2_ids,
    published_v2_phones,
)
from sonicsynth.text.symbols import SYMBOL_TABLE_VERSION, SYMBOLS, phones_to_ids

# Every table a model may record, with its number of symbols.
SYMBOL_TABLE_SIZES: dict[str, int] = {
    SYMBOL_TABLE_VERSION: len(SYMBOLS),
    PUBLISHED_V2_TABLE: len(PUBLISHED_V2_SYMBOLS),
}


class UnknownSymbolTableError(ValueError):
    """A model records a phone table this sonicsynth does not have."""


def require_known_table(table: str | None, model: str) -> None:
    """Refuse (naming `model`) a table other than ours and the published v2 one."""
    if table not in SYMBOL_TABLE_SIZES:
        known = ", ".join(repr(name) for name in SYMBOL_TABLE_SIZES)
        raise UnknownSymbolTableError(
            f"{model}: the model was trained on phone ids of symbol table {table!r}; this sonicsynth knows the "
            f"tables {known} (v{SYMBOL_TABLE_VERSION} is its own): its phone ids would not mean the same phones"
        )


def words_in_table(words: Iterable[Word], table: str, model: str) -> list[Word]:
    """`words` with their phones named in `table` (ours: as they are). A phone the table has no
    counterpart for raises UnmappablePhoneError naming the phone, its word and `model`."""
    require_known_table(table, model)
    if table == PUBLISHED_V2_TABLE:
        return [Word(word.text, published_v2_phones(word, model), word.language) for word in words]
    return list(words)


def ids_in_table(words: Iterable[Word], table: str) -> list[int]:
    """The ids of words' phones (as `words_in_table` names them for `table`) in `table`."""
    if table == PUBLISHED_V2_TABLE:
        return published_v2_ids(phone for word in words for phone in word.phones)
    # Our table gives each phone set its own ids, so a phone is looked up in its word's language's set.
    return [
        phone_id
        for word in words
        for phone_id in phones_to_ids(word.phones, language_spec(word.language).phone_set, text=f"word {word.text!r}")
    ]
