"""Text front end: normalisation, English/Mandarin/espeak G2P, mixed scripts, symbol table, bad input."""

from __future__ import annotations

import unicodedata
import warnings

import pytest

from sonicsynth.text import (
    SYMBOL_TABLE_VERSION,
    PhonemizedText,
    PhoneSet,
    TextFrontend,
    UnknownPhoneError,
    UnsupportedCharactersWarning,
    UnsupportedLanguageError,
    ids_to_phones,
    phones_to_ids,
)
from sonicsynth.text.arpabet import UnmappedIpaError, ipa_to_arpabet
from sonicsynth.text.english import _cmudict
from sonicsynth.text.english_normalizer import normalize_english
from sonicsynth.text.espeak import clean_word_phones
from sonicsynth.text.languages import LANGUAGES, Script
from sonicsynth.text.mandarin_numbers import integer_to_chinese
from sonicsynth.text.mandarin_sandhi import apply_tone_sandhi
from sonicsynth.text.scripts import split_by_script
from sonicsynth.text.symbols import (
    ARPABET_PHONES,
    PAD,
    PAD_ID,
    SYMBOL_TABLE,
    SYMBOLS,
    is_known_phone,
    symbol_table_hash,
)

# One hash per released table version: a table change without a version bump fails here.
PINNED_SYMBOL_TABLE_HASHES = {
    "1": "690b5b5216bee1941de39ac443cc9302323a445e7734f9bbedfefbe2cf17422e",
}

# A sentence per espeak-ng language, covering its characteristic letters.
ESPEAK_SAMPLES = {
    "cs": "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "sk": "Kŕdeľ šťastných ďatľov učí pri ústí Váhu mĺkveho koňa obhrýzať kôru.",
    "pl": "Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
    "de": "Victor jagt zwölf Boxkämpfer quer über den großen Sylter Deich.",
    "fr": "Les enfants sont à l'école, portez ce vieux whisky au juge blond qui fume.",
    "es": "¿Cómo estás? El veloz murciélago hindú comía feliz cardillo y kiwi.",
    "it": "Quel vituperabile xenofobo zelante assaggia il whisky ed esclama: alleluja!",
    "pt": "À noite, vovô Kowalsky vê o ímã cair no pé do pinguim queixoso. Não, obrigado.",
    "nl": "Goedemorgen, hoe gaat het met u? De schone zeeuwse uitgang.",
}


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    """One front end for the module, warmed up so that dictionary loading (CMUdict, inflect, jieba,
    espeak voices: a few seconds) is paid once in setup instead of inside the first test."""
    frontend = TextFrontend()
    frontend.process("Warm up: 5 words and blorptastic.", "en")
    frontend.process("你好，一个人。", "zh")
    frontend.process("Dobrý den.", "cs")
    return frontend


def phone_lists(result: PhonemizedText) -> list[tuple[str, list[str]]]:
    return [(word.text, word.phones) for word in result.words]


def tones(phones: list[str]) -> list[int]:
    """The tone digits of a Mandarin word's finals, one per syllable."""
    return [int(phone[-1]) for phone in phones if phone[-1].isdigit()]


# --- English normalisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs $5.50.", "It costs five dollars and fifty cents."),
        ("I have $1 and $0.99", "I have one dollar and ninety nine cents"),
        ("£3.20 or 5 €", "three pounds and twenty pence or five euros"),
        ("€2.5 million", "two point five million euros"),
        ("$5-10", "five dollars to ten dollars"),
        ("50% off", "fifty percent off"),
        ("at 3:30", "at three thirty"),
        ("at 3:05 pm.", "at three oh five pee em."),
        ("at 3:00", "at three o'clock"),
        ("the 21st and 3rd", "the twenty first and third"),
        ("pi is 3.14", "pi is three point one four"),
        ("1,234 votes", "one thousand two hundred thirty four votes"),
        ("agent 007", "agent zero zero seven"),
        ("in 1999", "in nineteen ninety nine"),
        ("since 2005", "since two thousand five"),
        ("by 2024", "by twenty twenty four"),
        ("the 1990s", "the nineteen nineties"),
        ("from 1990-2010", "from nineteen ninety to twenty ten"),
        ("1500 people", "one thousand five hundred people"),
        ("May 5, 2024", "May fifth, twenty twenty four"),
        ("pages 10-20", "pages ten to twenty"),
        ("it was -5 today", "it was minus five today"),
        ("Mr. Smith and Dr. Jones", "mister Smith and doctor Jones"),
        ("St. Louis is on Baker St. Then", "saint Louis is on Baker street. Then"),
        ("apples, pears, etc.", "apples, pears, et cetera."),
        ("Tom & Jerry", "Tom and Jerry"),
        ("2+2=4", "two plus two equals four"),
        ("25°C", "twenty five degrees celsius"),
        ("COVID-19", "COVID nineteen"),
        ("Wait... what?!", "Wait… what?!"),
        ("He said “hello” (twice) — loudly!!!", "He said hello, twice, loudly!"),
    ],
)
@pytest.mark.usefixtures("frontend")  # inflect's slow import happens in the fixture's warm-up
def test_english_normalisation(text: str, expected: str) -> None:
    assert normalize_english(text) == expected


