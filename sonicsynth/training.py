"""The training job behind train.py: compose data, model, callbacks, loggers and trainer; fit."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.export.package import check_state_dict_matches, load_training_checkpoint
from sonicsynth.utils.atomic import atomic_write

log = logging.getLogger(__name__)


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every `_target_` entry of a config group (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


def load_initial_weights(model: L.LightningModule, path: str | Path, trust: bool = False) -> None:
    """Fine-tuning start: every weight of `model` from a training checkpoint of the same architecture."""
    state_dict = load_training_checkpoint(path, trust=trust)["state_dict"]
    check_state_dict_matches(model, state_dict, path)
    model.load_state_dict(state_dict)
    log.info("initial weights from %s", path)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit the configured model; return the final callback metrics."""
    L.seed_everything(cfg.seed, workers=True)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(output_dir / "config_resolved.yaml", "w") as f:
        f.write(OmegaConf.to_yaml(cfg, resolve=True))

    log.info("data: %s", cfg.data._target_)
    datamodule = instantiate(cfg.data)
    log.info("model: %s", cfg.model._target_)
    model = instantiate(cfg.model)
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    hparams = OmegaConf.to_container(cfg, resolve=True)
    for logger in loggers:
        logger.log_hyperparams(hparams)

    if cfg.get("train", True):
        if cfg.get("ckpt_path"):
            log.info("resuming from %s", cfg.ckpt_path)
        elif cfg.get("init_from"):
            load_initial_weights(model, cfg.init_from, trust=cfg.trust_checkpoint)
        if not cfg.get("ckpt_path") and cfg.get("validate_before_training"):
            # The starting model's score, logged at step 0: the start of every validation curve.
            trainer.validate(model, datamodule=datamodule, verbose=False)
        trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=not cfg.trust_checkpoint)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("final metrics: %s", metrics)
    for callback in callbacks:
        if isinstance(callback, L.pytorch.callbacks.ModelCheckpoint) and callback.last_model_path:
            log.info("last checkpoint: %s", callback.last_model_path)
    return metrics
