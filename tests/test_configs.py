"""The Hydra tree composes for every trainer, logger, model and debug choice."""

from __future__ import annotations


import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.utils import hydra_config
from sonicsynth.utils.hydra_config import compose_config



def compose_train(overrides: list[str]) -> DictConfig:
    return compose_config("train", overrides)


@pytest.mark.parametrize("trainer", ["default", "cpu", "gpu", "ddp", "deepspeed_stage_2"])
@pytest.mark.parametrize("logger", ["tensorboard", "csv", "wandb", "many_loggers"])
def test_trainer_and_logger_choices_compose(trainer, logger):
    cfg = compose_train([f"trainer={trainer}", f"logger={logger}", "experiment=hifigan_demo", f"trainer={trainer}"])
    assert cfg.trainer._target_ == "lightning.pytorch.trainer.Trainer"
    assert cfg.model.generator.upsample_initial_channel == 256  # V3


@pytest.mark.parametrize("model, channels", [("hifigan_v1", 512), ("hifigan_v2", 128), ("hifigan_v3", 256), ("hifigan_tiny", 32)])
def test_model_configs(model, channels):
    cfg = compose_train([f"model={model}"])
    assert cfg.model.generator.upsample_initial_channel == channels
    rates = cfg.model.generator.upsample_rates
    hop = 1
    for r in rates:
        hop *= r
    assert hop == cfg.model.mel.hop_length


@pytest.mark.parametrize("debug", ["default", "fdr", "overfit", "limit"])
def test_debug_configs_compose(debug):
    cfg = compose_train([f"debug={debug}"])
    assert cfg.trainer.accelerator == "cpu" and cfg.data.num_workers == 0


def test_wandb_is_offline_without_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    assert not hydra_config.wandb_logged_in()
    cfg = compose_train(["logger=wandb"])
    assert cfg.logger.wandb.offline is True
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert hydra_config.wandb_logged_in()


def test_cpu_trainer_instantiates(tmp_path):
    cfg = compose_train(["trainer=cpu", f"paths.output_dir={tmp_path}"])
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_epochs == cfg.trainer.max_epochs


def test_the_voice_demo_recipes_compose_on_ctc_content_features():
    from sonicsynth.models.sovits import SoVITSLitModule

    content = "data.features.ctc_content.model=content_model"
    base = compose_train(["experiment=sovits_base_demo", content, "paths.output_dir=o"])
    few_shot = compose_train(["experiment=sovits_1min_demo", content, "init_from=base", "paths.output_dir=o"])
    for cfg in (base, few_shot):
        assert list(cfg.data.features) == ["ctc_content"] and cfg.model.content_key == "ctc_content"
        assert cfg.trainer.accelerator == "cpu" and cfg.model.generator.content_projection.in_channels == 256
    assert base.data.manifest.endswith("manifest.without-fillets-v.jsonl") and few_shot.data.manifest.endswith("manifest.fillets-v.jsonl")
    assert not base.model.generator.freeze_quantizer and few_shot.model.generator.freeze_quantizer
    assert few_shot.callbacks.model_checkpoint.monitor == "val/speaker_similarity"
    # The same model on both sides (a fine-tune loads the base's weights), and one that builds:
    # the decoder's upsampling equals the spectrogram hop.
    for key in ("spectrogram", "mel", "discriminator"):
        assert base.model[key] == few_shot.model[key]
    base_generator, few_shot_generator = dict(base.model.generator), dict(few_shot.model.generator)
    assert base_generator.pop("freeze_quantizer") != few_shot_generator.pop("freeze_quantizer")
    assert base_generator == few_shot_generator
    kwargs = {k: v for k, v in OmegaConf.to_container(few_shot.model, resolve=True).items() if not k.startswith("_")}
    module = SoVITSLitModule(**{**kwargs, "few_shot": False})
    assert module.hop_length == 320 and module.sample_rate == 16000
    content_model = compose_train(["experiment=aligner_content_demo", "paths.output_dir=o"])
    assert content_model.data.manifest == base.data.manifest and content_model.model.ctc_epochs == 8
