"""One entry point for every kind of SoVITS generator weights: an exported package, a training
checkpoint of `SoVITSLitModule`, or a checkpoint GPT-SoVITS publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.sovits.generator import SoVITSGenerator
from sonicsynth.models.sovits.lightning_module import SoVITSLitModule
from sonicsynth.utils.hashing import sha256_file


def _from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor], origin: Path) -> SoVITSGenerator:
    generator = instantiate(config["generator"], _convert_="all")
    check_state_dict_matches(generator, state_dict, origin)
    generator.load_state_dict(state_dict)
    return generator.eval()


def load_sovits(path: str | Path, trust: bool = False) -> tuple[SoVITSGenerator, dict[str, Any]]:
    """A SoVITS generator in eval mode and what it needs to be used.

    path: a package directory (`sonicsynth.export`, verified), a training checkpoint (.ckpt) of
    `train.py experiment=sovits_*`, or a published GPT-SoVITS v2 s2 file (any other file). Returns
    (generator, info) with info holding "generator" (the config that rebuilds it), "spectrogram" (the
    linear spectrogram it reads: sample_rate, n_fft, hop_length, win_length, center), "content_key"
    where known, and "source" (kind, path, hashes and compatibility id, for generation logs).
    Training checkpoints load with weights_only unless `trust`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such SoVITS package or checkpoint")
    if path.is_dir():
        package = load_package(path, family=SoVITSLitModule.family)
        source = {"kind": "package", "path": str(path),
                  **{k: package.manifest[k] for k in ("weights_sha256", "config_sha256", "compatibility_id")}}
        return _from_config(package.config, package.state_dict, path), {**package.config, "source": source}
    if path.suffix == ".ckpt":
        checkpoint = load_training_checkpoint(path, trust=trust)
        info = checkpoint.get("sonicsynth", {}) if isinstance(checkpoint, dict) else {}
        if info.get("family") != SoVITSLitModule.family:
            raise ValueError(f"{path}: not a SoVITS training checkpoint (family {info.get('family')!r})")
        weights, config = SoVITSLitModule.package_contents(checkpoint)
        source = {"kind": "training_checkpoint", "path": str(path), "sha256": sha256_file(path),
                  "compatibility_id": info.get("compatibility_id"), "global_step": checkpoint.get("global_step")}
        return _from_config(config, weights, path), {**config, "source": source}
    from sonicsynth.models.sovits.published import load_published_sovits

    generator, published = load_published_sovits(path, trust=trust)
    source = {"kind": "published", "path": str(path), "sha256": sha256_file(path)}
    return generator, {"generator": published["generator"], "spectrogram": published["spectrogram"],
                       "content_key": "content", "source": source}
