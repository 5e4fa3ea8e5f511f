"""What every trainable model family shares: a compatibility id per training run, and checkpoints
that say which family and class wrote them, so `sonicsynth.export` can package any of them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch


class PackageableModule(L.LightningModule):
    """Subclasses set `family`, call `init_compatibility_id` after `save_hyperparameters`, and
    implement `package_contents` (and `load_package_weights`, or set `package_prefix` when the
    package holds one submodule's weights)."""

    family: str
    # The submodule whose weights a package holds, as a state-dict prefix (e.g. "generator."); None
    # when the package is not one submodule's state dict.
    package_prefix: str | None = None

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

    def load_package_weights(self, package: Any) -> None:
        """Load a verified package's weights (`sonicsynth.export.package.Package`) into this module:
        the inverse of `package_contents`. By default the package is the state dict of the submodule
        at `package_prefix`, loaded with strict key and shape checks; what the package leaves out
        (e.g. a discriminator) keeps its fresh initialisation."""
        from sonicsynth.export.package import WEIGHTS_FILE, check_state_dict_matches

        if self.package_prefix is None:
            raise NotImplementedError(f"{type(self).__name__} does not define how to load its package's weights")
        name = self.package_prefix.rstrip(".")
        target = self.get_submodule(name)
        header = f"{package.path / WEIGHTS_FILE} does not fit {type(self).__name__}.{name}:"
        check_state_dict_matches(target, package.state_dict, package.path, header=header)
        target.load_state_dict(package.state_dict, strict=True)

    def on_initial_weights(self, path: Path, recorded: Mapping[str, Any]) -> None:
        """Called by `sonicsynth.training.load_initial_weights` once a fine-tuning start's weights are
        in, with what the start recorded about itself: a package's config, or a training checkpoint's
        hyper-parameters. A family whose start must fit the data (e.g. the GPT and the semantic tokens
        it reads) keeps what it needs here and checks it when the datamodule is known (`setup`).
        Nothing by default."""

    def keeps_compatibility_when_fine_tuned(self) -> bool:
        """Whether this module, started from another run's weights, stays compatible with the
        components trained with that run (and so keeps its compatibility id; see
        `sonicsynth.training.load_initial_weights`). True unless a family says otherwise."""
        return True

    @staticmethod
    def submodule_weights(checkpoint: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
        """The state dict of one submodule (e.g. 'generator.') with the prefix stripped."""
        return {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