def test_punctuation_is_kept_as_tokens(frontend: TextFrontend) -> None:
    result = frontend.process("Wait... what?! Yes, no; maybe: fine.", "en")
    marks = [word.text for word in result.words if word.is_punctuation]
    assert marks == ["…", "?", "!", ",", ";", ":", "."]
    assert all(word.phones == [word.text] for word in result.words if word.is_punctuation)


# --- English G2P --------------------------------------------------------------------------------------------


def test_cmudict_word(frontend: TextFrontend) -> None:
    result = frontend.process("hello", "en")
    assert result.phones == ["HH", "AH0", "L", "OW1"]
    assert result.language == "en"


def test_possessive_and_hyphenated_words(frontend: TextFrontend) -> None:
    words = dict(phone_lists(frontend.process("The boss's cat's data-driven e-mail.", "en")))
    assert words["boss's"][-2:] == ["IH0", "Z"]
    assert words["cat's"][-1] == "S"
    # Not in CMUdict as a whole: read part by part. "e-mail" is in it and is read whole.
    assert words["data-driven"] == _cmudict()["data"][0] + _cmudict()["driven"][0]
    assert words["e-mail"] == _cmudict()["e-mail"][0]


def test_out_of_vocabulary_word_goes_through_espeak_to_arpabet(frontend: TextFrontend) -> None:
    assert "blorptastic" not in _cmudict()
    result = frontend.process("blorptastic", "en")
    assert result.phones[:2] == ["B", "L"]
    assert result.phones[-2:] == ["IH0", "K"]
    assert all(phone in ARPABET_PHONES for phone in result.phones)
    assert sum(phone[-1] == "1" for phone in result.phones) == 1  # one primary stress


def test_ipa_to_arpabet_table() -> None:
    assert ipa_to_arpabet(["h", "ə", "l", "ˈoʊ"], "hello") == ["HH", "AH0", "L", "OW1"]
    assert ipa_to_arpabet(["f", "ˈaɪɚ"], "fire") == ["F", "AY1", "ER0"]
    assert ipa_to_arpabet(["k", "ˌɑːɹ", "ɾ", "əl"], "cartel") == ["K", "AA2", "R", "T", "AH0", "L"]
    with pytest.raises(UnmappedIpaError, match=r"'ʀ'.*'word'"):
        ipa_to_arpabet(["ʀ"], "word")


# --- word-to-phone map ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Dr. Smith paid $5.50 for blorptastic coffee, didn't he?", "en"),
        ("我喜欢编程，你呢？", "zh"),
        ("Dobrý den, jak se máte?", "cs"),
        ("我喜欢Python编程。", "auto"),
    ],
)
def test_word_phone_counts_sum_to_phone_count(frontend: TextFrontend, text: str, language: str) -> None:
    result = frontend.process(text, language)
    assert sum(result.word_phone_counts) == len(result.phones) == len(result.ids)
    assert all(count > 0 for count in result.word_phone_counts)
    assert [phone for word in result.words for phone in word.phones] == result.phones


# --- Mandarin ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("不是", ["b", "u2", "sh", "iii4"]),
        ("一个", ["i2", "g", "e4"]),
        ("一天", ["i4", "t", "ian1"]),
        ("你好", ["n", "i2", "h", "ao3"]),
        ("第一", ["d", "i4", "i1"]),
    ],
)
def test_mandarin_tone_sandhi_cases(frontend: TextFrontend, text: str, phones: list[str]) -> None:
    assert frontend.process(text, "zh").phones == phones


@pytest.mark.parametrize(
    ("text", "expected_tones"),
    [
        ("展览馆", [2, 2, 3]),  # 2+1 word: both 3rd tones before the last change
        ("小老虎", [3, 2, 3]),  # 1+2 word: 小 stays, its follower is no longer 3rd
        ("好不好", [3, 5, 3]),  # A不A
        ("看一看", [4, 5, 4]),  # A一A
        ("统一", [3, 1]),  # word-final 一
        ("一九八四", [1, 3, 1, 4]),  # digits of a number
        ("十一", [2, 1]),
        ("一百", [4, 3]),
        ("一样", [2, 4]),
        ("不好", [4, 3]),
    ],
)
def test_mandarin_tone_sandhi_rules(frontend: TextFrontend, text: str, expected_tones: list[int]) -> None:
    assert tones(frontend.process(text, "zh").phones) == expected_tones


