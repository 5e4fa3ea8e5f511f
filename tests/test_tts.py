"""The TTS pipeline (`sonicsynth.pipelines.tts`, `python infer.py task=tts`) on the tiny SoVITS of the
session fixtures and a tiny GPT that memorised one sentence's semantic tokens (trained here in a
second): greedy reference-free speech of that sentence is exactly the SoVITS decoding of those tokens;
seeds reproduce; streaming gives the offline audio piece by piece; every bad input and a GPT of
another SoVITS model are refused with nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sonicsynth.data.manifest import read_manifest
from sonicsynth.data.semantic_tokens import TOKENS_NAME, token_settings
from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import CompatibilityError, save_package
from sonicsynth.models.gpt import SamplingSettings, SemanticGPT
from sonicsynth.models.gpt.loading import load_gpt
from sonicsynth.models.gpt.published import save_published_layout
from sonicsynth.utils.seeding import step_seed
from sonicsynth.pipelines.resynth import ResynthesisInputError, SoVITSResynthesizer
from sonicsynth.pipelines.tts import TextToSpeech, TTSInputError, tts
from sonicsynth.text.chunking import split_for_synthesis
from sonicsynth.utils.hydra_config import compose_config
from script_loading import load_script

ROOT = Path(__file__).resolve().parents[1]
# codebook_size: the tiny SoVITS's codebook (a GPT predicting codes its SoVITS lacks is refused).
NET = {"_target_": "sonicsynth.models.gpt.SemanticGPT", "dim": 32, "heads": 2, "num_layers": 2, "ffn_dim": 128,
       "codebook_size": 64, "dropout": 0.0, "position_dropout": 0.0}
GREEDY = SamplingSettings(top_k=1, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def sovits_package(tiny_sovits_checkpoint, tmp_path_factory) -> Path:
    return package_from_checkpoint(tiny_sovits_checkpoint, tmp_path_factory.mktemp("sovits") / "package")


@pytest.fixture(scope="module")
def sovits(sovits_package) -> SoVITSResynthesizer:
    return SoVITSResynthesizer.load(sovits_package)


@pytest.fixture(scope="module")
def corpus(tiny_corpus) -> dict:
    utterances = {u.id: u for u in read_manifest(tiny_corpus)}
    return {"utterances": utterances, "audio": {k: u.audio_file(tiny_corpus.parent) for k, u in utterances.items()}}


@pytest.fixture(scope="module")
def memorised(sovits, corpus) -> dict:
    """The sentence the tiny GPT learns by heart (reference-free: phones -> its tokens), and the tokens."""
    utterance = corpus["utterances"]["festival-kal-001"]
    audio = corpus["audio"][utterance.id]
    content = sovits.content_features(sovits.load_content_audio(audio).samples)
    tokens = sovits.tokens_from_content(content, sovits.frames_of(sf.info(audio).frames))[0]
    phones, _ = sovits.phone_ids(utterance.text, utterance.language)
    return {"text": utterance.text, "language": utterance.language, "tokens": tokens, "phones": phones}


def train_memorising_gpt(memorised: dict, steps: int = 300) -> SemanticGPT:
    torch.manual_seed(0)
    net = SemanticGPT(**{k: v for k, v in NET.items() if k != "_target_"})
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    phones = torch.tensor([memorised["phones"]])
    tokens = memorised["tokens"].reshape(1, -1)
    for _ in range(steps):
        out = net(phones, torch.tensor([phones.shape[1]]), tokens, torch.tensor([tokens.shape[1]]))
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    return net.eval()


def save_gpt(net: SemanticGPT, sovits: SoVITSResynthesizer, out: Path, compatibility_id: str | None = None) -> Path:
    config = {"net": NET, "text_settings": sovits.text_settings,
              "token_source": {"config": None, "name": TOKENS_NAME, "settings": token_settings(sovits)}}
    return save_package(out, net.state_dict(), config, family="gpt",
                        compatibility_id=compatibility_id or sovits.source["compatibility_id"])


@pytest.fixture(scope="module")
def gpt_package(memorised, sovits, tmp_path_factory) -> Path:
    return save_gpt(train_memorising_gpt(memorised), sovits, tmp_path_factory.mktemp("gpt") / "package")


@pytest.fixture(scope="module")
def speaker(gpt_package, sovits_package) -> TextToSpeech:
    return TextToSpeech.load(gpt_package, sovits_package)


@pytest.fixture(scope="module")
def reference(corpus) -> dict:
    utterance = corpus["utterances"]["mbrola-us1-000"]  # 3.8 s
    return {"path": corpus["audio"][utterance.id], "text": utterance.text}


def test_greedy_reference_free_speech_is_the_sovits_decoding_of_the_memorised_tokens(
        gpt_package, sovits_package, sovits, memorised, reference, tmp_path):
    speaker = TextToSpeech.load(gpt_package, sovits_package, sampling=GREEDY)
    log_path = tts(speaker, memorised["text"], memorised["language"], reference["path"], tmp_path, {"test": 1})
    record = json.loads(log_path.read_text())
    assert len(record["pieces"]) == 1 and record["pieces"][0]["stopped_at_eos"]
    assert record["pieces"][0]["semantic_tokens"] == memorised["tokens"].tolist()
    assert record["text"]["reference_free"] and record["reference_tokens"] == []

    spec = sovits.reference_spectrogram(sovits.load_reference(reference["path"]).samples)
    expected = sovits.synthesize(memorised["tokens"], memorised["phones"], spec, seed=step_seed(0, 0, 1))
    written, rate = sf.read(tmp_path / "tts.wav", dtype="float32")
    assert rate == sovits.sample_rate and len(written) == len(expected) == len(memorised["tokens"]) * 128
    np.testing.assert_allclose(written, expected, atol=1.0 / 32768 + 1e-6)  # 16-bit PCM
    assert record["checkpoint"]["gpt"]["kind"] == "package" and record["checkpoint"]["sovits"]["kind"] == "package"
    assert record["real_time_factor"] > 0 and record["outputs"][0]["num_samples"] == len(expected)


def test_the_same_seed_gives_the_same_audio_and_another_seed_other_audio(speaker, memorised, reference):
    text, lang = memorised["text"], memorised["language"]
    first = speaker.speak(text, lang, reference["path"], reference["text"], seed=0)
    again = speaker.speak(text, lang, reference["path"], reference["text"], seed=0)
    other = speaker.speak(text, lang, reference["path"], reference["text"], seed=1)
    assert len(first.reference.tokens) > 0 and first.reference.text.endswith(".")
    assert np.array_equal(first.audio, again.audio)
    assert not (len(first.audio) == len(other.audio) and np.array_equal(first.audio, other.audio))


def test_streaming_yields_the_offline_audio_piece_by_piece(speaker, memorised, reference, tmp_path):
    text = f"{memorised['text']} Then it stopped! Did it come back?"
    assert len(split_for_synthesis(text)) == 3
    log_path = tts(speaker, text, "en", reference["path"], tmp_path, {}, reference_text=reference["text"], seed=3,
                   stream=True)
    record = json.loads(log_path.read_text())
    pieces = [sf.read(tmp_path / f"tts_piece{i}.wav", dtype="float32")[0] for i in range(3)]
    pause = np.zeros(round(0.3 * speaker.sovits.sample_rate), dtype=np.float32)
    whole = sf.read(tmp_path / "tts.wav", dtype="float32")[0]
    assert np.array_equal(whole, np.concatenate([pieces[0], pause, pieces[1], pause, pieces[2]]))
    readiness = [p["ready_after_sec"] for p in record["pieces"]]
    assert readiness == sorted(readiness) and [p["index"] for p in record["pieces"]] == [0, 1, 2]

    reference_prompt = speaker.prepare_reference(reference["path"], reference["text"], "en")
    streamed = list(speaker.stream(text, "en", reference_prompt, seed=3))
    assert np.array_equal(speaker.join(streamed), speaker.speak(text, "en", reference["path"], reference["text"],
                                                                seed=3).audio)


def test_bad_inputs_are_refused_by_name_with_nothing_written(speaker, reference, corpus, tmp_path):
    out = tmp_path / "out"
    for text, lang, match in (("", "en", "empty"), ("   ", "en", "empty"), ("Hello there.", "xx", "language")):
        with pytest.raises(TTSInputError, match=match):
            tts(speaker, text, lang, reference["path"], out, {})
    rate = speaker.sovits.sample_rate
    clip = sf.read(reference["path"], dtype="float32")[0]
    short, long_, silent = tmp_path / "short.wav", tmp_path / "long.wav", tmp_path / "silent.wav"
    sf.write(short, clip[: 2 * rate], rate)
    sf.write(long_, np.tile(clip, 4)[: 12 * rate], rate)
    sf.write(silent, np.zeros(4 * rate, dtype=np.float32), rate)
    for path, match in ((short, r"2\.000 s; it must be 3-10 s"), (long_, r"12\.000 s; it must be 3-10 s"),
                        (silent, "holds no speech")):
        with pytest.raises(ResynthesisInputError, match=match) as error:  # the SoVITS side's reference checks
            tts(speaker, "Hello there.", "en", path, out, {}, reference_text="Hello.")
        assert str(path) in str(error.value)
    with pytest.raises(FileNotFoundError, match="no such reference audio file"):
        tts(speaker, "Hello there.", "en", tmp_path / "gone.wav", out, {})
    assert not out.exists()


def test_a_gpt_of_another_sovits_model_is_refused(memorised, sovits, sovits_package, tmp_path):
    net = SemanticGPT(**{k: v for k, v in NET.items() if k != "_target_"})
    other = save_gpt(net, sovits, tmp_path / "other", compatibility_id="another-run")
    with pytest.raises(CompatibilityError, match=r"compatibility id 'another-run'.*not trained together"):
        TextToSpeech.load(other, sovits_package)


def test_a_published_s1_file_loads_but_is_refused_beside_a_sovits_of_our_phone_table(memorised, sovits_package,
                                                                                     tmp_path):
    # A published file's phone embedding is indexed by the published v2 table, the package's phone
    # ids are ours: the same ids would name other phones (a published pair speaks in
    # tests/test_published_symbols.py).
    path = save_published_layout(train_memorising_gpt(memorised, steps=1), tmp_path / "s1.ckpt", half=True)
    net, info = load_gpt(path)
    assert info["source"]["kind"] == "published" and info["token_source"] is None
    with pytest.raises(CompatibilityError, match=r"symbol table 'gpt-sovits-v2'.*those of '1'"):
        TextToSpeech(net, info, SoVITSResynthesizer.load(sovits_package))


def test_infer_tts_on_the_command_line(gpt_package, sovits_package, reference, tmp_path):
    command = [sys.executable, str(ROOT / "infer.py"), "task=tts", f"gpt={gpt_package}", f"ckpt={sovits_package}",
               'text="Hello, there."', "lang=en", f"ref_audio={reference['path']}", f"hydra.run.dir={tmp_path}",
               "sampling.top_k=5", "seed=0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "outputs" / "generation_log.json").read_text())
    assert record["task"] == "tts" and record["sampling"]["top_k"] == 5 and record["parameters"]["seed"] == 0
    infer = load_script("infer.py")
    no_gpt = compose_config("infer", ["task=tts", f"ckpt={sovits_package}", "text=Hi", f"output_dir={tmp_path}"])
    with pytest.raises(ValueError, match="task=tts needs gpt="):
        infer.run_tts(no_gpt)


def test_text_is_cut_at_sentences_then_clauses():
    assert split_for_synthesis("Hello there. It costs 3.5 dollars, e.g. cheap! Really? Yes.") == [
        "Hello there.", "It costs 3.5 dollars, e.g. cheap!", "Really? Yes."]
    assert split_for_synthesis("你好。我们走吧！好的") == ["你好。我们走吧！好的"]
    assert split_for_synthesis("one, two, three, four, five six seven eight nine ten", max_chars=20) == [
        "one, two,", "three, four,", "five six seven eight", "nine ten"]
    assert split_for_synthesis("  \n ") == []


def test_the_robustness_report_scores_every_sentence(gpt_package, sovits_package, reference, tmp_path):
    report_script = load_script("eval/tts_robustness.py")
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Hello there.\n\nThank you.\n")
    out = tmp_path / "report"
    assert report_script.main(["--gpt", str(gpt_package), "--sovits", str(sovits_package), "--ref-audio",
                               str(reference["path"]), "--ref-text", reference["text"], "--out", str(out),
                               "--sentences", str(sentences)]) == 0
    report = json.loads((out / "report.json").read_text())
    spoken = report["per_sentence"][1:]
    assert [r["text"] for r in spoken] == ["Hello there.", "Thank you."] and report["sentences"] == 2
    for row in spoken:
        assert 0.0 <= row["stopped_at_eos"] <= 1.0 and row["real_time_factor"] > 0 and row["cer"] >= 0
        assert (out / f"{row['id']}.wav").is_file()
        assert row["seconds"] > 0 and f"| {row['text']} | {len(row['text'])} |" in (out / "report.md").read_text()
    assert report["summary"]["tts"]["cer"]["count"] == 2
    assert report_script.main(["--gpt", str(tmp_path / "none"), "--sovits", str(sovits_package), "--ref-audio",
                               str(reference["path"]), "--out", str(tmp_path / "bad")]) == 1


def test_the_speed_benchmark_times_every_stage_of_every_sentence(gpt_package, sovits_package, reference, tmp_path):
    bench = load_script("eval/bench_tts.py")
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("Hello there.\nThank you.\n")
    out = tmp_path / "bench.json"
    report = bench.main(["--gpt", str(gpt_package), "--sovits", str(sovits_package), "--ref-audio",
                         str(reference["path"]), "--ref-text", reference["text"], "--sentences", str(sentences),
                         "--runs", "2", "--out", str(out)])
    assert json.loads(out.read_text()) == report
    assert report["settings"]["sentences"] == 2 and report["speech_seconds"] > 0
    stages = report["stage_seconds"]
    assert all(seconds > 0 for seconds in stages.values())
    assert report["real_time_factor"] == pytest.approx(sum(stages.values()) / report["speech_seconds"])
    assert sum(report["stage_share"].values()) == pytest.approx(1.0)
    assert report["gpt_tokens_per_second"] > 0 and 0 <= report["stopped_at_eos"] <= 1
    assert 0 < report["first_audio_sec"] <= sum(stages.values())
