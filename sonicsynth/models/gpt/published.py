"""Loading and writing semantic GPTs in the layout GPT-SoVITS publishes ("s1" `.ckpt` files).

That layout is a torch file `{'weight': state_dict, 'config': dict, 'info': str}`:
- `weight`: the training module's state dict, so every name starts with `model.` (the network is
  that module's `model` attribute); the tools' exports are float16.
- `config`: the training config as read from YAML (s1longer-v2.yaml for v2: `train`, `optimizer`,
  `data`, `model`, `inference` sections, plus paths), plain dicts, lists, strings and numbers, so the
  file loads with torch's safe loading (`weights_only=True`) and nothing from it is executed.

Only the `model` section shapes the network: vocab_size (codes + end-of-speech), phoneme_vocab_size,
embedding_dim, hidden_dim, head, n_layer, dropout, EOS. Facts of the reference code rather than of
its config: embedding_dim must equal hidden_dim (there is no projection between them), EOS is
vocab_size - 1, the feed-forward width is 4 * hidden_dim (the `linear_units` key is not read), the
BERT features are 1024-d, and the layers and positions use dropout 0.1 whatever `dropout` says
(which is the embedding dropout).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_training_checkpoint
from sonicsynth.models.gpt.model import SemanticGPT
from sonicsynth.utils.atomic import atomic_write

STATE_PREFIX = "model."
BERT_DIM = 1024
LAYER_DROPOUT = 0.1  # attention, feed-forward and positions, fixed in the reference code
DPO_BETA = 0.2
ACCURACY_TOP_K = 3

# The published v2 recipe (GPT_SoVITS/configs/s1longer-v2.yaml), written into files we save so the
# reference tools find every section they read.
PUBLISHED_V2_CONFIG: dict[str, Any] = {
    "train": {
        "seed": 1234, "epochs": 20, "batch_size": 8, "save_every_n_epoch": 1, "precision": "16-mixed",
        "gradient_clip": 1.0,
    },
    "optimizer": {"lr": 0.01, "lr_init": 0.00001, "lr_end": 0.0001, "warmup_steps": 2000, "decay_steps": 40000},
    "data": {"max_eval_sample": 8, "max_sec": 54, "num_workers": 4, "pad_val": 1024},
    "model": {
        "vocab_size": 1025, "phoneme_vocab_size": 732, "embedding_dim": 512, "hidden_dim": 512, "head": 16,
        "linear_units": 2048, "n_layer": 24, "dropout": 0, "EOS": 1024, "random_bert": 0,
    },
    "inference": {"top_k": 15},
}

_REQUIRED_MODEL_KEYS = ("vocab_size", "phoneme_vocab_size", "embedding_dim", "hidden_dim", "head", "n_layer", "EOS")


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------ config


def network_config_from_published(config: Mapping[str, Any]) -> dict[str, Any]:
    """Our network config (a `_target_` dict, as configs/model/gpt_net/) for an s1 config.

    Raises ValueError for a config that lacks a key it needs or that the reference could not build.
    """
    model = config.get("model")
    if not isinstance(model, Mapping):
        raise ValueError("the s1 config has no 'model' section")
    missing = [f"model.{key}" for key in _REQUIRED_MODEL_KEYS if key not in model]
    if missing:
        raise ValueError(f"the s1 config lacks {', '.join(missing)}")
    if model["embedding_dim"] != model["hidden_dim"]:
        raise ValueError(
            f"the s1 config has embedding_dim {model['embedding_dim']} != hidden_dim {model['hidden_dim']}; "
            "the s1 network has no projection between them, so they must be equal"
        )
    if model["EOS"] != model["vocab_size"] - 1:
        raise ValueError(f"the s1 config's EOS ({model['EOS']}) must be vocab_size - 1 ({model['vocab_size'] - 1})")
    dim = int(model["hidden_dim"])
    return {
        "_target_": "sonicsynth.models.gpt.SemanticGPT",
        "phone_vocab_size": int(model["phoneme_vocab_size"]),
        "dim": dim,
        "heads": int(model["head"]),
        "num_layers": int(model["n_layer"]),
        "ffn_dim": 4 * dim,
        "codebook_size": int(model["EOS"]),
        "bert_dim": BERT_DIM,
        "dropout": LAYER_DROPOUT,
        "position_dropout": LAYER_DROPOUT,
        "embedding_dropout": float(model.get("dropout", 0.0)),
        "dpo_beta": DPO_BETA,
        "accuracy_top_k": ACCURACY_TOP_K,
    }


def published_model_section(model: SemanticGPT) -> dict[str, Any]:
    """The `model` section of an s1 config that describes `model`."""
    return {
        "vocab_size": model.vocab_size,
        "phoneme_vocab_size": model.phone_vocab_size,
        "embedding_dim": model.dim,
        "hidden_dim": model.dim,
        "head": model.heads,
        "linear_units": model.ffn_dim,
        "n_layer": model.num_layers,
        "dropout": float(model.ar_text_embedding.dropout.p),
        "EOS": model.eos_id,
        "random_bert": 0,
    }


def build_network(config: Mapping[str, Any]) -> SemanticGPT:
    """Instantiate a network config (a `_target_` dict)."""
    return instantiate(dict(config), _convert_="all")


# ------------------------------------------------------------------------------------------ reading


def read_published_checkpoint(path: str | Path, trust: bool = False, checkpoint: Any = None
                              ) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(network state dict with the `model.` prefix removed, s1 config as plain dicts or None).

    Loads without unpickling arbitrary objects unless `trust` (which can run code from the file);
    `checkpoint`: the file's contents when the caller has loaded them already (not read again).
    Raises ValueError, naming the file, for anything that is not an s1 checkpoint.
    """
    path = Path(path)
    if checkpoint is None:
        checkpoint = load_training_checkpoint(path, trust=trust)
    if not isinstance(checkpoint, Mapping) or not isinstance(checkpoint.get("weight"), Mapping):
        if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint:
            found = "a Lightning training checkpoint ('state_dict', no 'weight')"
        elif isinstance(checkpoint, Mapping):
            found = f"a dict with keys {sorted(map(str, checkpoint))[:5]}"
        else:
            found = type(checkpoint).__name__
        raise ValueError(
            f"{path} is not a GPT-SoVITS s1 checkpoint: expected a dict with a 'weight' state dict and "
            f"a 'config', found {found}"
        )
    weight = checkpoint["weight"]
    unprefixed = [str(key) for key in weight if not str(key).startswith(STATE_PREFIX)]
    if unprefixed or not weight:
        example = f" (e.g. {unprefixed[0]!r})" if unprefixed else ""
        raise ValueError(
            f"{path} is not a GPT-SoVITS s1 checkpoint: the names in its 'weight' must all start with "
            f"{STATE_PREFIX!r}{example}; SoVITS (s2) files hold 'enc_p.', 'dec.', ... and load with "
            "sonicsynth.models.sovits.published"
        )
    state_dict = {key[len(STATE_PREFIX):]: value for key, value in weight.items()}
    not_tensors = [key for key, value in state_dict.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise ValueError(f"{path}: 'weight' holds entries that are not tensors: {', '.join(not_tensors[:5])}")
    config = checkpoint.get("config")
    if config is not None and not isinstance(config, Mapping):
        raise ValueError(f"{path}: 'config' must be a dict (the s1 YAML config), found {type(config).__name__}")
    return state_dict, (_plain(config) if config is not None else None)


def load_published_gpt(
    path: str | Path, config: Mapping[str, Any] | None = None, trust: bool = False, checkpoint: Any = None
) -> tuple[SemanticGPT, dict[str, Any]]:
    """Build our network from a GPT-SoVITS s1 checkpoint and load its weights; eval mode.

    `config` (the s1 YAML as a dict) replaces the file's own, e.g. for a file that holds none;
    `checkpoint`: the file's contents when already loaded (see `read_published_checkpoint`). Returns
    the model and {"network": our config, "published_config": the s1 config used}. Weights are
    checked key for key and shape for shape against the network the config describes; a mismatch
    raises ConfigWeightsMismatchError naming the file and the keys.
    """
    path = Path(path)
    state_dict, file_config = read_published_checkpoint(path, trust=trust, checkpoint=checkpoint)
    s1_config = _plain(config) if config is not None else file_config
    if not isinstance(s1_config, Mapping) or "model" not in s1_config:
        raise ValueError(f"{path} holds no s1 config with a 'model' section; pass config= (the s1 YAML as a dict)")
    try:
        network_config = network_config_from_published(s1_config)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    model = build_network(network_config)
    check_state_dict_matches(
        model, state_dict, path,
        header=f"{path} does not fit the GPT-SoVITS s1 network built from its config:",
    )
    model.load_state_dict(state_dict, strict=True)
    return model.eval(), {"network": network_config, "published_config": s1_config}


# ------------------------------------------------------------------------------------------ writing


def save_published_layout(
    model: SemanticGPT,
    path: str | Path,
    config: Mapping[str, Any] | None = None,
    half: bool = False,
    info: str = "written by sonicsynth",
) -> Path:
    """Write `model` as a GPT-SoVITS s1 checkpoint that `load_published_gpt` (and the reference
    tools) read back: names with the `model.` prefix, float32 (float16 with `half`, as the tools
    export), `config` stored as plain dicts.

    config: the s1 config to store; None = the published v2 recipe with its `model` section
    describing `model`. A config that does not describe the model is refused before anything is
    written. The layout records no phone table: `load_gpt` reads any file in it as indexed by the
    published v2 table (`sonicsynth.text.published_symbols`), as the reference tools do, so a
    model trained on ids of our own table does not belong in it.
    """
    path = Path(path)
    if config is None:
        config = {**copy.deepcopy(PUBLISHED_V2_CONFIG), "model": published_model_section(model)}
    config = _plain(config)
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with torch.device("meta"):  # shapes only: nothing allocated
        reference = build_network(network_config_from_published(config))
    check_state_dict_matches(
        reference, state_dict, path,
        header=f"the model does not fit the s1 config given for {path}:",
    )
    weight = {STATE_PREFIX + k: (v.half() if half and v.is_floating_point() else v) for k, v in state_dict.items()}
    with atomic_write(path) as file:
        torch.save({"weight": weight, "config": config, "info": info}, file)
    return path
