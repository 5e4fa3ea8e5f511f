"""What every trainable model family shares: a compatibility id per training run, and checkpoints
that say which family and class wrote them, so `sonicsynth.export` can package any of them."""

from __future__ import annotations

import uuid
from typing import Any

import lightning as L
import torch


class PackageableModule(L.LightningModule):
    """Subclasses set `family`, call `init_compatibility_id` after `save_hyperparameters`, and
    implement `package_contents`."""

    family: str

    def init_compatibility_id(self, compatibility_id: str | None) -> None:
        # One id for everything trained in this run; it survives resumes (see on_load_checkpoint).
        self.hparams.compatibility_id = compatibility_id or uuid.uuid4().hex

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["sonicsynth"] = {
            "family": self.family,
            "module": f"{type(self).__module__}.{type(self).__qualname__}",
            "compatibility_id": self.hparams.compatibility_id,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("sonicsynth", {}).get("compatibility_id")
        if saved:
            self.hparams.compatibility_id = saved

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The weights and config an exported model of this family needs, from a training checkpoint."""
        raise NotImplementedError(f"{cls.__name__} does not define what its package holds")

    @staticmethod
    def submodule_weights(checkpoint: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
        """The state dict of one submodule (e.g. 'generator.') with the prefix stripped."""
        return {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
