"""A vocoder ready for inference: generator + the mel settings it was trained with.

Built from an exported package (verified), a training checkpoint, or published weights, so every
consumer (infer.py, eval, benchmarks, the TTS pipeline) loads a vocoder the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.audio import MelSpectrogram
from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.vocoder.generator import HiFiGANGenerator
from sonicsynth.models.vocoder.lightning_module import HiFiGANLitModule


@dataclass
class Vocoder:
    generator: HiFiGANGenerator
    mel: MelSpectrogram
    config: dict[str, Any]
    source: dict[str, Any]  # where the weights came from, with hashes, for generation logs

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    @property
    def hop_length(self) -> int:
        return self.mel.hop_length

    @classmethod
    def from_config_and_weights(
        cls, config: dict[str, Any], state_dict: dict[str, torch.Tensor], source: dict[str, Any], origin: str | Path
    ) -> "Vocoder":
        generator = instantiate(config["generator"], _convert_="all")
        check_state_dict_matches(generator, state_dict, origin)
        generator.load_state_dict(state_dict)
        return cls(generator.eval(), MelSpectrogram(**config["mel"]).eval(), config, source)

    @classmethod
    def from_package(cls, path: str | Path) -> "Vocoder":
        package = load_package(path, family=HiFiGANLitModule.family)
        source = {"kind": "package", "path": str(path), **{k: package.manifest[k] for k in ("weights_sha256", "config_sha256", "compatibility_id")}}
        return cls.from_config_and_weights(package.config, package.state_dict, source, path)

    @classmethod
    def from_training_checkpoint(cls, path: str | Path, trust: bool = False) -> "Vocoder":
        from sonicsynth.utils.hashing import sha256_file

        checkpoint = load_training_checkpoint(path, trust=trust)
        if checkpoint.get("sonicsynth", {}).get("family") != HiFiGANLitModule.family:
            raise ValueError(f"{path}: not a {HiFiGANLitModule.family} training checkpoint")
        weights, config = HiFiGANLitModule.package_contents(checkpoint)
        source = {
            "kind": "training_checkpoint",
            "path": str(path),
            "sha256": sha256_file(path),
            "compatibility_id": checkpoint["sonicsynth"]["compatibility_id"],
            "global_step": checkpoint.get("global_step"),
        }
        return cls.from_config_and_weights(config, weights, source, path)

    @classmethod
    def load(cls, path: str | Path, trust: bool = False) -> "Vocoder":
        """A package directory or a training checkpoint file, whichever `path` is."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such vocoder checkpoint or package")
        return cls.from_package(path) if path.is_dir() else cls.from_training_checkpoint(path, trust=trust)

    def remove_weight_norm(self) -> "Vocoder":
        self.generator.remove_weight_norm()
        return self

    def to(self, device: str | torch.device) -> "Vocoder":
        self.generator.to(device)
        self.mel.to(device)
        return self

    @torch.inference_mode()
    def mel_from_audio(self, wav: torch.Tensor) -> torch.Tensor:
        """(samples,) or (batch, samples) -> (batch, n_mels, frames)."""
        return self.mel(wav.to(self.mel.mel_basis.device))

    @torch.inference_mode()
    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, frames * hop_length)."""
        device = next(self.generator.parameters()).device
        return self.generator(mel.to(device)).squeeze(1)
