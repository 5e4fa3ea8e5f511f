"""Few-shot fine-tuning of SoVITS (experiment=sovits_1min) from an exported package of a tiny base:
the content side stays bit-identical (same semantic tokens, same compatibility id), the speaker
similarity of the held-out clips is logged, and unusable starts or sets are refused by name."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from omegaconf.errors import InterpolationResolutionError

from sonicsynth.data.feature_cache import AudioHashIndex, FeatureCache
from sonicsynth.export.from_checkpoint import best_checkpoint, package_from_checkpoint
from sonicsynth.export.package import (
    FamilyMismatchError,
    UnsupportedFormatVersion,
    load_package,
    load_training_checkpoint,
    save_package,
)
from sonicsynth.models.sovits import load_sovits
from sonicsynth.models.sovits.few_shot import check_few_shot_set
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

ROOT = Path(__file__).resolve().parents[1]


def one_speaker_manifest(corpus_manifest: Path, name: str, train_copies: int) -> tuple[Path, str]:
    """The tiny corpus's first synthetic speaker alone (its train and val clips), each training clip
    listed `train_copies` times (same audio, new ids) to make up the minimum of audio. Written beside
    the corpus's manifest, as manifest paths are relative to their directory."""
    lines = [json.loads(line) for line in corpus_manifest.read_text().splitlines() if line.strip()]
    speaker = lines[0]["speaker"]
    out = corpus_manifest.parent / name
    kept = []
    for line in lines:
        if line["speaker"] != speaker or line["split"] not in ("train", "val"):
            continue
        copies = train_copies if line["split"] == "train" else 1
        kept += [{**line, "id": f"{line['id']}-{i}"} for i in range(copies)]
    assert any(line["split"] == "val" for line in kept) and any(line["split"] == "train" for line in kept)
    out.write_text("".join(json.dumps(line) + "\n" for line in kept))
    return out, speaker


def train_seconds(manifest: Path) -> float:
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    return sum(line["duration"] for line in lines if line["split"] == "train")


def finetune_overrides(sovits_overrides, run_dir: Path, manifest: Path, init_from: Path, *extra: str) -> list[str]:
    return [
        *sovits_overrides(run_dir, 1),
        "experiment=sovits_1min",
        "model=sovits_tiny",
        "data=sovits_demo",
        "trainer=cpu",
        f"data.manifest={manifest}",
        "data.min_items_per_epoch=4",
        "trainer.max_epochs=1",
        f"init_from={init_from}",
        "logger=csv",
        "callbacks.audio_metrics.max_items=2",
        *extra,
    ]


@pytest.fixture(scope="module")
def base_package(tiny_sovits_checkpoint, tmp_path_factory) -> Path:
    return package_from_checkpoint(tiny_sovits_checkpoint, tmp_path_factory.mktemp("base") / "package")


@pytest.fixture(scope="module")
def speaker_manifest(tiny_corpus) -> Path:
    single, _ = one_speaker_manifest(tiny_corpus, "one_speaker.jsonl", train_copies=1)
    copies = math.ceil(25.0 / train_seconds(single))  # over the 20 s minimum
    manifest, _ = one_speaker_manifest(tiny_corpus, "one_speaker.jsonl", train_copies=copies)
    return manifest


