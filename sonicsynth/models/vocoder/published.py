"""Loading HiFi-GAN generators published in the original implementation's layout.

That layout is a torch file `{'generator': state_dict}` whose convolutions carry hook-style weight
norm (`weight_g`, `weight_v`), plus a `config.json` with the hyper-parameters (`resblock`,
`upsample_rates`, `num_mels`, `sampling_rate`, `hop_size`, ...). Both map one-to-one onto
`HiFiGANGenerator` and `MelSpectrogram`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sonicsynth.export.package import check_state_dict_matches, load_training_checkpoint
from sonicsynth.models.vocoder.generator import HiFiGANGenerator
from sonicsynth.nn.weight_norm import from_legacy_weight_norm, to_legacy_weight_norm

_GENERATOR_KEYS = {
    "upsample_rates": "upsample_rates",
    "upsample_kernel_sizes": "upsample_kernel_sizes",
    "upsample_initial_channel": "upsample_initial_channel",
    "resblock": "resblock_type",
    "resblock_kernel_sizes": "resblock_kernel_sizes",
    "resblock_dilation_sizes": "resblock_dilation_sizes",
    "num_mels": "in_channels",
}
_MEL_KEYS = {
    "sampling_rate": "sample_rate",
    "n_fft": "n_fft",
    "hop_size": "hop_length",
    "win_size": "win_length",
    "num_mels": "n_mels",
    "fmin": "fmin",
    "fmax": "fmax",
}


def read_published_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such HiFi-GAN config.json") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    missing = [k for k in (*_GENERATOR_KEYS, *_MEL_KEYS) if k not in config]
    if missing:
        raise ValueError(f"{path}: HiFi-GAN config.json lacks {', '.join(missing)}")
    return config


def generator_config_from_published(config: dict[str, Any]) -> dict[str, Any]:
    """Our generator config (with `_target_`) for a published config.json."""
    kwargs = {ours: config[theirs] for theirs, ours in _GENERATOR_KEYS.items()}
    kwargs["resblock_type"] = str(kwargs["resblock_type"])
    return {"_target_": f"{HiFiGANGenerator.__module__}.HiFiGANGenerator", **kwargs}


def mel_config_from_published(config: dict[str, Any]) -> dict[str, Any]:
    return {ours: config[theirs] for theirs, ours in _MEL_KEYS.items()}


def load_published_generator(
    checkpoint_path: str | Path, config_path: str | Path
) -> tuple[HiFiGANGenerator, dict[str, Any]]:
    """Build our generator from a published checkpoint + config.json.

    Returns the generator (weight norm still applied, in eval mode) and the package-style config
    {"generator": ..., "mel": ...} describing it.
    """
    config = read_published_config(config_path)
    checkpoint = load_training_checkpoint(checkpoint_path)
    if not isinstance(checkpoint, dict) or "generator" not in checkpoint:
        found = sorted(checkpoint)[:5] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(f"{checkpoint_path}: expected a dict with a 'generator' state dict, found {found}")
    generator_config = generator_config_from_published(config)
    kwargs = {k: v for k, v in generator_config.items() if k != "_target_"}
    generator = HiFiGANGenerator(**kwargs)
    state_dict = from_legacy_weight_norm(checkpoint["generator"])
    check_state_dict_matches(generator, state_dict, checkpoint_path)
    generator.load_state_dict(state_dict)
    return generator.eval(), {"generator": generator_config, "mel": mel_config_from_published(config)}


def save_published_generator(generator: HiFiGANGenerator, path: str | Path) -> Path:
    """Write our generator in the published layout, so tools built for it can read our weights."""
    path = Path(path)
    torch.save({"generator": to_legacy_weight_norm(generator.state_dict())}, path)
    return path
