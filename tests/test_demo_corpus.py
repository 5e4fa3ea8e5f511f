"""The demo corpus builder: consistency of what it writes, determinism, resume, and manifest errors."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import soundfile as sf

from sonicsynth.data.demo_corpus import MANIFEST_NAME, DemoCorpusConfig, assign_splits, build_demo_corpus
from sonicsynth.data.human_speech import fillets_installed, librivox_installed
from sonicsynth.data.manifest import Utterance, read_alignment, read_manifest, write_manifest
from sonicsynth.data.tts_engines import FestivalVoice, SynthesisError, voice_by_name

# Every engine: three that give phone timings, two that do not.
VOICES = ("mbrola-us1", "festival-kal", "flite-rms", "rhvoice-bdl", "pico-en-us")
CONFIG = DemoCorpusConfig(voices=VOICES, sentences=3, max_human_per_speaker=1)


def _require_installed() -> None:
    for name in VOICES:
        voice = voice_by_name(name)
        if not voice.is_installed():
            pytest.skip(f"voice {name} is not installed (Debian package {voice.debian_package})")
    if not fillets_installed():
        pytest.skip("Czech clips need Debian packages fillets-ng-data-cs and fillets-ng-data")
    if not librivox_installed():
        pytest.skip("LibriVox clips need Debian package pocketsphinx-testdata")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_installed()
    out_dir = tmp_path_factory.mktemp("demo_corpus")
    build_demo_corpus(out_dir, CONFIG, progress=False)
    return out_dir


def _corpus_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_manifest_matches_the_files(corpus: Path) -> None:
    utterances = read_manifest(corpus / MANIFEST_NAME)
    assert len(utterances) == len(VOICES) * CONFIG.sentences + 2 + 1  # + one clip per Czech speaker + LibriVox
    assert {u.source for u in utterances} >= {*VOICES, "human-fillets", "human-librivox"}
    assert {u.speaker for u in utterances if u.source == "human-fillets"} == {"fillets-m", "fillets-v"}
    assert {u.language for u in utterances if u.source == "human-fillets"} == {"cs"}
    for utterance in utterances:
        info = sf.info(str(utterance.audio_file(corpus)))
        assert (info.channels, info.subtype) == (1, "PCM_16"), utterance.id
        assert info.samplerate == utterance.sample_rate, utterance.id
        assert info.frames / info.samplerate == utterance.duration, utterance.id
        assert utterance.text.strip(), utterance.id


def test_phone_timings_cover_the_audio(corpus: Path) -> None:
    utterances = read_manifest(corpus / MANIFEST_NAME)
    timed = [u for u in utterances if u.alignment_path is not None]
    assert {u.source for u in timed} == {"mbrola-us1", "festival-kal", "flite-rms"}
    for utterance in timed:
        alignment = read_alignment(utterance.alignment_file(corpus))
        assert alignment.source == utterance.source
        assert alignment.phone_set in {"mbrola-sampa", "festival-radio", "flite-cmu"}
        phones = alignment.phones
        assert len(phones) > 10 and phones[0].start == 0.0
        for previous, current in zip(phones, phones[1:]):
            assert previous.start < previous.end <= current.start, (utterance.id, previous, current)
        assert abs(phones[-1].end - utterance.duration) <= 0.030, utterance.id


def test_every_speaker_has_train_val_and_test(corpus: Path) -> None:
    by_speaker: dict[str, set[str]] = {}
    for utterance in read_manifest(corpus / MANIFEST_NAME):
        by_speaker.setdefault(utterance.speaker, set()).add(utterance.split)
    for voice in VOICES:  # 3 utterances each
        assert by_speaker[voice] == {"train", "val", "test"}, voice
    # Speakers with fewer than 3 utterances cannot be split three ways and train on all of them.
    assert by_speaker["librivox-reader"] == {"train"}


def test_splits_are_per_speaker_and_deterministic() -> None:
    ids = {"a": [f"a-{i:02d}" for i in range(25)], "b": ["b-2", "b-0", "b-1"], "c": ["c-0"]}
    splits = assign_splits(ids)
    assert [i for i in ids["a"] if splits[i] == "val"] == ["a-00", "a-10", "a-20"]
    assert [i for i in ids["a"] if splits[i] == "test"] == ["a-01", "a-11", "a-21"]
    assert (splits["b-0"], splits["b-1"], splits["b-2"]) == ("val", "test", "train")
    assert splits["c-0"] == "train"


def test_dialogue_lines_rotate_over_the_voices_and_split_by_line(tmp_path: Path) -> None:
    """Each dialogue line is spoken by voices_per_line voices in rotation; a line's split is the same
    for everyone who speaks it, so no val/test line is heard in training."""
    from sonicsynth.data.human_speech import fillets_english_lines

    _require_installed()
    voices = ("mbrola-us1", "flite-rms", "pico-en-us")
    config = DemoCorpusConfig(voices=voices, sentences=1, max_human_per_speaker=0, dialogue_lines=11, voices_per_line=2)
    summary = build_demo_corpus(tmp_path, config, progress=False)
    lines = fillets_english_lines()
    assert len(lines) > 1000 and lines == sorted(set(lines))
    assert all(4 <= len(line.split()) <= 25 and line.isascii() for line in lines)
    spoken = [u for u in summary.utterances if "-line" in u.id]
    assert len(spoken) == 11 * 2
    by_line: dict[int, list[Utterance]] = {}
    for utterance in spoken:
        by_line.setdefault(int(utterance.id.rsplit("-line", 1)[1]), []).append(utterance)
    for index, utterances in by_line.items():
        assert {u.text for u in utterances} == {lines[index]}
        assert len({u.speaker for u in utterances}) == 2
        assert {u.split for u in utterances} == {{0: "val", 1: "test"}.get(index % 10, "train")}
    # Line 0 by voices 0 and 1, line 1 by voices 2 and 0, ...: the voices share the lines evenly.
    assert sorted(u.speaker for u in by_line[1]) == ["mbrola-us1", "pico-en-us"]
    counts = [sum(u.speaker == voice for u in spoken) for voice in voices]
    assert max(counts) - min(counts) <= 1
    # The sentences' own per-speaker splits are untouched by the lines.
    assert {u.split for u in summary.utterances if "-line" not in u.id} == {"train"}
    assert "Dialogue lines" in (tmp_path / "README").read_text()
    with pytest.raises(ValueError, match="dialogue has"):
        build_demo_corpus(tmp_path / "too_many", replace(config, dialogue_lines=len(lines) + 1), progress=False)


def test_flite_times_every_sentence_of_a_multi_sentence_text(tmp_path: Path) -> None:
    """flite times each sentence from its own start; the timings run on across the whole wav."""
    voice = voice_by_name("flite-rms")
    if not voice.is_installed():
        pytest.skip("flite is not installed")
    alignment = voice.synthesize("A treadmill for fish? But we only have fins.", tmp_path / "two.wav")
    duration = sf.info(str(tmp_path / "two.wav")).duration
    phones = alignment.phones
    assert all(a.end == b.start and a.start < a.end for a, b in zip(phones, phones[1:]))
    assert abs(phones[-1].end - duration) <= 0.030
    assert sum(p.phone == "pau" for p in phones) >= 3  # each sentence starts and ends in a pause


def test_two_builds_are_byte_identical(corpus: Path, tmp_path: Path) -> None:
    build_demo_corpus(tmp_path, CONFIG, progress=False)
    assert _corpus_files(tmp_path) == _corpus_files(corpus)


def test_resume_remakes_only_what_is_missing(corpus: Path, tmp_path: Path) -> None:
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    utterances = {u.id: u for u in read_manifest(copy / MANIFEST_NAME)}
    removed = utterances["festival-kal-001"]
    removed.audio_file(copy).unlink()
    # What a build killed mid-write leaves: a hidden temporary beside its target.
    leftover = copy / "wavs" / "mbrola-us1" / ".mbrola-us1-002.wav.tmp-0123456789ab"
    leftover.write_bytes(b"RIFF half a wav")
    untouched = utterances["mbrola-us1-000"].audio_file(copy)
    mtime_before = untouched.stat().st_mtime_ns

    summary = build_demo_corpus(copy, CONFIG, progress=False)

    assert summary.produced == ["festival-kal-001"]
    assert not leftover.exists()
    assert untouched.stat().st_mtime_ns == mtime_before
    assert _corpus_files(copy) == _corpus_files(corpus)


def test_bad_manifest_line_names_file_and_line(tmp_path: Path) -> None:
    good = Utterance(
        id="u1",
        audio_path="wavs/s/u1.wav",
        text="hello",
        speaker="s",
        language="en",
        duration=1.5,
        sample_rate=16000,
        source="test",
        alignment_path=None,
        split="train",
    )
    manifest = tmp_path / "manifest.jsonl"
    write_manifest(manifest, [good, replace(good, id="u2", split="val")])
    assert read_manifest(manifest) == [good, replace(good, id="u2", split="val")]

    lines = manifest.read_text(encoding="utf-8").splitlines()
    broken = {
        "{oops": "Expecting property name",
        json.dumps({"id": "u3"}): "missing field",
        lines[1].replace('"val"', '"dev"'): "split 'dev' is not one of",
        lines[1].replace("1.5", '"1.5"'): "field 'duration' has type str",
    }
    for bad_line, problem in broken.items():
        manifest.write_text(f"{lines[0]}\n{bad_line}\n", encoding="utf-8")
        with pytest.raises(ValueError, match=re.escape(f"{manifest}, line 2: ") + ".*" + re.escape(problem)):
            read_manifest(manifest)

    manifest.write_text(f"{lines[0]}\n{lines[0]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: duplicate id 'u1' \(first on line 1\)"):
        read_manifest(manifest)


def test_engine_failure_names_voice_and_text(tmp_path: Path) -> None:
    if not voice_by_name("festival-kal").is_installed():
        pytest.skip("festival is not installed (Debian package festival)")
    voice = FestivalVoice("nosuch", "nosuch_voice", "none")
    with pytest.raises(SynthesisError, match=r"festival-nosuch.*'Say this\.'"):
        voice.synthesize("Say this.", tmp_path / "out.wav")
