"""Training the semantic GPT through the real entry point and configs (experiment=gpt_base_demo with
the tiny network, on the tiny corpus's semantic tokens from the tiny SoVITS, CPU): finite losses, a
learning rate that warms up and decays per optimizer step under gradient accumulation, exact resume
and seeding, the SoVITS model's compatibility id, export and fine-tuning from the package, and clear
refusals of tokens from another SoVITS model and of ids outside the network's tables."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.data.semantic_tokens import TOKENS_NAME
from sonicsynth.export.package import CompatibilityError, load_package, load_training_checkpoint, save_package
from sonicsynth.models.gpt import GPTLitModule
from sonicsynth.nn.schedules import warmup_cosine
from sonicsynth.training import load_initial_weights, train
from sonicsynth.utils.hydra_config import compose_config

ROOT = Path(__file__).resolve().parents[1]
# gpt_overrides: 4 batches an epoch, 2 accumulated per optimizer step.
STEPS_PER_EPOCH = 2


def compose_train(overrides: list[str]) -> DictConfig:
    return compose_config("train", overrides)


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = load_training_checkpoint(checkpoint)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys() and first
    different = [k for k in first if not torch.equal(first[k], second[k])]
    assert not different, different[:5]


def csv_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(next((run_dir / "csv").rglob("metrics.csv")), newline="") as f:
        return list(csv.DictReader(f))


def compatibility_id(checkpoint: Path) -> str:
    return load_training_checkpoint(checkpoint)["sonicsynth"]["compatibility_id"]


def tiny_module(gpt_overrides, tmp_path: Path, *extra: str) -> GPTLitModule:
    cfg = compose_train(gpt_overrides(tmp_path, 1, *extra))
    torch.manual_seed(0)
    return instantiate(cfg.model)


@pytest.fixture(scope="module")
def two_epoch_run(gpt_overrides, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("gpt_full")
    train(compose_train(gpt_overrides(run_dir, 2)))
    return run_dir


# ------------------------------------------------------------------------------------------ training


def test_a_tiny_run_logs_finite_losses_and_the_schedule_moves_every_optimizer_step(two_epoch_run):
    last = two_epoch_run / "checkpoints" / "last.ckpt"
    checkpoint = load_training_checkpoint(last)  # weights_only=True
    assert checkpoint["sonicsynth"]["family"] == "gpt" and checkpoint["epoch"] == 1
    # 2 epochs x 4 batches, 2 accumulated per optimizer step.
    assert checkpoint["global_step"] == 2 * STEPS_PER_EPOCH
    assert checkpoint["lr_schedulers"][0]["last_epoch"] == 2 * STEPS_PER_EPOCH

    rows = csv_metrics(two_epoch_run)
    names = ("train/loss", "train/ce", "train/ce_per_token", "train/top3_acc", "val/ce_per_token", "val/top3_acc")
    values = {name: [float(r[name]) for r in rows if r.get(name)] for name in names}
    assert all(values[name] and all(math.isfinite(v) for v in values[name]) for name in names), values
    # Logged at every optimizer step (Lightning writes a step's metrics once, from its last batch).
    assert len(values["train/loss"]) == 2 * STEPS_PER_EPOCH
    # Summed over the tokens (as published) vs. the mean per token: ln(1025) is about 6.9 for a guess.
    assert all(ce > per_token * 10 for ce, per_token in zip(values["train/ce"], values["train/ce_per_token"]))
    assert all(0 < v < 10 for v in values["train/ce_per_token"])
    assert len(values["val/ce_per_token"]) == 3  # before the first step and after each epoch
    assert all(0 <= v <= 1 for v in values["train/top3_acc"] + values["val/top3_acc"])
    assert not any(r.get("train/dpo") for r in rows)

    # The learning rate of each optimizer step (LearningRateMonitor, interval step): the warm-up and
    # cosine of the whole run (4 optimizer steps, 2 of warm-up, to 10% of the peak).
    lr_key = next(k for k in rows[0] if k.startswith("lr-") and k.endswith("decay") and "no_decay" not in k)
    by_step = {int(r["step"]): float(r[lr_key]) for r in rows if r.get(lr_key)}
    assert sorted(by_step) == list(range(2 * STEPS_PER_EPOCH))
    factor = warmup_cosine(2 * STEPS_PER_EPOCH, 2, final=0.1)
    expected = [1e-4 * factor(step) for step in range(2 * STEPS_PER_EPOCH)]
    assert [by_step[s] for s in sorted(by_step)] == pytest.approx(expected)
    lrs = [by_step[s] for s in sorted(by_step)]
    assert lrs[0] < lrs[1] < lrs[2] and lrs[2] > lrs[3]  # warm-up, then decay
    # The optimizer's last rate is the schedule's after the last step.
    groups = {g["name"]: g for g in checkpoint["optimizer_states"][0]["param_groups"]}
    assert groups["decay"]["lr"] == pytest.approx(1e-4 * 0.1) and groups["no_decay"]["weight_decay"] == 0.0


def test_resuming_from_the_last_checkpoint_is_exact(gpt_overrides, two_epoch_run, tmp_path):
    # The same 2-epoch run, stopped after its first epoch (as an interruption would), then resumed.
    stop = ["+callbacks.stop._target_=lightning.pytorch.callbacks.EarlyStopping",
            "+callbacks.stop.monitor=val/ce_per_token", "+callbacks.stop.stopping_threshold=1.0e9"]
    interrupted = tmp_path / "interrupted"
    train(compose_train(gpt_overrides(interrupted, 2, *stop)))
    last = interrupted / "checkpoints" / "last.ckpt"
    assert load_training_checkpoint(last)["epoch"] == 0
    resumed = tmp_path / "resumed"
    train(compose_train([*gpt_overrides(resumed, 2), f"ckpt_path={last}"]))

    straight = two_epoch_run / "checkpoints" / "last.ckpt"
    assert_same_weights(straight, resumed / "checkpoints" / "last.ckpt")
    assert load_training_checkpoint(resumed / "checkpoints" / "last.ckpt")["global_step"] == 2 * STEPS_PER_EPOCH
    assert compatibility_id(last) == compatibility_id(resumed / "checkpoints" / "last.ckpt")


def test_the_same_seed_gives_the_same_run_and_another_seed_another(gpt_overrides, two_epoch_run, tmp_path):
    again = tmp_path / "again"
    train(compose_train(gpt_overrides(again, 2, "seed=0")))
    assert_same_weights(two_epoch_run / "checkpoints" / "last.ckpt", again / "checkpoints" / "last.ckpt")
    other = tmp_path / "other"
    train(compose_train(gpt_overrides(other, 2, "seed=1")))
    first, second = weights(two_epoch_run / "checkpoints" / "last.ckpt"), weights(other / "checkpoints" / "last.ckpt")
    assert not torch.equal(first["net.ar_predict_layer.weight"], second["net.ar_predict_layer.weight"])


def test_the_gpt_takes_the_sovits_models_compatibility_id_and_records_its_inputs(
    two_epoch_run, tiny_sovits_checkpoint, semantic_token_cache
):
    last = two_epoch_run / "checkpoints" / "last.ckpt"
    assert compatibility_id(last) == compatibility_id(tiny_sovits_checkpoint)
    hparams = load_training_checkpoint(last)["hyper_parameters"]
    source = hparams["token_source"]
    assert source["name"] == TOKENS_NAME and source["config"]["model"] == str(tiny_sovits_checkpoint)
    key = next(p.name for p in semantic_token_cache.iterdir() if p.name.startswith(f"{TOKENS_NAME}-"))
    settings = json.loads((semantic_token_cache / key / "settings.json").read_text())
    assert source["settings"] == settings["settings"]
    assert source["settings"]["compatibility_id"] == compatibility_id(tiny_sovits_checkpoint)
    text = hparams["text_settings"]
    assert text["frontend"]["_target_"] == "sonicsynth.text.TextFrontend" and text["acoustic_phones_only"] is False


def test_the_dpo_term_trains_and_is_logged_apart(gpt_overrides, tmp_path):
    metrics = train(compose_train(gpt_overrides(tmp_path, 1, "model.dpo=true", "validate_before_training=false")))
    rows = csv_metrics(tmp_path)
    dpo = [float(r["train/dpo"]) for r in rows if r.get("train/dpo")]
    assert len(dpo) == STEPS_PER_EPOCH and all(math.isfinite(v) and v > 0 for v in dpo)
    loss = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    ce = [float(r["train/ce"]) for r in rows if r.get("train/ce")]
    assert loss == pytest.approx([c + d for c, d in zip(ce, dpo)], rel=1e-5)
    assert math.isfinite(metrics["val/ce_per_token"])


# ------------------------------------------------------------------------------------------ export


def test_export_package_then_init_from_it_keeps_the_id(gpt_overrides, tiny_gpt_checkpoint, tiny_sovits_checkpoint,
                                                      tmp_path):
    package = tmp_path / "package"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "sonicsynth.export", "package", str(tiny_gpt_checkpoint), str(package)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    loaded = load_package(package, family="gpt")
    assert json.loads(done.stdout)["family"] == "gpt"
    assert loaded.compatibility_id == compatibility_id(tiny_sovits_checkpoint)
    assert list(loaded.config) == ["net", "token_source", "text_settings", "bert"]
    assert loaded.config["net"]["_target_"] == "sonicsynth.models.gpt.SemanticGPT"
    assert loaded.config["token_source"]["settings"]["compatibility_id"] == loaded.compatibility_id
    trained = {k.removeprefix("net."): v for k, v in weights(tiny_gpt_checkpoint).items()}
    assert loaded.state_dict.keys() == trained.keys()
    assert all(torch.equal(v, trained[k]) for k, v in loaded.state_dict.items())

    # init_from=<package>: the package's weights, the id kept through a fine-tuning run.
    module = tiny_module(gpt_overrides, tmp_path / "unused")
    load_initial_weights(module, package)
    assert all(torch.equal(v, loaded.state_dict[k]) for k, v in module.net.state_dict().items())
    run = tmp_path / "finetune"
    train(compose_train(gpt_overrides(run, 1, f"init_from={package}", "validate_before_training=false")))
    assert compatibility_id(run / "checkpoints" / "last.ckpt") == loaded.compatibility_id


@pytest.mark.parametrize("field", ["compatibility_id", "token_weights_sha256"])
def test_a_gpt_trained_on_another_sovits_models_tokens_is_refused(gpt_overrides, tiny_gpt_checkpoint, field,
                                                                  tmp_path):
    checkpoint = load_training_checkpoint(tiny_gpt_checkpoint)
    weights_, config = GPTLitModule.package_contents(checkpoint)
    settings = config["token_source"]["settings"]
    mine = settings[field]
    config["token_source"]["settings"] = {**settings, field: "f" * 32}
    package = save_package(tmp_path / "other", weights_, config, "gpt", settings["compatibility_id"])
    run = tmp_path / "run"
    with pytest.raises(CompatibilityError, match=rf"init_from={package}.*{field} 'f{{32}}'.*{field} '{mine}'"):
        train(compose_train(gpt_overrides(run, 1, f"init_from={package}")))
    assert not (run / "checkpoints").exists()

    # Resuming a checkpoint trained on other tokens is refused the same way.
    module = tiny_module(gpt_overrides, tmp_path / "unused")
    module.hparams.token_source = checkpoint["hyper_parameters"]["token_source"]
    with pytest.raises(CompatibilityError, match=rf"resumed from.*{field} 'f{{32}}'"):
        module.on_load_checkpoint({"hyper_parameters": {"token_source": config["token_source"]}})


def test_a_gpt_trained_on_another_symbol_table_is_refused(gpt_overrides, tiny_gpt_checkpoint, tmp_path):
    weights_, config = GPTLitModule.package_contents(load_training_checkpoint(tiny_gpt_checkpoint))
    mine = config["text_settings"]["symbol_table_version"]
    config["text_settings"] = {**config["text_settings"], "symbol_table_version": "0"}
    package = save_package(tmp_path / "other", weights_, config, "gpt", config["token_source"]["settings"]["compatibility_id"])
    with pytest.raises(CompatibilityError, match=rf"init_from={package}.*symbol table version '0'.*version '{mine}'"):
        train(compose_train(gpt_overrides(tmp_path / "run", 1, f"init_from={package}")))


# ------------------------------------------------------------------------------------------ inputs


def test_tokens_or_phones_outside_the_networks_tables_are_refused(gpt_overrides, tmp_path):
    with pytest.raises(ValueError, match=r"64-code codebook, but the GPT's token table holds 32 codes"):
        train(compose_train(gpt_overrides(tmp_path / "codes", 1, "model.net.codebook_size=32")))
    with pytest.raises(ValueError, match=r"utterance '.*' has phone id \d+ .*outside the GPT's phone table of 10"):
        train(compose_train(gpt_overrides(tmp_path / "phones", 1, "++model.net.phone_vocab_size=10")))
    assert not (tmp_path / "codes" / "checkpoints").exists() and not (tmp_path / "phones" / "checkpoints").exists()

    # Per batch, too: a batch that does not fit names the utterance.
    module = tiny_module(gpt_overrides, tmp_path / "unused")
    batch = {"id": ["a", "b"], "phones": torch.tensor([[3, 4, 5], [6, 7, 0]]), "phones_lengths": torch.tensor([3, 2]),
             TOKENS_NAME: torch.tensor([[[1, 2, 3]], [[4, 2000, 0]]]), f"{TOKENS_NAME}_lengths": torch.tensor([3, 2])}
    with pytest.raises(ValueError, match=r"semantic token id 2000 of utterance 'b' is outside the GPT's codebook"):
        module.prepare_inputs(batch)
    batch[TOKENS_NAME][1, 0, 1] = 5
    batch["phones"][0, 1] = 9999
    with pytest.raises(ValueError, match=r"phone id 9999 of utterance 'a' is outside the GPT's phone table"):
        module.prepare_inputs(batch)


def test_validation_returns_what_a_scoring_callback_needs(gpt_overrides, tmp_path):
    cfg = compose_train(gpt_overrides(tmp_path, 1))
    datamodule = instantiate(cfg.data)
    datamodule.setup("validate")
    batch = next(iter(datamodule.val_dataloader()))
    module = tiny_module(gpt_overrides, tmp_path)
    module.eval()
    with torch.no_grad():
        out = module.validation_step(batch, 0)
    assert out["ids"] == batch["id"] and torch.isfinite(out["loss"])
    lengths = batch[f"{TOKENS_NAME}_lengths"]
    assert torch.equal(out["token_lengths"], lengths) and torch.equal(out["phone_lengths"], batch["phones_lengths"])
    assert torch.equal(out["tokens"], batch[TOKENS_NAME][:, 0]) and torch.equal(out["phones"], batch["phones"])
    # Twice the same (eval mode: no dropout), so scores of a checkpoint are reproducible.
    with torch.no_grad():
        assert torch.equal(module.validation_step(batch, 0)["loss"], out["loss"])


def test_validation_sentences_are_spoken_and_transcribed_to_select_the_checkpoint(gpt_overrides, tmp_path):
    """experiment=gpt_base's selection: val/cer from the SoVITS model the tokens came from."""
    train(compose_train(gpt_overrides(
        tmp_path, 1, "validate_before_training=false",
        "+callbacks.intelligibility._target_=sonicsynth.models.gpt.intelligibility.SynthesisIntelligibilityCallback",
        "+callbacks.intelligibility.every_n_epochs=1", "+callbacks.intelligibility.max_items=2",
        "+callbacks.intelligibility.max_piece_sec=1.0", "callbacks.model_checkpoint.monitor=val/cer",
    )))
    rows = [r for r in csv_metrics(tmp_path) if r.get("val/cer")]
    assert len(rows) == 1
    cer, wer, eos_rate = (float(rows[0][k]) for k in ("val/cer", "val/wer", "val/eos_rate"))
    # One epoch of a tiny model speaks no words: every character is an error, deletion or insertion.
    assert cer >= 0.5 and wer >= 0.5 and 0.0 <= eos_rate <= 1.0
    best = [p for p in (tmp_path / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"]
    assert best and "val/cer" in str(load_training_checkpoint(best[0])["callbacks"])
