"""Loading and writing SoVITS generators in the layout GPT-SoVITS publishes (v2 "s2" weights).

That layout is a torch file `{'weight': state_dict, 'config': hyper-parameters, 'info': str}`:
- `weight`: the generator's state dict with hook-style weight norm (`weight_g` / `weight_v`); the
  tools' fine-tuned exports are float16 and leave out the posterior encoder `enc_q`, which only
  training needs.
- `config`: the training config (s2.json: `data`, `model`, `train` sections), pickled by the
  reference as an object of its own class `utils.HParams`, which holds nothing but nested
  attributes. It is read here into plain dicts without running anything from the file: a stand-in
  class takes the attributes, and everything else still goes through torch's safe loading.

v3/v4/v2Pro files (a two-byte version header in place of the zip signature) are other
architectures and are refused by name.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_training_checkpoint
from sonicsynth.models.sovits.generator import SoVITSGenerator
from sonicsynth.models.sovits.prior_encoder import V2_SYMBOL_COUNT
from sonicsynth.nn.weight_norm import from_legacy_weight_norm, to_legacy_weight_norm
from sonicsynth.utils.atomic import atomic_write

# The published v2 hyper-parameters (GPT_SoVITS/configs/s2.json), as far as they shape the generator.
PUBLISHED_V2_CONFIG: dict[str, Any] = {
    "data": {"sampling_rate": 32000, "filter_length": 2048, "hop_length": 640, "win_length": 2048},
    "model": {
        "inter_channels": 192,
        "hidden_channels": 192,
        "filter_channels": 768,
        "n_heads": 2,
        "n_layers": 6,
        "kernel_size": 3,
        "p_dropout": 0.1,
        "resblock": "1",
        "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
        "upsample_rates": [10, 8, 2, 2, 2],
        "upsample_initial_channel": 512,
        "upsample_kernel_sizes": [16, 16, 8, 2, 2],
        "gin_channels": 512,
        "semantic_frame_rate": "25hz",
        "freeze_quantizer": True,
        "version": "v2",
    },
    "train": {"segment_size": 20480},
}

# Fixed in the reference code rather than in its config.
CONTENT_CHANNELS = 768  # cnhubert features
CODEBOOK_SIZE = 1024
TIMBRE_BINS = 704  # v2 reads the first 704 of the spectrogram's bins
MRTE_CHANNELS = 512
MRTE_HEADS = 4
ATTENTION_WINDOW = 4
POSTERIOR_LAYERS = 16
FLOW_LAYERS = 4
FLOW_COUPLINGS = 4
WAVENET_KERNEL = 5
TIMBRE_HIDDEN = 128

_REQUIRED = {
    "data": ("sampling_rate", "filter_length", "hop_length", "win_length"),
    "model": (
        "inter_channels", "hidden_channels", "filter_channels", "n_heads", "n_layers", "kernel_size", "p_dropout",
        "resblock", "resblock_kernel_sizes", "resblock_dilation_sizes", "upsample_rates",
        "upsample_initial_channel", "upsample_kernel_sizes", "gin_channels",
    ),
}
_TOKEN_STRIDE = {"25hz": 2, "50hz": 1}
# Version headers the reference writes over the zip signature of newer checkpoints.
_OTHER_VERSIONS = {b"03": "v3 LoRA", b"04": "v4 LoRA", b"05": "v2Pro", b"06": "v2ProPlus"}
_POSTERIOR_PREFIX = "enc_q."


class _HParamsRecord:
    """Receives the attributes of a pickled GPT-SoVITS `utils.HParams` (see the module docstring)."""


# Where the reference's training scripts import the class from.
_HPARAMS_NAMES = ("utils.HParams", "GPT_SoVITS.utils.HParams")


def _plain(value: Any) -> Any:
    if isinstance(value, _HParamsRecord):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ config


def generator_config_from_published(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our generator config (nested `_target_` dicts, as configs/model/sovits_generator/) for an s2 config.

    Raises ValueError for a config that lacks a key it needs or describes another version.
    """
    missing = [f"{section}.{key}" for section, keys in _REQUIRED.items() for key in keys
               if key not in config.get(section, {})]
    if missing:
        raise ValueError(f"the s2 config lacks {', '.join(missing)}")
    data, model = config["data"], config["model"]
    version = model.get("version", "v2")
    if version != "v2":
        raise ValueError(f"the s2 config is for GPT-SoVITS {version!r}; only 'v2' generators are supported")
    frame_rate = model.get("semantic_frame_rate", "25hz")
    if frame_rate not in _TOKEN_STRIDE:
        raise ValueError(f"semantic_frame_rate must be one of {sorted(_TOKEN_STRIDE)}, got {frame_rate!r}")
    stride = _TOKEN_STRIDE[frame_rate]
    inter, hidden, gin = model["inter_channels"], model["hidden_channels"], model["gin_channels"]
    n_layers = model["n_layers"]
    segment_size = config.get("train", {}).get("segment_size", PUBLISHED_V2_CONFIG["train"]["segment_size"])
    package = "sonicsynth.models.sovits"
    return {
        "_target_": f"{package}.SoVITSGenerator",
        "content_projection": {
            "_target_": "torch.nn.Conv1d",
            "in_channels": CONTENT_CHANNELS,
            "out_channels": CONTENT_CHANNELS,
            "kernel_size": stride,
            "stride": stride,
        },
        "quantizer": {
            "_target_": f"{package}.ResidualVectorQuantizer",
            "dim": CONTENT_CHANNELS,
            "codebook_size": CODEBOOK_SIZE,
            "num_quantizers": 1,
        },
        "prior_encoder": {
            "_target_": f"{package}.PriorEncoder",
            "content_channels": CONTENT_CHANNELS,
            "out_channels": inter,
            "hidden_channels": hidden,
            "filter_channels": model["filter_channels"],
            "n_heads": model["n_heads"],
            "ssl_layers": n_layers // 2,
            "text_layers": n_layers,
            "post_layers": n_layers // 2,
            "kernel_size": model["kernel_size"],
            "dropout": model["p_dropout"],
            "window_size": ATTENTION_WINDOW,
            "n_symbols": V2_SYMBOL_COUNT,
            "fusion_channels": MRTE_CHANNELS,
            "fusion_heads": MRTE_HEADS,
        },
        "timbre_encoder": {
            "_target_": f"{package}.TimbreEncoder",
            "in_channels": TIMBRE_BINS,
            "hidden_channels": TIMBRE_HIDDEN,
            "out_channels": gin,
            "kernel_size": 5,
            "n_heads": 2,
            "dropout": 0.1,
        },
        "posterior_encoder": {
            "_target_": f"{package}.PosteriorEncoder",
            "in_channels": data["filter_length"] // 2 + 1,
            "out_channels": inter,
            "hidden_channels": hidden,
            "kernel_size": WAVENET_KERNEL,
            "dilation_rate": 1,
            "n_layers": POSTERIOR_LAYERS,
            "gin_channels": gin,
        },
        "flow": {
            "_target_": f"{package}.ResidualCouplingFlow",
            "channels": inter,
            "hidden_channels": hidden,
            "kernel_size": WAVENET_KERNEL,
            "dilation_rate": 1,
            "n_layers": FLOW_LAYERS,
            "n_flows": FLOW_COUPLINGS,
            "gin_channels": gin,
        },
        "decoder": {
            "_target_": "sonicsynth.models.vocoder.HiFiGANGenerator",
            "in_channels": inter,
            "upsample_rates": list(model["upsample_rates"]),
            "upsample_kernel_sizes": list(model["upsample_kernel_sizes"]),
            "upsample_initial_channel": model["upsample_initial_channel"],
            "resblock_type": str(model["resblock"]),
            "resblock_kernel_sizes": list(model["resblock_kernel_sizes"]),
            "resblock_dilation_sizes": [list(d) for d in model["resblock_dilation_sizes"]],
            "gin_channels": gin,
            "weight_norm_pre_post": False,
            "post_bias": False,
        },
        "segment_frames": segment_size // data["hop_length"],
        "freeze_quantizer": bool(model.get("freeze_quantizer", False)),
    }