@pytest.fixture(scope="module")
def finetuned(sovits_overrides, base_package, speaker_manifest, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("sovits_1min")
    train(compose_config("train", finetune_overrides(sovits_overrides, run_dir, speaker_manifest, base_package)))
    return run_dir


def test_the_recipe_composes_with_a_frozen_quantizer_and_speaker_similarity(sovits_overrides, tmp_path):
    cfg = compose_config("train", finetune_overrides(sovits_overrides, tmp_path, tmp_path / "m.jsonl", tmp_path / "p"))
    assert cfg.model.generator.freeze_quantizer and cfg.model.text_lr_scale == 0.4 and cfg.model.few_shot
    checkpoint = cfg.callbacks.model_checkpoint
    assert checkpoint.monitor == "val/speaker_similarity" and checkpoint.mode == "max"
    assert list(cfg.callbacks.audio_metrics.metrics) == ["speaker_similarity"]
    assert cfg.callbacks.audio_metrics.every_n_epochs == 1
    recipe = compose_config("train", ["experiment=sovits_1min", "init_from=x", "data.manifest=m", "paths.output_dir=o"])
    assert recipe.data.min_items_per_epoch == 100 and recipe.trainer.max_epochs == 8
    unset = compose_config("train", ["experiment=sovits_1min", "paths.output_dir=o"])
    for key in ("init_from", "data.manifest"):
        with pytest.raises(InterpolationResolutionError, match=rf"{key} is required by this experiment"):
            OmegaConf.select(unset, key)


def test_finetuning_from_a_package_keeps_the_content_side_and_its_tokens(
    finetuned, base_package, speaker_manifest, sovits_content_cache
):
    last = finetuned / "checkpoints" / "last.ckpt"
    base = load_package(base_package, family="sovits")
    after = {k.removeprefix("generator."): v for k, v in load_training_checkpoint(last)["state_dict"].items()
             if k.startswith("generator.")}
    frozen = [k for k in base.state_dict if k.startswith(("quantizer.", "ssl_proj."))]
    assert any("_codebook.embed" in k for k in frozen) and "ssl_proj.weight" in frozen
    assert all(torch.equal(base.state_dict[k], after[k]) for k in frozen)
    assert not torch.equal(base.state_dict["enc_q.pre.weight"], after["enc_q.pre.weight"])  # the voice trains

    # The same semantic tokens from the base and the fine-tuned generator, on the speaker's clips.
    base_generator, _ = load_sovits(base_package)
    tuned_generator, info = load_sovits(last)
    cache, hashes = FeatureCache(sovits_content_cache), AudioHashIndex(sovits_content_cache / "audio_hashes.json")
    key = next(p.name for p in sovits_content_cache.iterdir() if p.is_dir() and p.name.startswith("content"))
    lines = [json.loads(line) for line in speaker_manifest.read_text().splitlines()][:3]
    for line in lines:
        arrays = cache.load(key, hashes.sha256(speaker_manifest.parent / line["audio_path"]))
        content = torch.from_numpy(next(iter(arrays.values()))).float()
        content = content.T.unsqueeze(0) if content.shape[0] != 32 else content.unsqueeze(0)
        assert torch.equal(base_generator.extract_tokens(content), tuned_generator.extract_tokens(content))

    assert info["source"]["compatibility_id"] == base.compatibility_id
    assert load_training_checkpoint(last)["sonicsynth"]["compatibility_id"] == base.compatibility_id

    with open(next((finetuned / "csv").rglob("metrics.csv")), newline="") as f:
        rows = list(csv.DictReader(f))
    scored = [r for r in rows if r.get("val/speaker_similarity")]
    mel_l1 = [float(r["val/mel_l1"]) for r in rows if r.get("val/mel_l1")]
    assert len(scored) == 2  # before the first step and after the epoch
    for row in scored:
        # The mean over the scored clips; NaN only when every clip failed (the tiny model's
        # resyntheses may hold no speech for the voice encoder), counted in the _failed key.
        value, failed = float(row["val/speaker_similarity"]), float(row["val/speaker_similarity_failed"])
        assert -1.0 <= value <= 1.0 or (math.isnan(value) and failed >= 1)
    assert mel_l1 and all(math.isfinite(v) for v in mel_l1)
    best = [p for p in (finetuned / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"]
    assert best  # chosen by val/speaker_similarity


def test_the_few_shot_report_scores_base_and_best_fine_tuned_model_on_held_out_clips(
    finetuned, base_package, speaker_manifest, tmp_path
):
    checkpoints = finetuned / "checkpoints"
    best = best_checkpoint(checkpoints / "last.ckpt")
    assert best.is_file() and best.parent == checkpoints
    package = package_from_checkpoint(best, tmp_path / "fine_tuned")
    out = tmp_path / "report"
    command = [sys.executable, str(ROOT / "eval" / "few_shot_report.py"), "--model", f"base={base_package}",
               "--model", f"fine_tuned={package}", "--manifest", str(speaker_manifest), "--split", "val",
               "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)

    report = json.loads((out / "report.json").read_text())
    held_out = [json.loads(line)["id"] for line in speaker_manifest.read_text().splitlines()
                if json.loads(line)["split"] == "val"]
    assert report["utterances"] == len(held_out) and report["split"] == "val"
    for model in ("recording", "base", "fine_tuned"):
        rows = [r for r in report["per_utterance"] if r["model"] == model]
        assert sorted(r["id"] for r in rows) == sorted(held_out)
        assert all(math.isfinite(r["mel_l1"]) for r in rows)
        if model != "recording":
            assert all((out / model / f"{i}.wav").is_file() for i in held_out)
    recordings = [r for r in report["per_utterance"] if r["model"] == "recording"]
    assert all(r["speaker_similarity"] == pytest.approx(1.0, abs=1e-5) and r["mel_l1"] == 0 for r in recordings)
    means = {m: report["summary"][m].get("speaker_similarity", {}).get("mean") for m in ("base", "fine_tuned")}
    if None not in means.values():
        assert report["speaker_similarity_gain"] == pytest.approx(means["fine_tuned"] - means["base"])
    assert "| fine_tuned |" in (out / "report.md").read_text()

    refused = subprocess.run([*command[:-2], "--out", str(tmp_path / "r2"), "--split", "test"],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "needs train clips and 'test' clips (has" in refused.stderr


def test_the_intelligibility_report_scores_recordings_and_resynthesis_of_english_clips(
    base_package, tiny_corpus, tmp_path
):
    out = tmp_path / "intelligibility"
    command = [sys.executable, str(ROOT / "eval" / "resynthesis_intelligibility.py"), "--model",
               f"base={base_package}", "--manifest", str(tiny_corpus), "--split", "train", "--limit", "3",
               "--posterior", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)

    report = json.loads((out / "report.json").read_text())
    english = {json.loads(line)["id"]: json.loads(line) for line in tiny_corpus.read_text().splitlines()}
    chosen = report["utterances"]
    assert len(chosen) == 3 and all(english[i]["language"] == "en" and english[i]["split"] == "train" for i in chosen)
    assert len({english[i]["speaker"] for i in chosen}) == min(3, len(report["speakers"]))  # one per voice first
    for model in ("recording", "base", "base/posterior"):
        rows = [r for r in report["per_utterance"] if r["model"] == model]
        assert [r["id"] for r in rows] == chosen
        assert all(0 <= r["cer"] and 0 <= r["wer"] and isinstance(r["hypothesis"], str) for r in rows)
    assert all((out / "base" / f"{i}.wav").is_file() and (out / "base" / "posterior" / f"{i}.wav").is_file()
               for i in chosen)
    recordings = [r for r in report["per_utterance"] if r["model"] == "recording"]
    assert any(r["hypothesis"] for r in recordings)  # pocketsphinx hears the engine voices
    assert "| base |" in (out / "report.md").read_text() and "| base/posterior |" in (out / "report.md").read_text()

    refused = subprocess.run([*command[:-2], "--out", str(tmp_path / "r2"), "--split", "nonexistent"],
                             capture_output=True, text=True)
    assert refused.returncode == 1 and "no English 'nonexistent' utterance of 3-10 s" in refused.stderr


def test_a_package_of_another_family_is_refused_naming_both(sovits_overrides, speaker_manifest, tmp_path):
    other = save_package(tmp_path / "vocoder", {"weight": torch.zeros(2, 2)}, {"generator": {}}, "vocoder/hifigan")
    with pytest.raises(FamilyMismatchError, match=r"'vocoder/hifigan'.*expected 'sovits'"):
        train(compose_config("train", finetune_overrides(sovits_overrides, tmp_path / "run", speaker_manifest, other)))


def test_a_finetuning_set_under_20_seconds_is_refused(sovits_overrides, base_package, tiny_corpus, tmp_path):
    short, _ = one_speaker_manifest(tiny_corpus, "one_speaker_short.jsonl", train_copies=1)
    assert train_seconds(short) < 20
    with pytest.raises(ValueError, match=rf"{short}.*s of training audio.*under the 20 s"):
        train(compose_config("train", finetune_overrides(sovits_overrides, tmp_path / "run", short, base_package)))


def test_the_few_shot_checks(caplog):
    with pytest.raises(ValueError, match=r"m\.jsonl.*no validation utterances"):
        check_few_shot_set("m.jsonl", [30.0], 0)
    with pytest.raises(ValueError, match=r"m\.jsonl.*12\.0 s of training audio"):
        check_few_shot_set("m.jsonl", [5.0, 7.0], 2)
    assert check_few_shot_set("m.jsonl", [30.0, 30.0], 1) == 60.0 and "no longer few-shot" not in caplog.text
    check_few_shot_set("m.jsonl", [400.0, 300.0], 1)
    assert "no longer few-shot" in caplog.text


def test_a_package_of_an_unsupported_format_version_is_refused(
    sovits_overrides, speaker_manifest, base_package, tmp_path
):
    newer = tmp_path / "newer"
    shutil.copytree(base_package, newer)
    manifest = json.loads((newer / "manifest.json").read_text())
    (newer / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(UnsupportedFormatVersion, match=r"format_version 99 is not supported.*supported: 1"):
        train(compose_config("train", finetune_overrides(sovits_overrides, tmp_path / "run", speaker_manifest, newer)))
