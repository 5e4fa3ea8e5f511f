"""OmegaConf resolvers used by the config tree; registered once by the entry points."""

from __future__ import annotations

import netrc
import os

from omegaconf import OmegaConf


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


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("wandb_offline"):
        OmegaConf.register_new_resolver("wandb_offline", lambda: not wandb_logged_in())
