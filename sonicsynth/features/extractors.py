"""Feature extractors for the cache. Each one declares the sample rate it reads, the settings that
determine its output (hashed into the cache key, so changing a setting invalidates only that
feature), and returns named float32 arrays with time as the LAST axis.

    mel      log-mel (n_mels, frames)                 sonicsynth.audio.MelSpectrogram
    linear   magnitude STFT (n_fft//2+1, frames)      sonicsynth.audio.LinearSpectrogram
    pitch    f0 (frames,) Hz, 0 = unvoiced; voiced (frames,) 0/1     sonicsynth.audio.prosody
    energy   frame RMS level in dBFS (frames,)
    content  self-supervised speech features (dim, frames) from a HuBERT/wav2vec2-family model in a
             local directory (e.g. chinese-hubert-base), 50 Hz at 16 kHz
    ctc_content  the built-in CTC aligner's hidden layer (dim, frames), 100 Hz: the fallback content
             feature when no self-supervised model is available
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sonicsynth.audio.features import LinearSpectrogram, MelSpectrogram
from sonicsynth.audio.prosody import PitchConfig, extract_f0, frame_energy_db


class FeatureExtractor(ABC):
    name: str
    sample_rate: int

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything that determines the output; its hash is part of the cache key."""

    @abstractmethod
    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        """Mono float32 samples at `sample_rate` -> named arrays, time last."""


class MelFeature(FeatureExtractor):
    name = "mel"

    def __init__(self, **mel_settings: Any) -> None:
        self.module = MelSpectrogram(**mel_settings)
        self.sample_rate = self.module.sample_rate
        self._settings = {"kind": "log_mel", **mel_settings}

    def settings(self) -> dict[str, Any]:
        return self._settings

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return {"mel": self.module(torch.from_numpy(wav))[0].numpy()}


class LinearFeature(FeatureExtractor):
    name = "linear"

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop_length: int = 256, win_length: int = 1024) -> None:
        self.sample_rate = sample_rate
        self.module = LinearSpectrogram(n_fft, hop_length, win_length)
        self._settings = {"kind": "magnitude_stft", "sample_rate": sample_rate, "n_fft": n_fft,
                          "hop_length": hop_length, "win_length": win_length}

    def settings(self) -> dict[str, Any]:
        return self._settings

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return {"linear": self.module(torch.from_numpy(wav))[0].numpy()}


class PitchFeature(FeatureExtractor):
    name = "pitch"

    def __init__(self, **pitch_settings: Any) -> None:
        self.config = PitchConfig(**pitch_settings)
        self.sample_rate = self.config.sample_rate

    def settings(self) -> dict[str, Any]:
        return {"kind": "f0", **asdict(self.config)}

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        f0, voiced = extract_f0(wav, self.config)
        return {"f0": f0, "voiced": voiced.astype(np.float32)}


class EnergyFeature(FeatureExtractor):
    name = "energy"

    def __init__(self, sample_rate: int = 16000, frame_length: int = 1024, hop_length: int = 160) -> None:
        self.sample_rate, self.frame_length, self.hop_length = sample_rate, frame_length, hop_length

    def settings(self) -> dict[str, Any]:
        return {"kind": "rms_db", "sample_rate": self.sample_rate, "frame_length": self.frame_length, "hop_length": self.hop_length}

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        return {"energy": frame_energy_db(wav, self.frame_length, self.hop_length).astype(np.float32)}


class SSLContentFeature(FeatureExtractor):
    """Hidden states of a self-supervised speech model loaded from a local Hugging Face directory.

    `layer=None` takes the last hidden state; an integer picks `hidden_states[layer]` (0 = the
    convolutional front end's projection). Inputs are normalised as the model's feature extractor
    config says (zero mean, unit variance when `do_normalize`).
    """

    name = "content"
    sample_rate = 16000

    def __init__(self, model_dir: str, layer: int | None = None, device: str = "cpu") -> None:
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"{self.model_dir}: no config.json; expected a Hugging Face model directory")
        config = AutoConfig.from_pretrained(self.model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.model_dir, local_files_only=True).eval().to(device)
        try:
            processor = AutoFeatureExtractor.from_pretrained(self.model_dir, local_files_only=True)
            self.normalize = bool(getattr(processor, "do_normalize", True))
            self.sample_rate = int(getattr(processor, "sampling_rate", 16000))
        except OSError:  # no preprocessor_config.json: the family's defaults
            self.normalize = True
        self.layer, self.device = layer, device
        self._model_type = config.model_type
        self._weights_digest = self._digest_weights()

    def _digest_weights(self) -> str:
        from sonicsynth.utils.hashing import sha256_file

        files = sorted(self.model_dir.glob("*.safetensors")) or sorted(self.model_dir.glob("*.bin"))
        return "+".join(sha256_file(f)[:16] for f in files)

    def settings(self) -> dict[str, Any]:
        return {"kind": "ssl_hidden_states", "model_type": self._model_type, "weights": self._weights_digest,
                "layer": self.layer, "normalize": self.normalize, "sample_rate": self.sample_rate}

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(wav).float()
        if self.normalize:
            x = (x - x.mean()) / torch.sqrt(x.var() + 1e-7)
        with torch.inference_mode():
            out = self.model(x.unsqueeze(0).to(self.device), output_hidden_states=self.layer is not None)
            hidden = out.last_hidden_state if self.layer is None else out.hidden_states[self.layer]
        return {"content": hidden[0].T.float().cpu().numpy()}


class CTCContentFeature(FeatureExtractor):
    """Hidden layer of the built-in CTC phone recogniser (`experiment=aligner_*`): content features
    for when no self-supervised model is available, at the aligner's 10 ms frame rate."""

    name = "ctc_content"

    def __init__(self, model: str) -> None:
        from hydra.utils import instantiate

        from sonicsynth.export.package import load_package, load_training_checkpoint
        from sonicsynth.models.aligner.lightning_module import CTCAlignerLitModule
        from sonicsynth.utils.hashing import sha256_file

        path = Path(model)
        if path.is_dir():
            package = load_package(path, family=CTCAlignerLitModule.family)
            weights, config, digest = package.state_dict, package.config, package.manifest["weights_sha256"]
        else:
            weights, config = CTCAlignerLitModule.package_contents(load_training_checkpoint(path))
            digest = sha256_file(path)
        self.recognizer = instantiate(config["recognizer"], _convert_="all")
        self.recognizer.load_state_dict(weights)
        self.recognizer.eval()
        self.mel = MelSpectrogram(**config["mel"])
        self.sample_rate = self.mel.sample_rate
        self._settings = {"kind": "ctc_hidden", "weights": digest[:16], "mel": config["mel"]}

    def settings(self) -> dict[str, Any]:
        return self._settings

    def __call__(self, wav: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            hidden = self.recognizer.hidden(self.mel(torch.from_numpy(wav)))
        return {"ctc_content": hidden[0].T.numpy()}
