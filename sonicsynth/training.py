"""The training job behind train.py: compose data, model, callbacks, loggers and trainer; fit."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.utils.atomic import atomic_write

log = logging.getLogger(__name__)


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every `_target_` entry of a config group (callbacks, loggers)."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if isinstance(node, DictConfig) and "_target_" in node]


def load_initial_weights(model: L.LightningModule, path: str | Path, trust: bool = False) -> None:
    """Fine-tuning start: `model`'s weights from a training checkpoint of the same architecture (every
    weight), or from a package directory of the model's family (what the package holds, through
    `PackageableModule.load_package_weights`; the rest keeps its fresh initialisation).

    The run then keeps the compatibility id of the run it starts from: a fine-tuned SoVITS with its
    quantizer frozen makes the same semantic tokens as its base, so it must be accepted beside a GPT
    trained on the base's tokens (`require_compatible`). A module that says its fine-tuning breaks
    that (`keeps_compatibility_when_fine_tuned`, e.g. SoVITS with a trainable quantizer) keeps its
    own fresh id instead. The module is told what its start recorded (`on_initial_weights`), so it
    can refuse a start that does not fit the data (a GPT trained on another SoVITS's tokens).
    """
    path = Path(path)
    if path.is_dir():
        if not isinstance(model, PackageableModule):
            raise ValueError(
                f"init_from={path} is a package, but {type(model).__name__} has no model family to check it against"
            )
        family = model.family
        # Refuses another family or an unsupported format version, naming the package's and ours.
        package = load_package(path, family=family)
        model.load_package_weights(package)
        source_id = package.compatibility_id
        recorded = package.config
    else:
        checkpoint = load_training_checkpoint(path, trust=trust)
        state_dict = checkpoint["state_dict"]
        check_state_dict_matches(model, state_dict, path)
        model.load_state_dict(state_dict)
        info = checkpoint.get("sonicsynth") or {}
        source_id = info.get("compatibility_id")
        recorded = checkpoint.get("hyper_parameters") or {}
    log.info("initial weights from %s", path)
    if isinstance(model, PackageableModule):
        model.on_initial_weights(path, recorded)
    if isinstance(model, PackageableModule) and source_id:
        if model.keeps_compatibility_when_fine_tuned():
            model.hparams.compatibility_id = source_id
            log.info("compatibility id %s kept from %s", source_id, path)
        else:
            log.info("compatibility id %s is new: fine-tuning changes what made %s compatible with its run (id %s)",
                     model.hparams.compatibility_id, path, source_id)


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
