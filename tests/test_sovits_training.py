"""Training SoVITS through the real entry point and configs (tiny model, tiny corpus, tiny random
HuBERT content features, CPU): finite losses and media in the loggers, exact resume, a frozen
quantizer that stays frozen with the phone side at 0.4x the rate, export and reload, and clear
refusals of inputs that do not fit the model."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import load_package, load_training_checkpoint
from sonicsynth.models.sovits import SoVITSLitModule, load_sovits
from sonicsynth.models.sovits.sequence import resample_frames
from sonicsynth.models.vocoder import PeriodScaleDiscriminator
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

def compose_train(overrides: list[str]) -> DictConfig:
    return compose_config("train", overrides)


def weights(checkpoint: Path, prefix: str = "generator.") -> dict[str, torch.Tensor]:
    state = load_training_checkpoint(checkpoint)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def csv_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(next((run_dir / "csv").rglob("metrics.csv")), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def two_epoch_run(sovits_overrides, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("sovits_full")
    audio_metrics = [
        "+callbacks.audio_metrics._target_=sonicsynth.metrics.callbacks.AudioMetricsCallback",
        "+callbacks.audio_metrics.metrics=[stoi,mcd_db]",
        "+callbacks.audio_metrics.every_n_epochs=1",
    ]
    train(compose_train(sovits_overrides(run_dir, 2, "logger=many_loggers", *audio_metrics)))
    return run_dir


def tiny_module(**overrides) -> SoVITSLitModule:
    """The tiny model built from its config (as train.py builds it, minus Hydra's error wrapping)."""
    model_overrides = [f"model.{key}={value}" for key, value in overrides.items()]
    cfg = compose_train(["model=sovits_tiny", "paths.output_dir=unused", *model_overrides])
    kwargs = {k: v for k, v in OmegaConf.to_container(cfg.model, resolve=True).items() if not k.startswith("_")}
    torch.manual_seed(0)
    return SoVITSLitModule(**kwargs)


# ------------------------------------------------------------------------------------------ training


def test_tiny_run_logs_finite_losses_audio_and_mel_plots(two_epoch_run):
    checkpoint = load_training_checkpoint(two_epoch_run / "checkpoints" / "last.ckpt")  # weights_only=True
    assert checkpoint["sonicsynth"]["family"] == "sovits"
    # 2 epochs x 2 batches, and Lightning counts both optimizer steps of a GAN batch.
    assert checkpoint["global_step"] == 8 and checkpoint["epoch"] == 1

    rows = csv_metrics(two_epoch_run)
    names = ("train/loss_g", "train/loss_d", "train/mel_l1", "train/kl", "train/feature_matching",
             "train/adversarial", "train/commitment", "val/mel_l1", "val/stoi", "val/mcd_db")
    values = {name: [float(r[name]) for r in rows if r.get(name)] for name in names}
    assert all(values[name] and all(math.isfinite(v) for v in values[name]) for name in names), values
    assert len(values["train/loss_g"]) == 4
    assert values["train/commitment"][0] > 0  # the quantizer trains in this config (k-means, EMA)
    assert len(values["val/mel_l1"]) == 3  # before the first step and after each epoch

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(next((two_epoch_run / "tensorboard").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    assert {"val/0/generated", "val/0/real"} <= set(events.Tags()["audio"])
    assert "val/0/mel" in events.Tags()["images"]


def test_resuming_from_the_last_checkpoint_is_exact(sovits_overrides, two_epoch_run, tmp_path):
    first_half = tmp_path / "half"
    train(compose_train(sovits_overrides(first_half, 1)))
    last = first_half / "checkpoints" / "last.ckpt"
    resumed = tmp_path / "resumed"
    train(compose_train([*sovits_overrides(resumed, 2), f"ckpt_path={last}"]))

    for prefix in ("generator.", "discriminator."):
        straight = weights(two_epoch_run / "checkpoints" / "last.ckpt", prefix)
        continued = weights(resumed / "checkpoints" / "last.ckpt", prefix)
        assert straight.keys() == continued.keys() and straight
        different = [k for k in straight if not torch.equal(straight[k], continued[k])]
        assert not different, different[:5]
    checkpoints = (last, resumed / "checkpoints" / "last.ckpt")
    assert len({load_training_checkpoint(p)["sonicsynth"]["compatibility_id"] for p in checkpoints}) == 1


def test_a_frozen_quantizer_stays_frozen_and_the_phone_side_learns_slower(sovits_overrides, two_epoch_run, tmp_path):
    # Fine-tuning: start from the pretrained weights, codebook and content projection frozen.
    start = two_epoch_run / "checkpoints" / "last.ckpt"
    run = tmp_path / "finetune"
    train(compose_train(sovits_overrides(run, 1, f"init_from={start}", "model.generator.freeze_quantizer=true")))
    before, after = weights(start), weights(run / "checkpoints" / "last.ckpt")
    frozen = [k for k in before if k.startswith(("generator.quantizer.", "generator.ssl_proj."))]
    assert any("_codebook.embed" in k for k in frozen) and "generator.ssl_proj.weight" in frozen
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["generator.enc_q.pre.weight"], after["generator.enc_q.pre.weight"])  # the rest trains
    # Same tokens as the start, so the same compatibility id (a GPT trained on the start's tokens fits).
    finetuned = run / "checkpoints" / "last.ckpt"
    assert len({load_training_checkpoint(p)["sonicsynth"]["compatibility_id"] for p in (start, finetuned)}) == 1

    module = tiny_module(**{"generator.freeze_quantizer": "true"})
    module.train()
    assert not module.generator.ssl_proj.training and not module.generator.quantizer.training
    assert module.generator.enc_p.training
    (opt_g, _), _ = module.configure_optimizers()
    in_optimizer = {id(p) for group in opt_g.param_groups for p in group["params"]}
    frozen_params = [*module.generator.ssl_proj.parameters(), *module.generator.quantizer.parameters()]
    assert frozen_params and not any(id(p) in in_optimizer for p in frozen_params)
    groups = {group["name"]: group for group in opt_g.param_groups}
    assert groups["generator_text"]["lr"] == pytest.approx(0.4 * groups["generator"]["lr"])
    enc_p = module.generator.enc_p
    text = {id(p) for m in (enc_p.text_embedding, enc_p.encoder_text, enc_p.mrte) for p in m.parameters()}
    assert {id(p) for p in groups["generator_text"]["params"]} == text
    assert not text & {id(p) for p in groups["generator"]["params"]}
    trainable = {id(p) for p in module.generator.parameters()} - {id(p) for p in frozen_params}
    assert in_optimizer == trainable
    # The fine-tuning run's optimizer had the same groups (as many parameters), decayed together.
    saved = load_training_checkpoint(run / "checkpoints" / "last.ckpt")["optimizer_states"][0]["param_groups"]
    assert [len(g["params"]) for g in saved] == [len(g["params"]) for g in opt_g.param_groups]
    lr = {g["name"]: g["lr"] for g in saved}
    assert lr["generator_text"] == pytest.approx(0.4 * lr["generator"]) and lr["generator"] < 1e-4


def test_export_package_and_reload_the_generator(two_epoch_run, tmp_path):
    last = two_epoch_run / "checkpoints" / "last.ckpt"
    package = package_from_checkpoint(last, tmp_path / "package")
    loaded = load_package(package, family="sovits")
    assert loaded.manifest["compatibility_id"] == load_training_checkpoint(last)["sonicsynth"]["compatibility_id"]
    assert not any(k.startswith("discriminator") for k in loaded.state_dict)  # training-only
    assert loaded.config["spectrogram"] == {"sample_rate": 16000, "n_fft": 256, "hop_length": 64, "win_length": 256,
                                            "center": False}

    generator, info = load_sovits(package)
    from_checkpoint, _ = load_sovits(last)
    trained = {k.removeprefix("generator."): v for k, v in weights(last).items()}
    assert all(torch.equal(v, trained[k]) for k, v in generator.state_dict().items())
    assert info["source"]["kind"] == "package" and info["content_key"] == "content"
    tokens = torch.randint(0, generator.codebook_size, (1, 1, 6), generator=torch.Generator().manual_seed(0))
    phones, reference = torch.randint(1, 600, (1, 5)), torch.rand(1, 129, 20)
    audio = generator.decode(tokens, phones, reference, seed=0)
    assert audio.shape == (1, 1, 6 * 2 * 64) and torch.isfinite(audio).all()
    assert torch.equal(audio, from_checkpoint.decode(tokens, phones, reference, seed=0))


def test_bf16_mixed_precision_trains(sovits_overrides, tmp_path):
    metrics = train(compose_train(sovits_overrides(tmp_path, 1, "trainer.precision=bf16-mixed", "validate_before_training=false")))
    assert all(math.isfinite(metrics[k]) for k in ("train/loss_g", "train/loss_d", "train/kl", "val/mel_l1"))


# ------------------------------------------------------------------------------------------ inputs


def batch_of(content_dim: int, frames: int = 25, samples: int = 16000) -> dict:
    return {
        "audio": 0.1 * torch.randn(2, samples),
        "audio_lengths": torch.tensor([samples, samples - 3000]),
        "content": torch.randn(2, content_dim, frames),
        "content_lengths": torch.tensor([frames, frames - 5]),
        "phones": torch.randint(1, 600, (2, 9)),
        "phones_lengths": torch.tensor([9, 7]),
    }


def test_content_features_of_the_wrong_dimension_are_refused_by_name(sovits_overrides, tmp_path):
    message = r"'content' have 32 channels.*content projection.*takes 16"
    with pytest.raises(ValueError, match=message):
        tiny_module(**{"generator.content_projection.in_channels": 16}).prepare_inputs(batch_of(32))
    # Through the entry point: the first batch stops the run, nothing is trained.
    with pytest.raises(ValueError, match=message):
        train(compose_train(sovits_overrides(tmp_path, 1, "model.generator.content_projection.in_channels=16")))
    assert not (tmp_path / "checkpoints" / "last.ckpt").exists()
    with pytest.raises(KeyError, match="no 'ctc_content' content features"):
        tiny_module(content_key="ctc_content").prepare_inputs(batch_of(32))


def test_inputs_come_at_the_spectrogram_frame_rate():
    module = tiny_module()
    inputs = module.prepare_inputs(batch_of(32, frames=50))
    # 16 kHz / hop 64 = 250 frames per second; the 50 Hz content is stretched to the same frames.
    assert inputs.spec.shape == (2, 129, 250) and inputs.spec_lengths.tolist() == [250, 203]
    assert inputs.content.shape == (2, 32, 250)
    assert inputs.content[1, :, 203:].abs().sum() == 0 and inputs.spec[1, :, 203:].abs().sum() == 0
    # The item's spectrogram is computed from its own samples, not from the padded batch.
    alone = module.spectrogram(inputs.audio[1:2, :13000])
    assert torch.allclose(inputs.spec[1:2, :, :203], alone[..., :203])


def test_resample_frames_keeps_equal_rates_and_interpolates_others():
    x = torch.arange(10.0).view(1, 1, 10)
    # Same rate, lengths rounded differently: trimmed, or the last frame repeated.
    assert resample_frames(x, torch.tensor([10]), torch.tensor([9]))[0, 0].tolist() == list(range(9))
    assert resample_frames(x, torch.tensor([10]), torch.tensor([11]))[0, 0].tolist() == [*range(10), 9]
    # Half the rate: pairs averaged; five times the rate: a linear ramp between the frame centres.
    assert resample_frames(x, torch.tensor([10]), torch.tensor([5]))[0, 0].tolist() == [0.5, 2.5, 4.5, 6.5, 8.5]
    up = resample_frames(x, torch.tensor([10]), torch.tensor([50]), 60)[0, 0]
    assert up[2].item() == pytest.approx(0.0, abs=1e-6) and up[7].item() == pytest.approx(1.0) and up[50:].abs().sum() == 0
    assert torch.all(up[2:48].diff() >= 0)


def test_settings_that_do_not_fit_the_generator_are_refused():
    with pytest.raises(ValueError, match="hop_length 128 != the decoder's hop length 64"):
        tiny_module(**{"spectrogram.hop_length": 128})
    with pytest.raises(ValueError, match="n_fft 512 gives 257 bins.*reads 129"):
        tiny_module(**{"spectrogram.n_fft": 512, "spectrogram.win_length": 512})
    module = tiny_module()
    batch = batch_of(32)
    batch["phones"][0, 0] = 800
    with pytest.raises(ValueError, match="phone id 800 is outside the generator's text embedding"):
        module.prepare_inputs(batch)
    with pytest.raises(ValueError, match="freeze_quantizer is set but the codebook was never trained"):
        tiny_module(**{"generator.freeze_quantizer": "true"}).on_train_start()
    module.on_train_start()  # a trainable quantizer initialises itself on the first batch


def test_the_discriminator_is_the_published_layout():
    cfg = compose_train(["model=sovits_v2", "paths.output_dir=unused"])
    discriminator = instantiate(cfg.model.discriminator)
    assert isinstance(discriminator, PeriodScaleDiscriminator) and len(discriminator.discriminators) == 6
    assert sum(p.numel() for p in discriminator.parameters()) == 46_747_132
    logits, fmaps = discriminator(torch.randn(1, 1, 2560))
    assert len(logits) == len(fmaps) == 6 and [len(f) for f in fmaps] == [7, 6, 6, 6, 6, 6]
    assert OmegaConf.select(cfg, "model.generator.freeze_quantizer") is True
