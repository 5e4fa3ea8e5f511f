"""Weight normalisation helpers.

Modules use torch's parametrization API (`parametrizations.weight.original0/1`); published
checkpoints of the HiFi-GAN family use the older hook API (`weight_g` / `weight_v`). The two hold the
same numbers (g = original0, v = original1), so converting a checkpoint is a key rename.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

__all__ = ["weight_norm", "remove_weight_norm", "from_legacy_weight_norm", "to_legacy_weight_norm"]

_LEGACY_TO_PARAM = {"weight_g": "parametrizations.weight.original0", "weight_v": "parametrizations.weight.original1"}


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-norm parametrization into a plain weight (in place), for fast inference."""
    for sub in module.modules():
        if parametrize.is_parametrized(sub, "weight"):
            parametrize.remove_parametrizations(sub, "weight", leave_parametrized=True)
    return module


def from_legacy_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename `x.weight_g` / `x.weight_v` keys to the parametrization layout."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        prefix, _, leaf = key.rpartition(".")
        out[f"{prefix}.{_LEGACY_TO_PARAM[leaf]}" if leaf in _LEGACY_TO_PARAM else key] = value
    return out


def to_legacy_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `from_legacy_weight_norm`, for writing checkpoints other tools can read."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for legacy, param in _LEGACY_TO_PARAM.items():
            if key.endswith("." + param):
                key = key[: -len(param)] + legacy
                break
        out[key] = value
    return out
