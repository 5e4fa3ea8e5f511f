"""One entry point for every kind of semantic-GPT weights: an exported package, a training
checkpoint of `GPTLitModule`, or an s1 checkpoint GPT-SoVITS publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate

from sonicsynth.export.package import check_state_dict_matches, load_package, load_training_checkpoint
from sonicsynth.models.gpt.model import SemanticGPT
from sonicsynth.utils.hashing import sha256_file

GPT_FAMILY = "gpt"


def _from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor], origin: Path) -> SemanticGPT:
    net = instantiate(config["net"], _convert_="all")
    check_state_dict_matches(net, state_dict, origin)
    net.load_state_dict(state_dict)
    return net.eval()


def load_gpt(path: str | Path, trust: bool = False) -> tuple[SemanticGPT, dict[str, Any]]:
    """A semantic GPT in eval mode and what it needs to be used.

    path: a package directory (`sonicsynth.export`, verified), a training checkpoint (.ckpt) of
    `train.py experiment=gpt_*`, or a published GPT-SoVITS s1 file (a .ckpt whose keys are the
    published layout's). Returns (net, info): info holds "net" (the config that rebuilds it),
    "token_source" (the record of the semantic tokens it was trained on: {"config", "name",
    "settings"} with the SoVITS model's compatibility id and token-weight hash; None for published
    files, which say nothing of theirs), "text_settings" (how its phone ids were made, including
    the symbol table they index: the published GPT-SoVITS v2 table for published files; None when
    not recorded), "bert" (the `_target_` config of its per-phone BERT features; None: zeros, as for
    published files, whose BERT directory the caller supplies) and "source" (kind, path, hashes and
    compatibility id, for generation logs). Training checkpoints load with weights_only unless `trust`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such GPT package or checkpoint")
    if path.is_dir():
        package = load_package(path, family=GPT_FAMILY)
        source = {"kind": "package", "path": str(path),
                  **{k: package.manifest[k] for k in ("weights_sha256", "config_sha256", "compatibility_id")}}
        info = {"token_source": None, "text_settings": None, "bert": None, **package.config, "source": source}
        return _from_config(package.config, package.state_dict, path), info

    checkpoint = load_training_checkpoint(path, trust=trust)
    recorded = checkpoint.get("sonicsynth", {}) if isinstance(checkpoint, dict) else {}
    if recorded.get("family") == GPT_FAMILY:
        from sonicsynth.models.gpt.lightning_module import GPTLitModule

        weights, config = GPTLitModule.package_contents(checkpoint)
        source = {"kind": "training_checkpoint", "path": str(path), "sha256": sha256_file(path),
                  "compatibility_id": recorded.get("compatibility_id"), "global_step": checkpoint.get("global_step")}
        info = {"token_source": None, "text_settings": None, "bert": None, **config, "source": source}
        return _from_config(config, weights, path), info
    if recorded.get("family"):
        raise ValueError(f"{path}: a {recorded['family']!r} training checkpoint, not a semantic GPT")

    from sonicsynth.data.speech_datamodule import published_v2_text_settings
    from sonicsynth.models.gpt.published import load_published_gpt

    net, published = load_published_gpt(path, trust=trust, checkpoint=checkpoint)
    source = {"kind": "published", "path": str(path), "sha256": sha256_file(path), "compatibility_id": None}
    # Its phone embedding is indexed by the published v2 table: recorded, so that it is paired only
    # with a SoVITS model of the same table and fed ids of it.
    return net, {"net": published["network"], "token_source": None, "text_settings": published_v2_text_settings(),
                 "bert": None, "source": source}
