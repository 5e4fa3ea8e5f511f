"""SoVITS inference on the tiny model trained on the tiny corpus (tiny random HuBERT content, CPU):
resynthesis through the Python API and `infer.py task=resynth` (exact output length, generation log,
seeds), each bad input refused by name with nothing written, and the semantic tokens of a corpus
written into the feature cache by scripts/extract_semantic_tokens.py (resumable, problems listed,
compatibility id recorded and enforced)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sonicsynth.audio import load_audio, resample
from sonicsynth.data.feature_cache import FeatureCache
from sonicsynth.data.manifest import read_manifest
from sonicsynth.data.semantic_tokens import (
    SUMMARY_FILE,
    TOKENS_NAME,
    SemanticTokenFeature,
    load_semantic_tokens,
    require_token_source,
    token_settings,
)
from sonicsynth.data.speech_datamodule import SpeechDataModule
from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import CompatibilityError, FamilyMismatchError, load_training_checkpoint, save_package
from sonicsynth.models.sovits import load_sovits
from sonicsynth.pipelines.resynth import ResynthesisInputError, SoVITSResynthesizer, resynth
from sonicsynth.utils.hashing import sha256_file
from sonicsynth.utils.hydra_config import compose_config
from script_loading import load_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000  # the tiny model's
SAMPLES_PER_TOKEN = 2 * 64  # token_upsample x hop_length of sovits_generator/tiny


@pytest.fixture(scope="module")
def resynthesizer(tiny_sovits_checkpoint) -> SoVITSResynthesizer:
    return SoVITSResynthesizer.load(tiny_sovits_checkpoint)


@pytest.fixture(scope="module")
def corpus(tiny_corpus) -> dict:
    """Utterances by id, and their audio files."""
    utterances = {u.id: u for u in read_manifest(tiny_corpus)}
    return {"utterances": utterances, "audio": {k: u.audio_file(tiny_corpus.parent) for k, u in utterances.items()}}


@pytest.fixture(scope="module")
def clips(corpus, tmp_path_factory) -> dict:
    """An input at 22.05 kHz (resampled on the way in), its transcript, and a 3.8 s reference."""
    out = tmp_path_factory.mktemp("clips")
    source = corpus["utterances"]["festival-kal-003"]  # its transcript has a comma
    samples, rate = sf.read(corpus["audio"][source.id], dtype="float32")
    sf.write(out / "input.wav", resample(samples, rate, 22050), 22050)
    return {"input": out / "input.wav", "text": source.text, "reference": corpus["audio"]["mbrola-us1-000"],
            "dir": out}


def write(path: Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    sf.write(path, samples.astype(np.float32), rate)
    return path


def run_resynth(resynthesizer, clips, out_dir, seed=0, **overrides):
    args = {"input_path": clips["input"], "text": clips["text"], "language": "en",
            "reference_path": clips["reference"], **overrides}
    return resynth(resynthesizer, output_dir=out_dir, parameters={"caller": "test", "seed": seed}, seed=seed, **args)


# ------------------------------------------------------------------------------------------ resynthesis


def test_resynthesis_length_and_generation_log(resynthesizer, clips, tiny_sovits_checkpoint, tmp_path):
    record = json.loads(run_resynth(resynthesizer, clips, tmp_path / "out", seed=0).read_text())
    out = tmp_path / "out" / "input.wav"
    tokens = np.array(record["semantic_tokens"])
    # The input's frames at the model's rate, halved into tokens, each decoded to 2 x 64 samples.
    input_samples = len(load_audio(clips["input"], SAMPLE_RATE).samples)
    assert tokens.shape == (1, input_samples // 64 // 2)
    assert sf.info(out).frames == tokens.shape[1] * SAMPLES_PER_TOKEN == record["outputs"][0]["num_samples"]
    assert sf.info(out).samplerate == SAMPLE_RATE
    assert ((0 <= tokens) & (tokens < resynthesizer.generator.codebook_size)).all()

    assert record["task"] == "resynth" and record["seed"] == 0 and record["noise_scale"] == 0.5
    assert record["parameters"] == {"caller": "test", "seed": 0}
    checkpoint = load_training_checkpoint(tiny_sovits_checkpoint)
    assert record["checkpoint"]["sha256"] == sha256_file(tiny_sovits_checkpoint)
    assert record["checkpoint"]["compatibility_id"] == checkpoint["sonicsynth"]["compatibility_id"]
    inputs = {entry["role"]: entry for entry in record["inputs"]}
    for role, path in (("input", clips["input"]), ("reference", clips["reference"])):
        info = sf.info(path)
        assert inputs[role]["path"] == str(path) and inputs[role]["sha256"] == sha256_file(path)
        assert inputs[role]["duration_sec"] == info.frames / info.samplerate
        assert inputs[role]["num_samples"] == info.frames and inputs[role]["sample_rate"] == info.samplerate
    assert inputs["input"]["notes"] == ["resampled from 22050 Hz to 16000 Hz",
                                        "resampled from 22050 Hz to 16000 Hz for the content features"]
    assert inputs["reference"]["notes"] == []
    assert record["outputs"][0]["sha256"] == sha256_file(out)
    assert record["outputs"][0]["duration_sec"] == sf.info(out).frames / SAMPLE_RATE
    # The content extractor the model recorded in training, and the phone ids of the transcript.
    recorded = checkpoint["hyper_parameters"]["content_extractor"]
    assert record["content_extractor"]["settings"] == recorded["settings"]
    assert record["content_extractor"]["recorded_by_model"]
    assert record["text"]["text"] == clips["text"] and record["text"]["phone_ids"]
    assert record["text"]["acoustic_phones_only"] is False
    assert {"sonicsynth", "torch", "python"} <= record["versions"].keys()
    assert {"load_inputs", "content_features", "tokens", "decode", "write_outputs"} <= record["timings_sec"].keys()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["generation_log.json", "input.wav"]


def test_same_seed_same_audio_other_seed_other_audio(resynthesizer, clips, tmp_path):
    def output(seed: int, name: str) -> tuple[str, np.ndarray]:
        record = json.loads(run_resynth(resynthesizer, clips, tmp_path / name, seed=seed).read_text())
        return record["outputs"][0]["sha256"], sf.read(tmp_path / name / "input.wav")[0]

    first, again, other = output(0, "a"), output(0, "b"), output(1, "c")  # 0 is a seed like any other
    assert first[0] == again[0] and np.array_equal(first[1], again[1])
    assert first[0] != other[0] and not np.array_equal(first[1], other[1])


def test_a_clip_rebuilt_from_its_own_posterior_is_whole_and_noise_free(resynthesizer, clips):
    audio = resynthesizer.reconstruct(clips["input"])
    samples = load_audio(clips["input"], resynthesizer.sample_rate).samples
    assert audio.dtype == np.float32 and np.isfinite(audio).all() and audio.std() > 0
    assert len(audio) == resynthesizer.frames_of(len(samples)) * resynthesizer.hop_length
    torch.manual_seed(123)  # the posterior's mean: no draw from any RNG reaches the output
    assert np.array_equal(audio, resynthesizer.reconstruct(clips["input"]))


def test_the_python_api_steps(resynthesizer, corpus, tiny_corpus, sovits_content_cache, tmp_path):
    r = resynthesizer
    audio = corpus["audio"]["flite-rms-002"]
    samples = sf.read(audio, dtype="float32")[0]
    frames = r.frames_of(len(samples))
    # content -> tokens: the cached features training read give the same tokens as computing them.
    cached = FeatureCache(sovits_content_cache).load(r.content_cache_key, sha256_file(audio))["content"]
    computed = r.content_features(r.load_content_audio(audio).samples)
    np.testing.assert_allclose(computed, cached, atol=1e-5)
    tokens = r.tokens_from_content(cached, frames)
    assert tokens.dtype == torch.int64 and tokens.shape == (1, frames // 2)
    assert torch.equal(tokens, r.tokens_from_content(computed, frames))
    # reference -> spectrogram; tokens + phones + reference -> wav of tokens x 128 samples.
    spec = r.reference_spectrogram(samples)
    assert spec.shape == (1, 129, frames)
    ids, _ = r.phone_ids("Seven sharp pencils.", "en")
    wav = r.synthesize(tokens, ids, spec, seed=0)
    assert wav.shape == (tokens.shape[1] * SAMPLES_PER_TOKEN,) and wav.dtype == np.float32 and np.isfinite(wav).all()
    assert np.array_equal(wav, r.synthesize(tokens[0], torch.tensor(ids), spec, seed=0))

    # text -> phone ids: exactly the ids the training datamodule gives the same utterances.
    datamodule = SpeechDataModule(manifest=str(tiny_corpus), frontend={"_target_": "sonicsynth.text.TextFrontend"},
                                  output_dir=str(tmp_path), sample_rate=None, min_items_per_epoch=0)
    datamodule.setup()
    items = [*datamodule.train_set.items, *datamodule.val_set.items]
    assert len(items) >= 8
    for item in items:
        assert r.phone_ids(item.utterance.text, item.utterance.language)[0] == item.phone_ids, item.utterance.id


def test_a_package_resynthesises_as_its_checkpoint(resynthesizer, clips, tiny_sovits_checkpoint, tmp_path):
    package = package_from_checkpoint(tiny_sovits_checkpoint, tmp_path / "package")
    _, info = load_sovits(package)
    assert info["content_extractor"] == resynthesizer.info["content_extractor"]
    assert info["content_extractor"]["settings"]["kind"] == "ssl_hidden_states"
    assert info["text_settings"] == resynthesizer.info["text_settings"]
    from_package = json.loads(run_resynth(SoVITSResynthesizer.load(package), clips, tmp_path / "p").read_text())
    from_checkpoint = json.loads(run_resynth(resynthesizer, clips, tmp_path / "c").read_text())
    assert from_package["outputs"][0]["sha256"] == from_checkpoint["outputs"][0]["sha256"]
    assert from_package["checkpoint"]["kind"] == "package" and from_package["checkpoint"]["weights_sha256"]


def test_infer_cli_resynthesises(tiny_sovits_checkpoint, clips, tmp_path):
    command = [sys.executable, str(ROOT / "infer.py"), "task=resynth", f"ckpt={tiny_sovits_checkpoint}",
               f"input={clips['input']}", f'text="{clips["text"]}"', "lang=en", f"ref_audio={clips['reference']}",
               "seed=7", "noise_scale=0.4", f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out" / "generation_log.json").read_text())
    assert record["seed"] == 7 and record["noise_scale"] == 0.4 and record["parameters"]["text"] == clips["text"]
    assert record["parameters"]["ref_audio"] == str(clips["reference"])
    assert sf.info(tmp_path / "out" / "input.wav").frames == len(record["semantic_tokens"][0]) * SAMPLES_PER_TOKEN
    assert str(tmp_path / "out" / "generation_log.json") in done.stdout


# ------------------------------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def bad_clips(corpus, clips) -> dict[str, Path]:
    out, rng = clips["dir"], np.random.default_rng(0)
    speech = sf.read(corpus["audio"]["festival-kal-000"], dtype="float32")[0]
    more = np.concatenate([sf.read(corpus["audio"][name], dtype="float32")[0]
                           for name in ("flite-rms-000", "mbrola-us1-000")])
    return {
        "short": write(out / "short.wav", speech[: 2 * SAMPLE_RATE]),
        "long": write(out / "long.wav", np.concatenate([speech, more])[: 11 * SAMPLE_RATE]),
        "silent": write(out / "silent.wav", np.zeros(4 * SAMPLE_RATE)),
        # Hiss at -70 dBFS: not digital silence, but no speech either.
        "hiss": write(out / "hiss.wav", 10 ** (-70 / 20) * rng.standard_normal(4 * SAMPLE_RATE)),
    }


BAD_INPUTS = {
    # case: (overrides of the resynth call, words the error must contain besides the file's name)
    "reference too short": ({"reference_path": "short"}, ["reference clip is 2.000 s", "must be 3-10 s"]),
    "reference too long": ({"reference_path": "long"}, ["reference clip is 11.000 s", "must be 3-10 s"]),
    "silent reference": ({"reference_path": "silent"}, ["reference clip holds no speech: silent (peak below -80"]),
    "near-silent reference": ({"reference_path": "hiss"},
                              ["reference clip holds no speech: near-silent", "below -50 dBFS"]),
    "silent input": ({"input_path": "silent"}, ["input clip holds no speech: silent"]),
    "near-silent input": ({"input_path": "hiss"}, ["input clip holds no speech: near-silent"]),
    "empty text": ({"text": ""}, ["the transcript is empty"]),
    "blank text": ({"text": "  \n "}, ["the transcript is empty"]),
    "unknown language": ({"language": "xx"}, ["language 'xx' is not supported"]),
    "nothing speakable": ({"text": "?!"}, ["nothing speakable"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_is_refused_by_name_and_nothing_is_written(resynthesizer, clips, bad_clips, tmp_path, case):
    overrides, words = BAD_INPUTS[case]
    overrides = {k: bad_clips[v] if k.endswith("_path") else v for k, v in overrides.items()}
    with pytest.raises(ResynthesisInputError) as err:
        run_resynth(resynthesizer, clips, tmp_path / "out", **overrides)
    named = overrides.get("reference_path") or overrides.get("input_path") or clips["input"]
    assert str(err.value).startswith(f"{named}: "), str(err.value)
    for word in words:
        assert word in str(err.value), (case, str(err.value))
    assert not (tmp_path / "out").exists()


def test_reference_bounds_and_speech_level_are_parameters(resynthesizer, clips, bad_clips, tmp_path):
    lenient = SoVITSResynthesizer(resynthesizer.generator, resynthesizer.info, reference_min_sec=1.5,
                                  reference_max_sec=None, min_speech_level_db=None)
    for name in ("short", "long", "hiss"):
        assert run_resynth(lenient, clips, tmp_path / name, reference_path=bad_clips[name]).exists()
    with pytest.raises(ResynthesisInputError, match="silent"):  # digital silence is never a voice
        run_resynth(lenient, clips, tmp_path / "silent", reference_path=bad_clips["silent"])
    with pytest.raises(FileNotFoundError, match="nope.wav: no such reference audio file"):
        run_resynth(resynthesizer, clips, tmp_path / "missing", reference_path=tmp_path / "nope.wav")


def test_the_output_never_overwrites_an_input(resynthesizer, clips):
    before = sha256_file(clips["input"])
    with pytest.raises(ValueError, match="input.wav: the output would overwrite an input"):
        run_resynth(resynthesizer, clips, clips["input"].parent)
    assert sha256_file(clips["input"]) == before


def test_a_checkpoint_of_another_family_is_refused(tmp_path, clips):
    vocoder = save_package(tmp_path / "vocoder", {"w": torch.zeros(2)}, {"generator": {}}, "vocoder/hifigan")
    with pytest.raises(FamilyMismatchError, match=r"vocoder.*holds family 'vocoder/hifigan', expected 'sovits'"):
        SoVITSResynthesizer.load(vocoder)
    checkpoint = tmp_path / "aligner.ckpt"
    torch.save({"sonicsynth": {"family": "aligner/ctc", "compatibility_id": "x"}, "state_dict": {}}, checkpoint)
    with pytest.raises(ValueError, match=r"aligner.ckpt: not a SoVITS training checkpoint \(family 'aligner/ctc'\)"):
        SoVITSResynthesizer.load(checkpoint)

    # Through infer.py: the same refusals, nothing written.
    infer = load_script("infer.py")
    for ckpt, error in ((vocoder, FamilyMismatchError), (checkpoint, ValueError)):
        cfg = compose_config("infer", ["task=resynth", f"ckpt={ckpt}", f"input={clips['input']}", "text=hello",
                                       f"ref_audio={clips['reference']}", f"output_dir={tmp_path / 'out'}",
                                       f"paths.output_dir={tmp_path}"])
        with pytest.raises(error):
            infer.run_resynth(cfg)
    assert not (tmp_path / "out").exists()


def test_a_content_extractor_other_than_the_trained_one_is_refused(tiny_sovits_checkpoint, clips, tmp_path):
    other = SoVITSResynthesizer.load(tiny_sovits_checkpoint, content={"layer": 1})
    message = r"not the one the model was trained with \(layer: trained with None, given 1\)"
    with pytest.raises(ValueError, match=message):
        run_resynth(other, clips, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_model_without_a_recorded_extractor_needs_the_content_model(tiny_sovits_checkpoint, tiny_hubert_dir,
                                                                       clips, tmp_path):
    # As published GPT-SoVITS files and checkpoints from before the record: the caller names the HuBERT.
    checkpoint = load_training_checkpoint(tiny_sovits_checkpoint)
    checkpoint["hyper_parameters"]["content_extractor"] = None
    checkpoint["hyper_parameters"]["text_settings"] = None
    torch.save(checkpoint, tmp_path / "old.ckpt")
    with pytest.raises(ValueError, match=r"SSLContentFeature needs model_dir: set content.model_dir="):
        run_resynth(SoVITSResynthesizer.load(tmp_path / "old.ckpt"), clips, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    given = SoVITSResynthesizer.load(tmp_path / "old.ckpt", content={"model_dir": str(tiny_hubert_dir)})
    record = json.loads(run_resynth(given, clips, tmp_path / "given").read_text())
    assert record["content_extractor"]["recorded_by_model"] is False
    trained = SoVITSResynthesizer.load(tiny_sovits_checkpoint)
    trained = json.loads(run_resynth(trained, clips, tmp_path / "t").read_text())
    assert record["outputs"][0]["sha256"] == trained["outputs"][0]["sha256"]


# ------------------------------------------------------------------------------------------ semantic tokens


def manifest_with_problems(tiny_corpus: Path, out: Path) -> Path:
    """The tiny corpus's manifest (audio paths pointing back at it) plus one line whose audio is missing."""
    lines = []
    for line in tiny_corpus.read_text().splitlines():
        record = json.loads(line)
        record["audio_path"] = os.path.relpath(tiny_corpus.parent / record["audio_path"], out)
        record["alignment_path"] = None
        lines.append(record)
    lines.append({**lines[0], "id": "gone", "audio_path": "missing/gone.wav"})
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return out / "manifest.jsonl"


