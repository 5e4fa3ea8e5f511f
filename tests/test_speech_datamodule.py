"""The speech DataModule: phones and word-to-phone maps, bucketing, repetition, filters with every
dropped item reported, and alignments from our JSON or MFA's TextGrids."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.data.manifest import read_manifest, write_manifest
from sonicsynth.data.speech_datamodule import LengthBucketSampler, SpeechDataModule

FIXTURES = Path(__file__).parent / "fixtures"
FRONTEND = {"_target_": "sonicsynth.text.TextFrontend"}


def make_datamodule(manifest: Path, out: Path, **kwargs) -> SpeechDataModule:
    dm = SpeechDataModule(str(manifest), FRONTEND, str(out), batch_size=4, **kwargs)
    dm.setup("fit")
    return dm


def test_batches_carry_phones_words_and_audio(tiny_corpus, tmp_path):
    dm = make_datamodule(tiny_corpus, tmp_path, acoustic_phones_only=True)
    assert len(dm.train_set) == 100  # the small corpus is repeated up to 100 items per epoch
    batch = next(iter(dm.train_dataloader()))
    assert batch["audio"].shape[0] == 4 and batch["phones"].shape[0] == 4
    for i in range(4):
        counts = batch["word_phone_counts"][i, : batch["word_phone_counts_lengths"][i]]
        assert int(counts.sum()) == int(batch["phones_lengths"][i])
        assert (batch["phones"][i, : batch["phones_lengths"][i]] > 7).all()  # no pad, no punctuation ids
    assert json.loads((tmp_path / "data_problems.json").read_text())["problems"] == []


def test_bucketing_is_seeded_by_epoch():
    durations = list(np.random.default_rng(0).uniform(1, 10, 200))
    sampler = LengthBucketSampler(durations, batch_size=8, seed=3, pool_batches=5)
    first = list(sampler)
    assert first == list(sampler)  # same epoch, same batches
    sampler.set_epoch(1)
    assert first != list(sampler)
    assert sorted(i for b in first for i in b) == list(range(200))
    # Within a batch durations are close: the spread is far below the corpus's.
    spread = np.mean([np.ptp([durations[i] for i in b]) for b in first if len(b) == 8])
    assert spread < 0.5 * np.ptp(durations)


def test_every_unusable_item_is_reported_with_its_reason(tiny_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus.parent, corpus)
    utterances = read_manifest(corpus / "manifest.jsonl")
    good = [u for u in utterances if u.language == "en"][:4]
    missing, corrupt, empty, emoji, mismatch, short, cut = (replace(good[0], id=f"bad-{i}") for i in range(7))
    corrupt_wav = corpus / "corrupt.wav"
    corrupt_wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    sf.write(corpus / "short.wav", np.zeros(4000, dtype=np.float32), 16000)
    cut_short = (corpus / good[0].audio_path).read_bytes()[:-2000]  # header still declares the full length
    (corpus / "cut_short.wav").write_bytes(cut_short)
    bad = [
        replace(missing, audio_path="nowhere.wav"),
        replace(corrupt, audio_path="corrupt.wav"),
        replace(empty, text="   "),
        replace(emoji, text="🙂🙂"),
        replace(mismatch, text=" ".join(["a much longer transcript than this short clip could ever hold"] * 4)),
        replace(short, audio_path="short.wav", duration=0.25),
        replace(cut, audio_path="cut_short.wav"),
    ]
    manifest = corpus / "bad.jsonl"
    write_manifest(manifest, good + bad)
    dm = make_datamodule(manifest, tmp_path / "out")
    reasons = {p["id"]: p["reason"] for p in json.loads((tmp_path / "out" / "data_problems.json").read_text())["problems"]}
    assert reasons["bad-0"] == "missing audio file"
    assert reasons["bad-1"].startswith("corrupt or unreadable audio")
    assert reasons["bad-2"] == "empty text"
    assert reasons["bad-3"].startswith("text front end")
    assert reasons["bad-4"].startswith("implausible transcript for the audio")
    assert reasons["bad-5"].startswith("too short")
    assert reasons["bad-6"].startswith("truncated WAV file")
    assert len(reasons) == 7 and not any(u.id in reasons for u in good)
    assert {i.utterance.id for i in dm.train_set.items + dm.val_set.items} <= {u.id for u in good}


def test_mfa_textgrids_load_unchanged(tmp_path):
    """A manifest pointing at MFA's own output TextGrid (hand-made fixture) feeds the datamodule."""
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    shutil.copytree(FIXTURES / "mfa_output", corpus / "mfa_output")
    t = np.arange(int(1.54 * 16000)) / 16000
    sf.write(corpus / "wavs" / "spk1-0001.wav", (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32), 16000)
    template = {"text": "hello world", "speaker": "spk1", "language": "en", "duration": 1.54, "sample_rate": 16000,
                "source": "mfa-fixture", "alignment_path": "mfa_output/spk1/spk1-0001.TextGrid"}
    from sonicsynth.data.manifest import Utterance

    rows = [Utterance(id=f"spk1-0001-{split}", audio_path="wavs/spk1-0001.wav", split=split, **template)
            for split in ("train", "val")]
    write_manifest(corpus / "manifest.jsonl", rows)
    dm = make_datamodule(corpus / "manifest.jsonl", tmp_path / "out", with_alignment=True, min_items_per_epoch=0)
    item = dm.train_set[0]
    spans = item["phone_spans"]
    assert spans.shape[0] == 2 and spans[0, 0] == 0.0 and abs(float(spans[1, -1]) - 1.54) < 1e-6
    assert bool((spans[1, :-1] == spans[0, 1:]).all())  # contiguous intervals


