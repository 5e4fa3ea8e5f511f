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


# The extractor of each content field, for models that did not record theirs (published files and
# checkpoints from before the record): its settings are then unknown and cannot be checked.
DEFAULT_CONTENT_EXTRACTORS = {
    "content": "sonicsynth.features.extractors.SSLContentFeature",
    "ctc_content": "sonicsynth.features.extractors.CTCContentFeature",
}


def _with_input_records(info: dict[str, Any]) -> dict[str, Any]:
    """`info` with "content_extractor" and "text_settings" always present (see `load_sovits`); a
    model that recorded no text settings was trained here, on our front end and table."""
    from sonicsynth.data.speech_datamodule import DEFAULT_TEXT_FRONTEND, text_settings

    key = info.get("content_key") or "content"
    if not info.get("content_extractor"):
        target = DEFAULT_CONTENT_EXTRACTORS.get(key)
        config = {"_target_": target} if target else None
        info["content_extractor"] = {"config": config, "name": key, "settings": None}
    if not info.get("text_settings"):
        info["text_settings"] = text_settings(DEFAULT_TEXT_FRONTEND, acoustic_phones_only=False)
    return info


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
    where known, "content_extractor" (what makes the content features: {"config": a `_target_`
    config, "name", "settings"}, settings None where the model did not record them, as in published
    files, whose content model directory the caller supplies), "text_settings" (front end config,
    acoustic_phones_only, and the symbol table its phone ids index: the published GPT-SoVITS v2
    table for published files) and "source" (kind, path, hashes and compatibility id, for
    generation logs). Training checkpoints load with weights_only unless `trust`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such SoVITS package or checkpoint")
    if path.is_dir():
        package = load_package(path, family=SoVITSLitModule.family)
        source = {"kind": "package", "path": str(path),
                  **{k: package.manifest[k] for k in ("weights_sha256", "config_sha256", "compatibility_id")}}
        info = _with_input_records({**package.config, "source": source})
        return _from_config(package.config, package.state_dict, path), info
    if path.suffix == ".ckpt":
        checkpoint = load_training_checkpoint(path, trust=trust)
        info = checkpoint.get("sonicsynth", {}) if isinstance(checkpoint, dict) else {}
        if info.get("family") != SoVITSLitModule.family:
            raise ValueError(f"{path}: not a SoVITS training checkpoint (family {info.get('family')!r})")
        weights, config = SoVITSLitModule.package_contents(checkpoint)
        source = {"kind": "training_checkpoint", "path": str(path), "sha256": sha256_file(path),
                  "compatibility_id": info.get("compatibility_id"), "global_step": checkpoint.get("global_step")}
        return _from_config(config, weights, path), _with_input_records({**config, "source": source})
    from sonicsynth.data.speech_datamodule import published_v2_text_settings
    from sonicsynth.models.sovits.published import load_published_sovits

    generator, published = load_published_sovits(path, trust=trust)
    source = {"kind": "published", "path": str(path), "sha256": sha256_file(path)}
    # Its phone embedding is indexed by the published v2 table, not ours: the record says so, and
    # every phone id made for it (`model_phone_ids`) is then an id of that table.
    info = {"generator": published["generator"], "spectrogram": published["spectrogram"], "content_key": "content",
            "text_settings": published_v2_text_settings(), "source": source}
    return generator, _with_input_records(info)
