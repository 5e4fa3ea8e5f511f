"""Forced alignment: TextGrid and MFA formats, the pocketsphinx backend, and the accuracy matching."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from sonicsynth.align import (
    ARPABET,
    BACKENDS,
    SILENCE_PHONE,
    AlignmentError,
    MfaNotInstalledError,
    PocketsphinxAligner,
    check_plausible,
    create_aligner,
    read_mfa_output,
    read_textgrid,
    read_textgrid_speakers,
    run_mfa_align,
    write_mfa_corpus,
    write_textgrid,
)
from sonicsynth.align.accuracy import (
    BoundaryMatch,
    best_boundary_shift,
    best_boundary_shifts,
    compare_alignments,
    match_phone_boundaries,
    match_word_boundaries,
    summarize_boundary_errors,
    summarize_by_kind,
)
from sonicsynth.align.phone_sets import MappedPhone, map_to_arpabet
from sonicsynth.audio import save_audio
from sonicsynth.data.manifest import Alignment, PhoneSpan, Utterance, WordSpan, write_manifest
from sonicsynth.data.tts_engines import voice_by_name

FIXTURES = Path(__file__).parent / "fixtures" / "mfa_output"
BENCH_SCRIPT = Path(__file__).resolve().parents[1] / "eval" / "bench_alignment.py"
# Every word is followed by a comma, so MBROLA pauses between words and the engine's pauses give the
# true word boundaries (MBROLA reports phones only).
MBROLA_SENTENCE = "Seven, purple, elephants, danced, slowly."
MBROLA_WORDS = ["seven", "purple", "elephants", "danced", "slowly"]


def hello_world_alignment() -> Alignment:
    return Alignment(
        phone_set=ARPABET,
        source="test",
        phones=(
            PhoneSpan(SILENCE_PHONE, 0.0, 0.1 + 0.2),  # 0.30000000000000004: float text must survive
            PhoneSpan("HH", 0.1 + 0.2, 0.41),
            PhoneSpan("AH0", 0.41, 0.5),
            PhoneSpan("L", 0.5, 0.61),
            PhoneSpan("OW1", 0.61, 0.8),
            PhoneSpan(SILENCE_PHONE, 0.8, 0.95),
            PhoneSpan("W", 0.95, 1.02),
            PhoneSpan("ER1", 1.02, 1.2),
            PhoneSpan("L", 1.2, 1.3),
            PhoneSpan("D", 1.3, 1.37),
            PhoneSpan(SILENCE_PHONE, 1.37, 1.6543219),
        ),
        words=(WordSpan("hello", 0.1 + 0.2, 0.8), WordSpan("world", 0.95, 1.37)),
    )


# ------------------------------------------------------------------------------------------ TextGrid
@pytest.mark.parametrize("text_format", ["long", "short"])
def test_textgrid_round_trip_is_identical(tmp_path: Path, text_format: str) -> None:
    alignment = hello_world_alignment()
    path = write_textgrid(tmp_path / "utt.TextGrid", alignment, text_format=text_format)
    assert read_textgrid(path, phone_set=ARPABET, source="test") == alignment
    text = path.read_text(encoding="utf-8")
    assert SILENCE_PHONE not in text.split('"')  # silence is an empty interval, as MFA writes it
    assert ('name = "words"' in text) == (text_format == "long")


def test_textgrid_without_words_round_trips_and_missing_phones_tier_is_named(tmp_path: Path) -> None:
    phones_only = Alignment(ARPABET, "test", hello_world_alignment().phones)
    assert read_textgrid(write_textgrid(tmp_path / "p.TextGrid", phones_only), source="test") == phones_only
    words_only = FIXTURES / "spk1" / "spk1-0001.TextGrid"
    broken = tmp_path / "words_only.TextGrid"
    broken.write_text(words_only.read_text().replace('"phones"', '"tones"'))
    with pytest.raises(ValueError, match=r"words_only.TextGrid.*'phones'"):
        read_textgrid(broken)


# ----------------------------------------------------------------------------------------------- MFA
def test_mfa_output_fixture_loads_with_unaligned_report() -> None:
    expected = ["spk1-0001", "spk1-0002", "spk1-0003", "spk1-0004", "dialogue-0001"]
    output = read_mfa_output(FIXTURES, expected_ids=expected)
    # spk1-0003: listed in MFA's unalignable_files.csv; spk1-0004: no TextGrid at all.
    assert output.unaligned == ["spk1-0003", "spk1-0004"]
    hello = output.alignments["spk1-0001"]  # long format
    assert (hello.phone_set, hello.source) == (ARPABET, "mfa")
    assert [(w.word, w.start, w.end) for w in hello.words] == [("hello", 0.23, 0.61), ("world", 0.61, 1.12)]
    assert [p.phone for p in hello.phones] == ["sil", "HH", "AH0", "L", "OW1", "W", "ER1", "L", "D", "sil"]
    assert (hello.phones[0].start, hello.phones[-1].end) == (0.0, 1.54)
    morning = output.alignments["spk1-0002"]  # short format, with a pause between the words
    assert [w.word for w in morning.words] == ["good", "morning"]
    assert PhoneSpan(SILENCE_PHONE, 0.35, 0.5) in morning.phones
    # The two-speaker file ("alice - words", "bob - phones", ...) gives one alignment per speaker.
    assert [w.word for w in output.alignments["dialogue-0001/alice"].words] == ["yes"]
    assert [w.word for w in output.alignments["dialogue-0001/bob"].words] == ["no"]


def test_speaker_prefixed_tiers() -> None:
    dialogue = FIXTURES / "dialogue" / "dialogue-0001.TextGrid"
    assert sorted(read_textgrid_speakers(dialogue)) == ["alice", "bob"]
    bob = read_textgrid(dialogue, speaker="bob")
    assert [(p.phone, p.start, p.end) for p in bob.phones] == [
        ("sil", 0.0, 0.9), ("N", 0.9, 1.0), ("OW1", 1.0, 1.2), ("sil", 1.2, 1.5),
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"several speakers.*alice, bob"):
        read_textgrid(dialogue)
    with pytest.raises(ValueError, match="no tiers of speaker 'carol'"):
        read_textgrid(dialogue, speaker="carol")


def test_mfa_output_flat_layout(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "spk1" / "spk1-0001.TextGrid", tmp_path)
    (tmp_path / "unaligned.txt").write_text("spk1-0009.wav beam too narrow\n")  # MFA 1.x's report
    output = read_mfa_output(tmp_path, expected_ids=["spk1-0001", "spk1-0002"])
    assert list(output.alignments) == ["spk1-0001"]
    assert output.unaligned == ["spk1-0002", "spk1-0009"]


def write_two_utterance_manifest(root: Path) -> Path:
    utterances = []
    for speaker, index, text in [("alice", 0, "Hello there."), ("bob", 1, "General Kenobi!")]:
        audio_path = f"wavs/{speaker}/{speaker}-{index}.wav"
        save_audio(root / audio_path, np.zeros(1600, dtype=np.float32), 16000)
        utterances.append(
            Utterance(f"{speaker}-{index}", audio_path, text, speaker, "en", 0.1, 16000, "test", None, "train")
        )
    manifest = root / "manifest.jsonl"
    write_manifest(manifest, utterances)
    return manifest


@pytest.mark.parametrize("link_audio", [True, False])
def test_write_mfa_corpus_layout(tmp_path: Path, link_audio: bool) -> None:
    manifest = write_two_utterance_manifest(tmp_path / "corpus")
    corpus = write_mfa_corpus(manifest, tmp_path / "mfa_in", link_audio=link_audio)
    assert sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file()) == [
        "alice/alice-0.lab", "alice/alice-0.wav", "bob/bob-1.lab", "bob/bob-1.wav",
    ]  # fmt: skip
    assert (corpus / "bob" / "bob-1.lab").read_text(encoding="utf-8") == "General Kenobi!\n"
    wav = corpus / "alice" / "alice-0.wav"
    assert wav.is_symlink() == link_audio
    assert wav.read_bytes() == (tmp_path / "corpus" / "wavs" / "alice" / "alice-0.wav").read_bytes()
    with pytest.raises(FileExistsError):
        write_mfa_corpus(manifest, corpus)


def test_run_mfa_align_without_mfa_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `mfa` anywhere
    with pytest.raises(MfaNotInstalledError) as caught:
        run_mfa_align(tmp_path / "corpus", "english_us_arpa", "english_us_arpa", tmp_path / "aligned")
    message = str(caught.value)
    assert "conda create" in message and "montreal-forced-aligner" in message
    assert f"{tmp_path / 'aligned'}/<speaker>/<utterance>.TextGrid" in message and "read_mfa_output" in message


# --------------------------------------------------------------------------------------- pocketsphinx
@pytest.fixture(scope="module")
def aligner() -> PocketsphinxAligner:
    return PocketsphinxAligner()


@pytest.fixture(scope="module")
def mbrola_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Alignment]:
    voice = voice_by_name("mbrola-us1")
    if not voice.is_installed():
        pytest.skip(f"voice {voice.name} is not installed (Debian package {voice.debian_package})")
    wav = tmp_path_factory.mktemp("mbrola") / "seven.wav"
    truth = voice.synthesize(MBROLA_SENTENCE, wav)
    return wav, truth


def words_between_pauses(truth: Alignment) -> list[tuple[float, float]]:
    spans, start = [], None
    for phone in truth.phones:
        if phone.phone == "_":
            if start is not None:
                spans.append((start, phone.start))
            start = None
        elif start is None:
            start = phone.start
    return spans


def test_pocketsphinx_aligns_mbrola_speech(aligner: PocketsphinxAligner, mbrola_clip) -> None:
    wav, truth = mbrola_clip
    result = aligner.align(wav, MBROLA_SENTENCE)
    assert (result.phone_set, result.source) == (ARPABET, "pocketsphinx")
    assert [w.word for w in result.words] == MBROLA_WORDS
    assert result.phones[0].start == 0.0 and result.phones[-1].end == pytest.approx(3.07825)
    assert all(a.end == b.start for a, b in itertools.pairwise(result.phones))
    assert {p.phone for p in result.phones} <= {SILENCE_PHONE} | set("S EH V AH N P ER L F T D AE OW IY".split())
    true_words = words_between_pauses(truth)
    word_errors = [
        abs(a - b) for w, t in zip(result.words, true_words, strict=True) for a, b in ((w.start, t[0]), (w.end, t[1]))
    ]
    assert statistics.median(word_errors) < 0.060, word_errors
    phone_match, _ = compare_alignments(truth, result)
    assert statistics.median(abs(r - h) for r, h in phone_match.pairs) < 0.060


def test_pocketsphinx_uses_caller_pronunciations(aligner: PocketsphinxAligner, mbrola_clip) -> None:
    wav, _ = mbrola_clip
    spelled = "Sevn, purpl, elephants, danced, slowly."  # two words no dictionary knows
    with pytest.raises(AlignmentError, match="not in pocketsphinx's dictionary: purpl, sevn"):
        aligner.align(wav, spelled)
    pronunciations = [
        ("sevn", ["S", "EH1", "V", "AH0", "N"]), ("purpl", ["P", "ER1", "P", "AH0", "L"]),
        ("elephants", "EH1 L AH0 F AH0 N T S".split()), ("danced", "D AE1 N S T".split()),
        ("slowly", "S L OW1 L IY0".split()),
    ]  # fmt: skip
    result = aligner.align(wav, spelled, words=pronunciations)
    assert [w.word for w in result.words] == ["sevn", "purpl", "elephants", "danced", "slowly"]
    assert [p.phone for p in result.phones[1:6]] == ["S", "EH", "V", "AH", "N"]
    with pytest.raises(AlignmentError, match="'sevn' has phones not in CMU ARPAbet: Q"):
        aligner.align(wav, spelled, words=[("sevn", ["S", "Q"])])


def test_transcript_that_does_not_match_is_an_error_naming_the_file(aligner: PocketsphinxAligner, mbrola_clip) -> None:
    wav, _ = mbrola_clip
    with pytest.raises(AlignmentError, match=re.escape(str(wav))):
        aligner.align(wav, "The quick brown fox jumps over the lazy dog while it rains in Spain.")
    # One word of five finds a path, but squeezed into a fraction of the audio: implausible.
    with pytest.raises(
        AlignmentError, match=re.escape(f"{wav}: implausible alignment: the aligned speech covers only")
    ):
        aligner.align(wav, "Seven.")


def test_bad_audio_and_empty_transcript(aligner: PocketsphinxAligner, mbrola_clip, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(AlignmentError, match=r"corrupt.wav: cannot read the audio"):
        aligner.align(corrupt, "hello")
    wav, _ = mbrola_clip
    with pytest.raises(AlignmentError, match=re.escape(f"{wav}: nothing to align")):
        aligner.align(wav, " ,.! ")


def test_backend_registry() -> None:
    assert isinstance(create_aligner("pocketsphinx"), PocketsphinxAligner)
    assert "pocketsphinx" in BACKENDS
    with pytest.raises(ValueError, match="unknown alignment backend 'nope'; known: ctc, hmm, pocketsphinx"):
        create_aligner("nope")


def test_plausibility_checks_flag_squeezed_and_missing_words() -> None:
    good = hello_world_alignment()
    check_plausible(good, 1.6543219, ["hello", "world"], "x.wav")
    with pytest.raises(AlignmentError, match=r"x.wav: the alignment has 2 of the transcript's 3 words .missing: again"):
        check_plausible(good, 1.6543219, ["hello", "world", "again"], "x.wav")
    squeezed = Alignment(
        ARPABET, "test",
        phones=(PhoneSpan("sil", 0.0, 0.5), *(PhoneSpan("AH", 0.5 + i * 0.005, 0.505 + i * 0.005) for i in range(4)),
                PhoneSpan("S", 0.52, 1.0)),
        words=(WordSpan("a", 0.5, 1.0),),
    )  # fmt: skip
    with pytest.raises(AlignmentError, match="4 phones in a row are shorter than 10 ms"):
        check_plausible(squeezed, 1.0, ["a"], "x.wav")


# ------------------------------------------------------------------------------------ accuracy matching
def test_phone_set_mapping_splits_and_merges() -> None:
    mbrola = [PhoneSpan("_", 0.0, 0.1), PhoneSpan("b", 0.1, 0.2), PhoneSpan("l=", 0.2, 0.4), PhoneSpan("_", 0.4, 0.5)]
    assert map_to_arpabet(mbrola, "mbrola-sampa") == [
        MappedPhone("sil", 0.0, 0.1), MappedPhone("B", 0.1, 0.2),
        MappedPhone("AH", 0.2, 0.30000000000000004), MappedPhone("L", 0.30000000000000004, 0.4, starts_boundary=False),
        MappedPhone("sil", 0.4, 0.5),
    ]  # fmt: skip
    festival = [PhoneSpan("pau", 0.0, 0.1), PhoneSpan("h#", 0.1, 0.2), PhoneSpan("ax", 0.2, 0.3)]
    assert map_to_arpabet(festival, "festival-radio") == [MappedPhone("sil", 0.0, 0.2), MappedPhone("AH", 0.2, 0.3)]
    with pytest.raises(KeyError, match="'xx' is not in the ARPAbet mapping of phone set 'mbrola-sampa'"):
        map_to_arpabet([PhoneSpan("xx", 0, 1)], "mbrola-sampa")


def test_boundary_matching_survives_insertions_and_substitutions() -> None:
    # Reference "sil B AH L sil" (from MBROLA "b l="), hypothesis "sil B AA sil L sil": a substituted
    # vowel and an inserted pause. Scored: sil|B (both), B|AH~AA (substitution pair). Not scored:
    # AH|L (inside the split "l=") and anything next to the inserted pause.
    reference = map_to_arpabet(
        [PhoneSpan("_", 0.0, 0.1), PhoneSpan("b", 0.1, 0.2), PhoneSpan("l=", 0.2, 0.4), PhoneSpan("_", 0.4, 0.5)],
        "mbrola-sampa",
    )
    hypothesis = [
        MappedPhone("sil", 0.0, 0.12), MappedPhone("B", 0.12, 0.19), MappedPhone("AA", 0.19, 0.28),
        MappedPhone("sil", 0.28, 0.3), MappedPhone("L", 0.3, 0.45), MappedPhone("sil", 0.45, 0.5),
    ]  # fmt: skip
    match = match_phone_boundaries(reference, hypothesis)
    assert match.pairs == [(0.1, 0.12), (0.2, 0.19), (0.4, 0.45)]
    assert match.reference_boundaries == 3  # sil|B, B|AH, L|sil (AH|L is not a real boundary)
    assert match.kinds == ("out_of_pause", "phones", "into_pause")
    summary = summarize_boundary_errors([match])
    assert summary["boundaries"] == 3 and summary["matched_share"] == 1.0
    assert summary["mean_abs_error_ms"] == pytest.approx((20 + 10 + 50) / 3, abs=0.01)
    assert summary["median_abs_error_ms"] == pytest.approx(20)
    assert (summary["within_20ms"], summary["within_40ms"]) == (round(2 / 3, 4), round(2 / 3, 4))
    assert summary["mean_signed_error_ms"] == pytest.approx((20 - 10 + 50) / 3, abs=0.01)
    assert summary["median_signed_error_ms"] == pytest.approx(20)


def test_best_boundary_shift_undoes_a_constant_lateness() -> None:
    early_and_late = [(t, t + error) for t, error in zip(range(8), [0.024, 0.022, 0.004, -0.012, 0.021, 0.0, 0.019, 0.01])]
    shift_ms, share = best_boundary_shift([BoundaryMatch(early_and_late, 8)])
    # Without a shift 6 of 8 are within 20 ms; 4 ms earlier all 8 are (-16 ms is the earliest).
    assert (shift_ms, share) == (-4.0, 1.0)
    unbiased = [(t, t + error) for t, error in zip(range(4), [0.005, -0.005, 0.045, -0.045])]
    assert best_boundary_shift([BoundaryMatch(unbiased, 4)]) == (0.0, 0.5)  # ties keep the smallest shift
    with pytest.raises(ValueError, match="no paired boundaries"):
        best_boundary_shift([BoundaryMatch([], 3)])


def test_boundary_shifts_per_kind_undo_each_kind_s_own_bias() -> None:
    """Boundaries between phones 18-24 ms late, pause edges 23-25 ms early: one shift per kind puts
    all of them within 20 ms, where the best single shift cannot; a kind with too few boundaries to
    measure takes the shift of all of them."""
    between = [(t, t + 0.018 + 0.003 * (t % 3)) for t in range(30)]
    edges = [(t, t - 0.025 + 0.001 * (t % 3)) for t in range(30, 60)]
    match = BoundaryMatch(between + edges, 60, ("phones",) * 30 + ("into_pause",) * 30)
    shifts, share = best_boundary_shifts([match])
    # The smallest shifts that do it: 4 ms earlier, 5 ms later.
    assert share == 1.0 and (shifts["phones"], shifts["into_pause"]) == (-4.0, 5.0)
    single, single_share = best_boundary_shift([match])
    assert single_share < 1.0 and shifts["out_of_pause"] == single  # no boundaries of that kind
    by_kind = summarize_by_kind([match])
    assert by_kind["into_pause"]["boundaries"] == 30
    assert by_kind["into_pause"]["median_signed_error_ms"] == pytest.approx(-24)
    assert by_kind["out_of_pause"] == {"boundaries": 0, "mean_signed_error_ms": None, "median_signed_error_ms": None,
                                       "within_20ms": None, "within_40ms": None}
    few = BoundaryMatch(between + edges[:5], 35, ("phones",) * 30 + ("into_pause",) * 5)
    few_shifts, _ = best_boundary_shifts([few], min_boundaries=20)
    assert few_shifts["into_pause"] == best_boundary_shift([few])[0]


def test_shifted_boundaries_keep_the_ends_and_every_phone() -> None:
    from sonicsynth.models.aligner.inference import shift_boundaries

    phones = [PhoneSpan("sil", 0.0, 0.1), PhoneSpan("AH0", 0.1, 0.13), PhoneSpan("B", 0.13, 0.2), PhoneSpan("sil", 0.2, 0.5)]
    earlier = shift_boundaries(phones, -0.0025)
    assert [p.start for p in earlier] == pytest.approx([0.0, 0.0975, 0.1275, 0.1975])
    assert earlier[-1].end == 0.5 and [p.phone for p in earlier] == [p.phone for p in phones]
    for shift in (-1.0, 1.0):  # far more than any phone: each boundary stops in the middle of its neighbour
        moved = shift_boundaries(phones, shift)
        assert all(p.end > p.start for p in moved) and (moved[0].start, moved[-1].end) == (0.0, 0.5)
        assert all(a.end == b.start for a, b in itertools.pairwise(moved))
    assert shift_boundaries(phones, 0.0) == phones
    # One shift per kind: here the pause edges move 10 ms later, the boundary between phones stays.
    per_kind = shift_boundaries(phones, {"phones": 0.0, "into_pause": 0.01, "out_of_pause": 0.01})
    assert [p.start for p in per_kind] == pytest.approx([0.0, 0.11, 0.13, 0.21])
    # Both boundaries of the 30 ms AH0 move into it as far as they may: a third each, a third is left.
    squeezed = shift_boundaries(phones, {"out_of_pause": 1.0, "phones": -1.0})
    assert squeezed[1].end - squeezed[1].start == pytest.approx(0.01)
    assert all(p.end > p.start for p in squeezed)
    from sonicsynth.models.aligner.inference import boundary_shifts_sec

    assert boundary_shifts_sec(-0.004) == {"phones": -0.004, "into_pause": -0.004, "out_of_pause": -0.004}
    assert boundary_shifts_sec({"into_pause": 0.01}) == {"phones": 0.0, "into_pause": 0.01, "out_of_pause": 0.0}
    with pytest.raises(ValueError, match="unknown boundary kinds \\['vowels'\\]"):
        boundary_shifts_sec({"vowels": 0.01})


def test_word_matching_skips_words_only_one_side_has() -> None:
    reference = [WordSpan("Hello,", 0.1, 0.4), WordSpan("big", 0.4, 0.6), WordSpan("world!", 0.7, 1.0)]
    hypothesis = [WordSpan("hello", 0.12, 0.41), WordSpan("world", 0.69, 1.0), WordSpan("again", 1.0, 1.2)]
    match = match_word_boundaries(reference, hypothesis)
    assert match.pairs == [(0.1, 0.12), (0.4, 0.41), (0.7, 0.69), (1.0, 1.0)]
    assert match.reference_boundaries == 6


# ------------------------------------------------------------------------------------------ benchmark
def test_benchmark_runs_on_tiny_corpus(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("bench_alignment", BENCH_SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)  # eval/ holds scripts, not a package
    out = tmp_path / "alignment.json"
    report = bench.main(["--manifest", str(tiny_corpus), "--engines", "mbrola", "festival", "--out", str(out)])
    assert json.loads(out.read_text()) == report == json.loads(capsys.readouterr().out)
    section = report["backends"]["pocketsphinx"]
    assert section["utterances"] == report["reference_utterances"] > 0 and section["failed"] == {}
    assert section["phones"]["boundaries"] > 0 and section["phones"]["median_abs_error_ms"] < 60
    assert section["by_engine"]["festival"]["words"]["boundaries"] > 0
    assert section["audio_seconds_per_compute_second"] > 1
    assert Path(report["plot"]) == out.with_suffix(".png") and out.with_suffix(".png").stat().st_size > 10_000
