"""The published GPT-SoVITS v2 phone table (`sonicsynth.text.published_symbols`): its pinned contents,
our ARPAbet, pinyin and punctuation named in it, the refusal of phones it lacks, and the pipelines
feeding published-layout files (written here with random weights) ids of that table, not ours."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.utils import instantiate

from sonicsynth.data.speech_datamodule import DEFAULT_TEXT_FRONTEND, model_phone_ids, model_words, text_settings
from sonicsynth.export.package import CompatibilityError
from sonicsynth.models.gpt import SamplingSettings
from sonicsynth.models.gpt.loading import load_gpt
from sonicsynth.models.gpt.published import PUBLISHED_V2_CONFIG as S1_V2_CONFIG
from sonicsynth.models.gpt.published import build_network, network_config_from_published
from sonicsynth.models.gpt.published import save_published_layout as save_s1
from sonicsynth.models.sovits import load_sovits
from sonicsynth.models.sovits.prior_encoder import V2_SYMBOL_COUNT
from sonicsynth.models.sovits.published import generator_config_from_published
from sonicsynth.models.sovits.published import save_published_layout as save_s2
from sonicsynth.pipelines.resynth import SoVITSResynthesizer
from sonicsynth.pipelines.tts import TextToSpeech, TTSInputError
from sonicsynth.text import TextFrontend
from sonicsynth.text.phone_tables import UnknownSymbolTableError, ids_in_table, words_in_table
from sonicsynth.text.phonemized import PhonemizedText, Word
from sonicsynth.text.published_symbols import (
    PUBLISHED_V2_SYMBOLS,
    PUBLISHED_V2_TABLE,
    UnmappablePhoneError,
    published_v2_hash,
    published_v2_ids,
    published_v2_phones,
)
from sonicsynth.text.punctuation import PUNCTUATION
from sonicsynth.text.symbols import ARPABET_PHONES, SYMBOL_TABLE_VERSION, phones_to_ids
from published_fixtures import SMALL_S2_CONFIG

MODEL = "voice_e8_s96.pth"


def published(phones: str, language: str = "zh", text: str = "x") -> list[str]:
    return published_v2_phones(Word(text, phones.split(), language), MODEL)


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend(languages=("en", "zh", "cs"))


# ------------------------------------------------------------------------------------------ the table


def test_the_table_is_pinned_to_the_published_v2_list():
    assert len(PUBLISHED_V2_SYMBOLS) == V2_SYMBOL_COUNT == 732
    assert len(set(PUBLISHED_V2_SYMBOLS)) == 732
    assert published_v2_hash() == "219b5dcfad7416e15eba4ced0adbeabce276060e71ed06861c5442231a5dd98e", (
        "the published v2 table changed: every published model would read other phones"
    )
    # Facts of the reference's order: a code-point-sorted core (so "!" first and the pad at 95), then
    # the Japanese pitch marks, the Korean jamo and the Cantonese phones appended after it.
    assert PUBLISHED_V2_SYMBOLS[:6] == ("!", ",", "-", ".", "?", "AA")
    assert PUBLISHED_V2_SYMBOLS.index("_") == 95
    assert PUBLISHED_V2_SYMBOLS[322:325] == ("[", "]", "ㄱ")
    assert PUBLISHED_V2_SYMBOLS[353] == "Ya" and PUBLISHED_V2_SYMBOLS[-1] == "Yz"


# ------------------------------------------------------------------------------------------ mapping


def test_every_arpabet_phone_we_emit_is_its_own_published_symbol():
    assert set(ARPABET_PHONES) <= set(PUBLISHED_V2_SYMBOLS)
    assert published_v2_phones(Word("all", list(ARPABET_PHONES), "en"), MODEL) == list(ARPABET_PHONES)


def test_hello_has_the_published_ids(frontend):
    text = frontend.process("Hello, world.", "en")
    assert text.phones == ["HH", "AH0", "L", "OW1", ",", "W", "ER1", "L", "D", "."]
    ids, counts = model_phone_ids(text, symbol_table=PUBLISHED_V2_TABLE, model=MODEL)
    # The ids of the reference's list (HH AH0 L OW1 are 51 12 62 68 there), not of ours.
    assert ids[:5] == [51, 12, 62, 68, 1] and ids[-1] == 3
    assert [PUBLISHED_V2_SYMBOLS[i] for i in ids] == text.phones and counts == [4, 1, 4, 1]
    ours, _ = model_phone_ids(text)
    assert ours == text.ids and ours != ids


def test_punctuation_maps_onto_the_published_marks():
    mapped = {mark: published_v2_phones(Word(mark, [mark], "en"), MODEL) for mark in PUNCTUATION}
    assert mapped == {",": [","], ".": ["."], "?": ["?"], "!": ["!"], "…": ["…"], ";": [","], ":": [","]}


def test_a_mandarin_sentence_with_tones_gets_the_published_syllables(frontend):
    text = frontend.process("我们一起去学校吃午饭，好吗？", "zh")
    words = model_words(text, symbol_table=PUBLISHED_V2_TABLE, model=MODEL)
    assert [word.phones for word in words] == [
        ["w", "o3", "m", "en5"], ["y", "i4", "q", "i3"], ["q", "v4"], ["x", "ve2", "x", "iao4"], ["ch", "ir1"],
        ["w", "u3", "f", "an4"], [","], ["h", "ao3"], ["m", "a5"], ["?"],
    ]  # fmt: skip
    ids, counts = model_phone_ids(text, symbol_table=PUBLISHED_V2_TABLE, model=MODEL)
    assert ids == published_v2_ids(phone for word in words for phone in word.phones)
    # 我 一 午 have no initial in pinyin and gain one (w, y, w) in the published names.
    assert counts == [len(word.phones) for word in words] and sum(counts) == len(ids) == len(text.phones) + 3


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        # initials with finals: the names agree, but for pinyin's abbreviations and the apical vowels
        ("b a1", "b a1"), ("j v3", "j v3"), ("l ve4", "l ve4"), ("d ian1", "d ian1"), ("g uei4", "g ui4"),
        ("l iou2", "l iu2"), ("d uen4", "d un4"), ("z ii1", "z i01"), ("s ii3", "s i03"), ("zh iii1", "zh ir1"),
        ("r iii4", "r ir4"), ("k ong1", "k ong1"),
        # no initial: the markers AA EE OO, and the glides y and w of the pinyin spelling
        ("a1", "AA a1"), ("ang4", "AA ang4"), ("e4", "EE e4"), ("er2", "EE er2"), ("ou1", "OO ou1"),
        ("i1", "y i1"), ("ia1", "y a1"), ("ie3", "y E3"), ("ian4", "y En4"), ("iou3", "y ou3"),
        ("ing1", "y ing1"), ("iong4", "y ong4"), ("u3", "w u3"), ("ua1", "w a1"), ("uo3", "w o3"),
        ("uei4", "w ei4"), ("uen2", "w en2"), ("ueng1", "w eng1"), ("v2", "y v2"), ("van2", "y van2"),
        ("ve4", "y ve4"), ("vn2", "y vn2"),
        # what the published front end cannot read itself, given the closest published syllable
        ("ê4", "EE E4"), ("n2", "EE en2"), ("ng2", "EE en2"), ("m2", "m u2"), ("h ng1", "h eng1"),
        ("ong4", "w ong4"),
        # several syllables in one word, neutral tone 5
        ("x ie4 x ie5", "x ie4 x ie5"),
    ],
)  # fmt: skip
def test_pinyin_syllables_map_to_the_published_names(ours, theirs):
    assert published(ours) == theirs.split()


def test_every_syllable_pypinyin_knows_maps_except_hm():
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    from sonicsynth.text.mandarin import _syllable_phones

    syllables = {to_normal(reading) for readings in pinyin_dict.values() for reading in readings.split(",")}
    unmapped = []
    for syllable in sorted(syllables):
        for tone in (1, 5):
            try:
                published(" ".join(_syllable_phones(syllable, tone)))
            except UnmappablePhoneError:
                unmapped.append(f"{syllable}{tone}")
    assert len(syllables) > 400 and unmapped == ["hm1", "hm5"]


def test_phones_without_a_published_counterpart_are_refused_by_name(frontend):
    czech = frontend.process("Dobrý den", "cs")
    with pytest.raises(UnmappablePhoneError, match=rf"phone 'd' of word 'Dobrý' \(Czech, IPA\).*{MODEL}.*Czech"):
        model_phone_ids(czech, symbol_table=PUBLISHED_V2_TABLE, model=MODEL)
    assert model_phone_ids(czech)[0] == czech.ids  # our own table has them
    with pytest.raises(UnmappablePhoneError, match=rf"syllable 'h m1' of word '噷'.*{MODEL}"):
        published("h m1", text="噷")
    with pytest.raises(UnmappablePhoneError, match="initial 'zh' is not followed by a toned final"):
        published("zh")
    with pytest.raises(UnknownSymbolTableError, match=rf"{MODEL}: .*symbol table 'v9'"):
        words_in_table([], "v9", MODEL)


def test_our_table_keeps_each_phone_sets_own_ids():
    words = [Word("ji", ["j", "i1"], "zh"), Word("yes", ["Y", "EH1", "S"], "en")]
    assert words_in_table(words, SYMBOL_TABLE_VERSION, MODEL) == words
    assert ids_in_table(words, SYMBOL_TABLE_VERSION) == phones_to_ids(["j", "i1"], "pinyin") + phones_to_ids(
        ["Y", "EH1", "S"], "arpabet"
    )


# ------------------------------------------------------------------------------------------ pipelines

# An s1 GPT of 2 layers (the s2 is published_fixtures.SMALL_S2_CONFIG).
SMALL_S1_CONFIG = copy.deepcopy(S1_V2_CONFIG)
SMALL_S1_CONFIG["model"].update(embedding_dim=32, hidden_dim=32, head=2, linear_units=128, n_layer=2)


@pytest.fixture(scope="module")
def published_files(tmp_path_factory) -> dict[str, Path]:
    """A published-layout s2 SoVITS and s1 GPT with random weights, and a 4 s reference clip."""
    directory = tmp_path_factory.mktemp("published")
    torch.manual_seed(0)
    s2 = save_s2(instantiate(generator_config_from_published(SMALL_S2_CONFIG), _convert_="all"), SMALL_S2_CONFIG,
                 directory / "voice_e8_s96.pth")
    s1 = save_s1(build_network(network_config_from_published(SMALL_S1_CONFIG)), directory / "voice-e15.ckpt",
                 config=SMALL_S1_CONFIG)
    rate, seconds = 32000, 4.0
    t = np.arange(int(rate * seconds)) / rate
    clip = (0.3 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    reference = directory / "reference.wav"
    sf.write(reference, clip, rate)
    return {"s1": s1, "s2": s2, "reference": reference}


def recorded_inputs(module: torch.nn.Module) -> list[list[int]]:
    """Every index tensor `module` (an embedding) is called with, as lists, from now on."""
    calls: list[list[int]] = []
    module.register_forward_hook(lambda _module, inputs, _output: calls.append(inputs[0].reshape(-1).tolist()))
    return calls


def test_published_files_record_the_published_table(published_files):
    _, gpt_info = load_gpt(published_files["s1"])
    _, sovits_info = load_sovits(published_files["s2"])
    assert gpt_info["text_settings"]["symbol_table_version"] == PUBLISHED_V2_TABLE
    assert gpt_info["text_settings"] == sovits_info["text_settings"]


def test_tts_feeds_a_published_pair_published_ids(published_files, frontend):
    speaker = TextToSpeech.load(published_files["s1"], published_files["s2"],
                                sampling=SamplingSettings(top_k=1, min_new_tokens=1), max_piece_sec=0.2)
    gpt_phones = recorded_inputs(speaker.gpt.ar_text_embedding.word_embeddings)
    sovits_phones = recorded_inputs(speaker.sovits.generator.enc_p.text_embedding)
    text = "Hello, world. 你好。"
    speech = speaker.speak(text, "auto", published_files["reference"])  # reference-free: no content model needed

    phonemized = frontend.process(text, "auto")
    words = model_words(phonemized, symbol_table=PUBLISHED_V2_TABLE, model=MODEL)
    expected = published_v2_ids(phone for word in words for phone in word.phones)
    assert [PUBLISHED_V2_SYMBOLS[i] for i in expected] == [
        "HH", "AH0", "L", "OW1", ",", "W", "ER1", "L", "D", ".",
        "n", "i2", "h", "ao3", ".",  # 你好, with third-tone sandhi
    ]  # fmt: skip
    assert [piece.phone_ids for piece in speech.pieces] == [expected]
    assert gpt_phones[0] == expected  # the GPT's prompt: the piece's phones, in the published table
    assert len(speech.pieces[0].tokens) > 0 and sovits_phones == [expected]  # SoVITS's text encoder: the same


def test_a_published_gpt_is_refused_beside_a_sovits_of_our_table(published_files):
    gpt, gpt_info = load_gpt(published_files["s1"])
    generator, info = load_sovits(published_files["s2"])
    ours = SoVITSResynthesizer(generator, {**info, "text_settings": text_settings(DEFAULT_TEXT_FRONTEND, False)})
    with pytest.raises(CompatibilityError, match=rf"symbol table '{PUBLISHED_V2_TABLE}'.*'{SYMBOL_TABLE_VERSION}'"):
        TextToSpeech(gpt, gpt_info, ours)


def test_resynthesis_phone_ids_follow_the_models_table(published_files):
    generator, info = load_sovits(published_files["s2"])
    published_model = SoVITSResynthesizer(generator, info)
    ids, phonemized = published_model.phone_ids("Hello, world.", "en")
    assert [PUBLISHED_V2_SYMBOLS[i] for i in ids] == phonemized.phones
    ours = SoVITSResynthesizer(generator, {**info, "text_settings": text_settings(DEFAULT_TEXT_FRONTEND, False)})
    assert ours.phone_ids("Hello, world.", "en")[0] == phonemized.ids != ids


def test_an_unmappable_phone_is_refused_through_the_pipeline(published_files):
    speaker = TextToSpeech.load(published_files["s1"], published_files["s2"])
    with pytest.raises(TTSInputError, match=rf"'Dobrý den'.*phone 'd'.*{published_files['s2']}.*cannot speak Czech"):
        speaker.phone_ids("Dobrý den", "cs", "text")


def test_phonemized_text_ids_stay_in_our_table(frontend):
    # The front end's own ids are ours whatever model reads them; the conversion is the model's.
    text: PhonemizedText = frontend.process("你好", "zh")
    assert text.ids == phones_to_ids(text.phones, "pinyin") and text.symbol_table_version == SYMBOL_TABLE_VERSION


def test_a_gpt_smaller_than_its_table_is_refused(published_files, tmp_path):
    config = copy.deepcopy(SMALL_S1_CONFIG)
    config["model"]["phoneme_vocab_size"] = 624
    path = save_s1(build_network(network_config_from_published(config)), tmp_path / "small.ckpt", config=config)
    with pytest.raises(CompatibilityError, match=r"phone table of 624 rows, fewer than the 732 symbols.*gpt-sovits-v2"):
        TextToSpeech.load(path, published_files["s2"])