def test_third_tone_sandhi_crosses_word_boundaries_in_short_groups() -> None:
    def never_a_word(_: str) -> bool:
        return False

    # 我|很|好 is one prosodic group: resolved right to left, 3 2 3.
    assert apply_tone_sandhi(["我", "很", "好"], [3, 3, 3], [3, 3, 3], never_a_word) == [3, 2, 3]
    # Two disyllabic words are separate groups: no sandhi across them.
    assert apply_tone_sandhi(["总统", "演讲"], [3, 3, 3, 3], [3, 3, 3, 3], never_a_word) == [2, 3, 2, 3]
    # A neutral 个 after 一 counts with its citation tone (4).
    assert apply_tone_sandhi(["一个"], [1, 5], [1, 4], never_a_word) == [2, 5]


def test_mandarin_apical_vowels_and_punctuation(frontend: TextFrontend) -> None:
    result = frontend.process("知道，自己！", "zh")
    assert phone_lists(result) == [
        ("知道", ["zh", "iii1", "d", "ao4"]),
        (",", [","]),
        ("自己", ["z", "ii4", "j", "i3"]),
        ("!", ["!"]),
    ]


@pytest.mark.parametrize(
    ("number", "chinese"),
    [(0, "零"), (10, "十"), (15, "十五"), (105, "一百零五"), (1500, "一千五百"), (2024, "两千零二十四"),
     (10005, "一万零五"), (120000, "十二万"), (200000000, "两亿")],
)  # fmt: skip
def test_numbers_to_chinese(number: int, chinese: str) -> None:
    assert integer_to_chinese(number) == chinese


def test_mandarin_number_normalisation(frontend: TextFrontend) -> None:
    result = frontend.process("我有3个苹果，花了2.5元，占50%，1999年。", "zh")
    assert result.normalized_text == "我有三个苹果,花了二点五元,占百分之五十,一九九九年."


# --- espeak-ng languages --------------------------------------------------------------------------------------


def test_czech_sentence_to_ipa_phones_per_word(frontend: TextFrontend) -> None:
    result = frontend.process("Příliš žluťoučký kůň úpěl ďábelské ódy.", "cs")
    words = dict(phone_lists(result))
    assert list(words) == ["Příliš", "žluťoučký", "kůň", "úpěl", "ďábelské", "ódy", "."]
    assert words["kůň"] == ["k", "ˈuː", "ɲ"]
    # Multi-character phones stay whole: ř (r̝̊), affricate tʃ, long vowels with stress.
    assert words["Příliš"] == ["p", "r̝̊", "ˈiː", "l", "i", "ʒ"]
    assert "tʃ" in words["žluťoučký"]
    assert result.language == "cs"


def test_czech_clitics_keep_one_entry_per_written_word(frontend: TextFrontend) -> None:
    # espeak joins "na" with the next word; the phrase is realigned word by word.
    result = frontend.process("Jedeme na výlet v sobotu.", "cs")
    assert [word.text for word in result.words] == ["Jedeme", "na", "výlet", "v", "sobotu", "."]


@pytest.mark.parametrize("language", sorted(ESPEAK_SAMPLES))
def test_every_espeak_language_maps_into_the_symbol_table(frontend: TextFrontend, language: str) -> None:
    result = frontend.process(ESPEAK_SAMPLES[language], language)
    assert result.language == language
    assert len(result.ids) == len(result.phones) > 10


def test_espeak_phone_cleanup() -> None:
    assert clean_word_phones(["m", "ˈw", "a"]) == ["m", "w", "ˈa"]  # stress moves to the nucleus
    assert clean_word_phones(["l", "ˈə-"]) == ["l", "ˈə"]  # French elidable schwa marker
    assert clean_word_phones(["a", "ss", "a"]) == ["a", "sː", "a"]  # Italian geminate
    assert clean_word_phones(["ˈææ"]) == ["ˈæ", "æ"]  # doubled phone without a separator
    assert clean_word_phones(["ˈiːː"]) == ["ˈiː"]
    assert clean_word_phones(["ç", "o\u0303"]) == ["ç", "õ"]  # one Unicode form (NFC)
    assert clean_word_phones(["ˈs"]) == ["s"]  # a lone consonant word carries no stress


# --- mixed languages ------------------------------------------------------------------------------------------


def test_mixed_chinese_english_split_into_runs(frontend: TextFrontend) -> None:
    split = split_by_script("我喜欢Python编程")
    assert [(run.text, run.script) for run in split.runs] == [
        ("我喜欢", Script.HAN),
        ("Python", Script.LATIN),
        ("编程", Script.HAN),
    ]
    result = frontend.process("我喜欢Python编程", "auto")
    assert [(word.text, word.language) for word in result.words] == [
        ("我", "zh"),
        ("喜欢", "zh"),
        ("Python", "en"),
        ("编程", "zh"),
    ]
    assert result.words[2].phones == ["P", "AY1", "TH", "AA0", "N"]
    assert result.language == "mixed"


