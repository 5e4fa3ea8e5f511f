"""One entry point for every kind of SyncNet weights the lip-sync evaluation accepts."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.syncnet.lightning_module import SyncNetLitModule
from sonicsynth.models.syncnet.network import SyncNet, load_published_syncnet


def _from_config(config: dict, state_dict: dict[str, torch.Tensor], origin: Path) -> SyncNet:
    syncnet = instantiate(config["syncnet"], _convert_="all")
    check_state_dict_matches(syncnet, state_dict, origin)
    syncnet.load_state_dict(state_dict)
    return syncnet.eval()


def load_syncnet(path: str | Path, trust: bool = False) -> SyncNet:
    """A SyncNet in eval mode from a sonicsynth package directory, a `train.py experiment=syncnet_*`
    checkpoint (.ckpt), or syncnet_python's published `syncnet_v2.model` (any other file)."""
    path = Path(path)
    if path.is_dir():
        package = load_package(path, family=SyncNetLitModule.family)
        return _from_config(package.config, package.state_dict, path)
    if path.suffix == ".ckpt":
        checkpoint = load_training_checkpoint(path, trust=trust)
        family = checkpoint.get("sonicsynth", {}).get("family") if isinstance(checkpoint, dict) else None
        if family != SyncNetLitModule.family:
            raise ValueError(f"{path}: not a SyncNet training checkpoint (family {family!r})")
        weights, config = SyncNetLitModule.package_contents(checkpoint)
        return _from_config(config, weights, path)
    return load_published_syncnet(path)