def test_phonemized_text_is_cached_and_read_back_without_the_front_end(tiny_corpus, tmp_path, monkeypatch):
    from sonicsynth.text import TextFrontend

    first = make_datamodule(tiny_corpus, tmp_path / "first", phonemization_cache_dir=str(tmp_path / "phonemized"))
    cache_files = list((tmp_path / "phonemized").glob("phonemized-*.jsonl"))
    assert len(cache_files) == 1 and len(first.phonemized) > 0

    def no_front_end(*args, **kwargs):
        raise AssertionError("the front end ran although every sentence was cached")

    monkeypatch.setattr(TextFrontend, "process", no_front_end)
    second = make_datamodule(tiny_corpus, tmp_path / "second", phonemization_cache_dir=str(tmp_path / "phonemized"))
    assert [i.phone_ids for i in second.train_set.items] == [i.phone_ids for i in first.train_set.items]
    assert [i.word_phone_counts for i in second.train_set.items] == [i.word_phone_counts for i in first.train_set.items]


def test_phonemization_cache_is_per_front_end_and_names_a_corrupt_file(tmp_path):
    import pytest

    from sonicsynth.text import TextFrontend
    from sonicsynth.text.cache import PhonemizationCache

    english = PhonemizationCache(tmp_path, ("en",))
    english.put("Hello there.", "en", TextFrontend(("en",)).process("Hello there.", "en"))
    english.save()
    assert PhonemizationCache(tmp_path, ("en",)).get("Hello there.", "en").phones == ["HH", "AH0", "L", "OW1", "DH", "EH1", "R", "."]
    assert PhonemizationCache(tmp_path, ("en", "zh")).get("Hello there.", "en") is None  # another front end
    assert PhonemizationCache(tmp_path, ("en",)).get("Hello there.", "cs") is None
    english.path.write_text("{not json\n")
    with pytest.raises(ValueError, match=f"{english.path.name}, line 1"):
        PhonemizationCache(tmp_path, ("en",))


def test_joined_pairs_are_two_utterances_of_one_speaker(tiny_corpus, tmp_path):
    plain = make_datamodule(tiny_corpus, tmp_path / "plain", min_items_per_epoch=0)
    dm = make_datamodule(tiny_corpus, tmp_path / "pairs", min_items_per_epoch=0, pair_share=1.0)
    by_id = {item.utterance.id: item for item in plain.train_set.items}
    joined = [dm.train_set[i] for i in range(len(dm.train_set))]
    assert joined and all("+" in item["id"] for item in joined)  # every speaker has two train clips here
    for item in joined:
        first, second = (by_id[i] for i in item["id"].split("+"))
        assert first.speaker_index == second.speaker_index == item["speaker"] and first is not second
        assert item["phones"].tolist() == first.phone_ids + second.phone_ids
        assert item["word_phone_counts"].tolist() == first.word_phone_counts + second.word_phone_counts
        assert item["words"] == [*first.words, *second.words]
        assert len(item["audio"]) == sum(len(plain.train_set[plain.train_set.items.index(x)]["audio"])
                                         for x in (first, second))
    # The same seed pairs the same way; validation items stay single.
    again = make_datamodule(tiny_corpus, tmp_path / "again", min_items_per_epoch=0, pair_share=1.0)
    assert [again.train_set[i]["id"] for i in range(len(again.train_set))] == [item["id"] for item in joined]
    assert not any("+" in dm.val_set[i]["id"] for i in range(len(dm.val_set)))
    half = make_datamodule(tiny_corpus, tmp_path / "half", min_items_per_epoch=100, pair_share=0.5)
    share = sum("+" in half.train_set[i]["id"] for i in range(len(half.train_set))) / len(half.train_set)
    assert 0.3 < share < 0.7
    with pytest.raises(ValueError, match="no alignment of their own"):
        make_datamodule(tiny_corpus, tmp_path / "aligned", pair_share=0.5, with_alignment=True)
