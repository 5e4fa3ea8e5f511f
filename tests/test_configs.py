"""The Hydra tree composes for every trainer, logger, model and debug choice."""

from __future__ import annotations


import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig

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