def spectrogram_config_from_published(config: Mapping[str, Any]) -> dict[str, Any]:
    """The linear spectrogram the generator was trained on (magnitude, un-centred STFT with reflect
    padding of (n_fft - hop) / 2 each side: `sonicsynth.audio.LinearSpectrogram` with these settings)."""
    data = config["data"]
    return {
        "sample_rate": data["sampling_rate"],
        "n_fft": data["filter_length"],
        "hop_length": data["hop_length"],
        "win_length": data["win_length"],
        "center": False,
    }


def build_generator(config: Mapping[str, Any]) -> SoVITSGenerator:
    """Instantiate a generator config (nested `_target_` dicts)."""
    return instantiate(dict(config), _convert_="all")


# ------------------------------------------------------------------------------------------ reading


def read_published_checkpoint(path: str | Path, trust: bool = False) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict in the published names, s2 config as plain dicts or None) of a checkpoint file.

    Loads without unpickling arbitrary objects unless `trust` (which can run code from the file).
    """
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as file:
            header = file.read(2)
        if header in _OTHER_VERSIONS:
            raise ValueError(
                f"{path} is a GPT-SoVITS {_OTHER_VERSIONS[header]} checkpoint (version header {header!r}); "
                "only v2 generators are supported"
            )
    allowed = [(_HParamsRecord, name) for name in _HPARAMS_NAMES]
    with torch.serialization.safe_globals(allowed):
        checkpoint = load_training_checkpoint(path, trust=trust)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("weight"), Mapping):
        found = sorted(map(str, checkpoint))[:5] if isinstance(checkpoint, Mapping) else type(checkpoint).__name__
        raise ValueError(
            f"{path} is not a GPT-SoVITS s2 checkpoint: expected a dict with a 'weight' state dict, found {found}"
        )
    state_dict = dict(checkpoint["weight"])
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise ValueError(f"{path}: 'weight' holds entries that are not tensors: {', '.join(not_tensors[:5])}")
    config = checkpoint.get("config")
    return state_dict, (_plain(config) if config is not None else None)


def load_published_sovits(
    path: str | Path, config: Mapping[str, Any] | None = None, trust: bool = False
) -> tuple[SoVITSGenerator, dict[str, Any]]:
    """Build our generator from a GPT-SoVITS v2 s2 checkpoint; the model comes back in eval mode.

    `config` (s2.json as a dict) replaces the file's own, e.g. for a file that holds none. Returns
    the model and {"generator": our config, "spectrogram": its input settings, "published_config":
    the s2 config used, "posterior_encoder_loaded": False for exports without `enc_q` (whose
    posterior encoder then keeps its fresh initialisation: fine for inference, not for training)}.
    """
    path = Path(path)
    state_dict, file_config = read_published_checkpoint(path, trust=trust)
    s2_config = _plain(config) if config is not None else file_config
    if not isinstance(s2_config, Mapping) or "model" not in s2_config or "data" not in s2_config:
        raise ValueError(
            f"{path} holds no s2 config with 'model' and 'data' sections; pass config= (s2.json as a dict)"
        )
    try:
        generator_config = generator_config_from_published(s2_config)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    model = build_generator(generator_config)

    state_dict = from_legacy_weight_norm(state_dict)
    expected = model.state_dict()
    posterior_loaded = any(key.startswith(_POSTERIOR_PREFIX) for key in state_dict)
    if not posterior_loaded:
        state_dict.update({k: v for k, v in expected.items() if k.startswith(_POSTERIOR_PREFIX)})
    check_state_dict_matches(
        model, state_dict, path,
        header=f"{path} does not fit the GPT-SoVITS v2 generator built from its config:",
    )
    model.load_state_dict(state_dict)
    return model.eval(), {
        "generator": generator_config,
        "spectrogram": spectrogram_config_from_published(s2_config),
        "published_config": s2_config,
        "posterior_encoder_loaded": posterior_loaded,
    }


# ------------------------------------------------------------------------------------------ writing


def save_published_layout(model: SoVITSGenerator, config: Mapping[str, Any], path: str | Path) -> Path:
    """Write `model` as a GPT-SoVITS s2 checkpoint that `load_published_sovits` (and the reference
    tools) read back: legacy weight-norm names, full precision, `config` (s2.json as a dict) stored as
    plain dicts. The config must describe this model; a mismatch is refused before anything is written.
    The layout records no phone table: `load_sovits` reads any file in it as indexed by the published
    v2 table (`sonicsynth.text.published_symbols`), as the reference tools do, so a model trained on
    ids of our own table does not belong in it.
    """
    path = Path(path)
    config = _plain(config)
    state_dict = to_legacy_weight_norm({k: v.detach().cpu() for k, v in model.state_dict().items()})
    reference = build_generator(generator_config_from_published(config))
    check_state_dict_matches(
        reference, from_legacy_weight_norm(state_dict), path,
        header=f"the model does not fit the s2 config given for {path}:",
    )
    checkpoint = {"weight": state_dict, "config": copy.deepcopy(config), "info": "written by sonicsynth"}
    with atomic_write(path) as file:
        torch.save(checkpoint, file)
    return path
