"""Hydra helpers: the OmegaConf resolvers the config tree uses, and composing a config from code
(tests, benchmarks, notebooks) exactly as the entry points compose it."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "configs"


def wandb_logged_in() -> bool:
    """True when wandb has credentials: WANDB_API_KEY, or the ~/.netrc entry `wandb login` writes.
    WANDB_MODE=offline or disabled counts as not logged in."""
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        return False
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


class RequiredValueError(ValueError):
    """A config key that an experiment requires was not given on the command line."""


def required(key: str, what: str) -> None:
    """`${required:key,what}`: an experiment's required key. `???` cannot be used for a key that a
    parent config already sets (OmegaConf keeps the parent's value when merging `???` onto it), so
    such a key is this interpolation, which refuses to resolve until the key is overridden."""
    raise RequiredValueError(f"{key} is required by this experiment: give {key}=<{what}>")


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("wandb_offline"):
        OmegaConf.register_new_resolver("wandb_offline", lambda: not wandb_logged_in())
    if not OmegaConf.has_resolver("required"):
        OmegaConf.register_new_resolver("required", required)


def compose_config(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """Compose `configs/<config_name>.yaml` with command-line style overrides. Keys that need a
    Hydra run (`${hydra:...}`, e.g. paths.output_dir) must be overridden if they are resolved."""
    from hydra import compose, initialize_config_dir

    os.environ.setdefault("SONICSYNTH_ROOT", str(PROJECT_ROOT))
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name, overrides=overrides or [])