def extract(ckpt: Path, manifest: Path, cache: Path, *extra: str) -> dict:
    script = load_script("scripts/extract_semantic_tokens.py")
    cfg = compose_config("semantic_tokens", [f"ckpt={ckpt}", f"manifest={manifest}", f"cache_dir={cache}",
                                             "progress=false", f"paths.output_dir={cache}", *extra])
    return script.run(cfg)


def test_semantic_tokens_of_a_corpus(tiny_sovits_checkpoint, tiny_corpus, sovits_content_cache, resynthesizer,
                                     corpus, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(sovits_content_cache, cache)
    manifest = manifest_with_problems(tiny_corpus, tmp_path / "corpus")
    usable = set(corpus["utterances"])

    first = extract(tiny_sovits_checkpoint, manifest, cache)
    assert first["computed"] == len(usable) and first["reused"] == 0
    assert first["content"] == {"from_cache": len(usable)}  # the features training read
    assert first["problems"] == [{"id": "gone", "path": str(tmp_path / "corpus" / "missing" / "gone.wav"),
                                  "reason": "missing audio file"}]
    key = first["key"]
    assert key.startswith(f"{TOKENS_NAME}-") and json.loads((cache / key / SUMMARY_FILE).read_text()) == first

    tokens = load_semantic_tokens(manifest, cache, key)
    assert set(tokens) == usable
    for utterance_id, values in tokens.items():
        frames = len(load_audio(corpus["audio"][utterance_id], SAMPLE_RATE).samples) // 64
        assert values.dtype == np.int64 and values.shape == (1, frames // 2), utterance_id
        assert values.min() >= 0 and values.max() < resynthesizer.generator.codebook_size
    # The tokens of the resynthesis pipeline for the same audio.
    audio = corpus["audio"]["mbrola-us1-002"]
    content = resynthesizer.content_features(resynthesizer.load_content_audio(audio).samples)
    frames = resynthesizer.frames_of(sf.info(audio).frames)
    assert np.array_equal(tokens["mbrola-us1-002"], resynthesizer.tokens_from_content(content, frames).numpy())

    # The model's compatibility id is recorded beside the tokens.
    compatibility_id = load_training_checkpoint(tiny_sovits_checkpoint)["sonicsynth"]["compatibility_id"]
    settings = FeatureCache(cache).read_settings(key)
    assert settings["name"] == TOKENS_NAME and settings["settings"]["compatibility_id"] == compatibility_id
    assert settings["settings"] == token_settings(resynthesizer)
    assert first["model"]["compatibility_id"] == compatibility_id

    # A re-run skips every recording that has tokens.
    again = extract(tiny_sovits_checkpoint, manifest, cache)
    assert again["computed"] == 0 and again["reused"] == len(usable) and again["key"] == key
    assert [p["id"] for p in again["problems"]] == ["gone"]


def test_a_datamodule_batches_the_extracted_tokens_as_a_feature(tiny_sovits_checkpoint, tiny_corpus,
                                                                 sovits_content_cache, corpus, tmp_path):
    """What the GPT stage reads: `SemanticTokenFeature` in `features` finds the extracted tokens under
    their key, batches them with lengths, and records the model they came from; computed directly it
    gives the same tokens."""
    cache = tmp_path / "cache"
    shutil.copytree(sovits_content_cache, cache)
    key = extract(tiny_sovits_checkpoint, tiny_corpus, cache)["key"]
    tokens = load_semantic_tokens(tiny_corpus, cache, key)
    feature = {"_target_": "sonicsynth.data.semantic_tokens.SemanticTokenFeature", "model": str(tiny_sovits_checkpoint)}
    datamodule = SpeechDataModule(manifest=str(tiny_corpus), frontend={"_target_": "sonicsynth.text.TextFrontend"},
                                  output_dir=str(tmp_path), sample_rate=None, cache_dir=str(cache),
                                  features={"semantic_tokens": feature}, min_items_per_epoch=0, batch_size=3)
    datamodule.setup()
    assert not datamodule.problems
    record = datamodule.feature_records[TOKENS_NAME]
    assert record["settings"] == FeatureCache(cache).read_settings(key)["settings"]
    batch = next(iter(datamodule.val_dataloader()))
    for i, utterance_id in enumerate(batch["id"]):
        length = int(batch[f"{TOKENS_NAME}_lengths"][i])
        assert np.array_equal(batch[TOKENS_NAME][i, :, :length].numpy(), tokens[utterance_id]), utterance_id

    direct = SemanticTokenFeature(str(tiny_sovits_checkpoint))
    samples = load_audio(corpus["audio"]["mbrola-us1-002"], direct.sample_rate).samples
    assert np.array_equal(direct(samples)[TOKENS_NAME], tokens["mbrola-us1-002"])

    # Without extracted tokens, every utterance is reported, none dropped silently.
    bare = SpeechDataModule(manifest=str(tiny_corpus), frontend={"_target_": "sonicsynth.text.TextFrontend"},
                            output_dir=str(tmp_path / "bare"), sample_rate=None, cache_dir=str(tmp_path / "empty"),
                            features={"semantic_tokens": feature}, min_items_per_epoch=0)
    with pytest.raises(ValueError, match="no usable training utterances"):
        bare.setup()
    assert all(p["reason"] == f"features not prepared: {key}" for p in bare.problems)


def test_semantic_tokens_compute_missing_content_or_report_it(tiny_sovits_checkpoint, tiny_corpus, tmp_path):
    manifest = manifest_with_problems(tiny_corpus, tmp_path / "corpus")
    n = len(read_manifest(tiny_corpus))
    reported = extract(tiny_sovits_checkpoint, manifest, tmp_path / "empty", "compute_content=false")
    assert reported["computed"] == 0 and len(reported["problems"]) == n + 1
    content_problems = [p["reason"] for p in reported["problems"] if p["id"] != "gone"]
    assert len(content_problems) == n and all("content features not prepared (content-" in r for r in content_problems)

    computed = extract(tiny_sovits_checkpoint, manifest, tmp_path / "fresh")
    assert computed["computed"] == n and computed["content"] == {"computed": n}
    assert reported["key"] == computed["key"]


def test_tokens_refuse_a_sovits_of_another_compatibility_id(tiny_sovits_checkpoint, resynthesizer, tmp_path):
    settings = token_settings(resynthesizer)
    require_token_source(settings, resynthesizer, "the tokens")  # their own model
    checkpoint = load_training_checkpoint(tiny_sovits_checkpoint)
    checkpoint["sonicsynth"]["compatibility_id"] = "another-run"
    torch.save(checkpoint, tmp_path / "other.ckpt")
    other = SoVITSResynthesizer.load(tmp_path / "other.ckpt")
    with pytest.raises(CompatibilityError, match=rf"compatibility_id '{settings['compatibility_id']}'.*'another-run'"):
        require_token_source(settings, other, "the GPT's training tokens")


def test_the_token_script_cli(tiny_sovits_checkpoint, tiny_corpus, sovits_content_cache, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(sovits_content_cache, cache)
    command = [sys.executable, str(ROOT / "scripts" / "extract_semantic_tokens.py"), f"ckpt={tiny_sovits_checkpoint}",
               f"manifest={tiny_corpus}", f"cache_dir={cache}", "progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    stdout = "\n" + done.stdout  # log lines may come first; the report is the JSON object at the end
    report = json.loads(stdout[stdout.index("\n{\n"):])
    assert report["computed"] == len(read_manifest(tiny_corpus)) and report["problems"] == 0
    compatibility_id = load_training_checkpoint(tiny_sovits_checkpoint)["sonicsynth"]["compatibility_id"]
    assert report["compatibility_id"] == compatibility_id
    assert (cache / report["key"] / SUMMARY_FILE).exists()