def test_neutral_characters_follow_their_run(frontend: TextFrontend) -> None:
    assert [run.text for run in split_by_script("Python 3 很好，我有3个").runs] == ["Python 3 ", "很好，我有3个"]
    result = frontend.process("Dobrý den, 你好!", "cs")
    assert [word.language for word in result.words] == ["cs", "cs", "cs", "zh", "zh"]


def test_auto_detects_a_single_language(frontend: TextFrontend) -> None:
    assert frontend.process("你好世界", "auto").language == "zh"
    assert frontend.process("Hello world", "auto").language == "en"


# --- symbol table ---------------------------------------------------------------------------------------------


def test_symbol_table_version_is_pinned_to_its_contents() -> None:
    assert PINNED_SYMBOL_TABLE_HASHES.get(SYMBOL_TABLE_VERSION) == symbol_table_hash(), (
        "the symbol table changed: bump SYMBOL_TABLE_VERSION and pin the new hash"
    )


def test_symbol_table_layout() -> None:
    assert SYMBOLS[PAD_ID] == PAD
    assert SYMBOLS[1:8] == (",", ".", "?", "!", "…", ";", ":")
    for phone_set in PhoneSet:
        symbols = [symbol for owner, symbol in SYMBOL_TABLE if owner == phone_set.value]
        assert len(symbols) == len(set(symbols)), f"duplicate symbols in {phone_set.value}"
    assert all(unicodedata.normalize("NFC", symbol) == symbol for symbol in SYMBOLS)
    # The same string is a different sound (and id) in different phone sets: pinyin c [tsʰ], IPA c (Czech ť).
    assert phones_to_ids(["c"], PhoneSet.PINYIN) != phones_to_ids(["c"], PhoneSet.IPA)
    assert is_known_phone("ˈr̩", PhoneSet.IPA) and is_known_phone("iii4", PhoneSet.PINYIN)


def test_phones_ids_round_trip(frontend: TextFrontend) -> None:
    for text, language in (("Hello, world!", "en"), ("不是一个。", "zh"), ("Příliš žluťoučký kůň.", "cs")):
        result = frontend.process(text, language)
        assert ids_to_phones(result.ids) == result.phones
        assert result.symbol_table_version == SYMBOL_TABLE_VERSION


def test_unknown_phone_is_named() -> None:
    with pytest.raises(UnknownPhoneError, match=r"'QQ1'.*'some text'"):
        phones_to_ids(["HH", "QQ1"], PhoneSet.ARPABET, text="some text")
    with pytest.raises(UnknownPhoneError, match="id 99999"):
        ids_to_phones([0, 99999])


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_an_error(frontend: TextFrontend, text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        frontend.process(text)


def test_unreadable_characters_are_dropped_with_a_warning(frontend: TextFrontend) -> None:
    with pytest.warns(UnsupportedCharactersWarning, match=r"'🙂' \(SLIGHTLY SMILING FACE\).*'П'"):
        result = frontend.process("Hello 🙂 Привет world", "en")
    assert [word.text for word in result.words] == ["Hello", "world"]
    # A Han character pypinyin has no reading for.
    with pytest.warns(UnsupportedCharactersWarning, match="CJK UNIFIED IDEOGRAPH-3DAA"):
        result = frontend.process("你好㶪世界", "zh")
    assert [word.text for word in result.words] == ["你好", "世界"]


def test_text_of_a_language_the_front_end_lacks_is_dropped_with_a_warning() -> None:
    czech_only = TextFrontend(languages=["cs"])
    with pytest.warns(UnsupportedCharactersWarning, match="'你好'.*'zh'"):
        result = czech_only.process("Dobrý den, 你好", "cs")
    assert [word.text for word in result.words] == ["Dobrý", "den", ","]


def test_nothing_left_is_an_error(frontend: TextFrontend) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedCharactersWarning)
        with pytest.raises(ValueError, match=r"nothing speakable.*SLIGHTLY SMILING FACE"):
            frontend.process("🙂🙂", "en")
    with pytest.raises(ValueError, match="nothing speakable"):
        frontend.process("?!", "en")


def test_unknown_language_lists_the_supported_ones(frontend: TextFrontend) -> None:
    with pytest.raises(UnsupportedLanguageError) as error:
        frontend.process("hello", "xx")
    assert all(f"{code} (" in str(error.value) for code in LANGUAGES)
    with pytest.raises(UnsupportedLanguageError, match="'klingon'"):
        TextFrontend(languages=["en", "klingon"])
    with pytest.raises(UnsupportedLanguageError, match="not one of this front end's languages"):
        TextFrontend(languages=["en"]).process("Dobrý den", "cs")
