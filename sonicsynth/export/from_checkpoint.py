"""Turn a training checkpoint into a verified package (see `sonicsynth.export.package`).

The checkpoint names the LightningModule that wrote it; that class's `package_contents` says
which weights and which part of the config an exported model needs.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sonicsynth.export.package import PackageError, load_training_checkpoint, save_package
from sonicsynth.utils.hashing import sha256_file


def package_from_checkpoint(checkpoint_path: str | Path, out_dir: str | Path, trust: bool = False) -> Path:
    checkpoint_path = Path(checkpoint_path)
    checkpoint = load_training_checkpoint(checkpoint_path, trust=trust)
    info = checkpoint.get("sonicsynth") if isinstance(checkpoint, dict) else None
    if not info or "module" not in info:
        raise PackageError(f"{checkpoint_path}: not a sonicsynth training checkpoint (no 'sonicsynth' entry)")
    module_path, _, class_name = info["module"].rpartition(".")
    # Only our own classes: the checkpoint must not choose arbitrary code to import.
    if not module_path.startswith("sonicsynth."):
        raise PackageError(f"{checkpoint_path}: refuses to import {info['module']!r}, which is outside sonicsynth")
    module_class = getattr(importlib.import_module(module_path), class_name)
    weights, config = module_class.package_contents(checkpoint)
    source = {
        "training_checkpoint": str(checkpoint_path),
        "training_checkpoint_sha256": sha256_file(checkpoint_path),
        "epoch": checkpoint.get("epoch"),
        "global_step": checkpoint.get("global_step"),
    }
    return save_package(out_dir, weights, config, info["family"], info["compatibility_id"], source=source)


def best_checkpoint(checkpoint_path: str | Path, trust: bool = False) -> Path:
    """The best checkpoint that the run's ModelCheckpoint recorded in `checkpoint_path` (typically its
    last.ckpt) by its monitored metric; the file itself when it monitors nothing."""
    checkpoint = load_training_checkpoint(checkpoint_path, trust=trust)
    states = [state for key, state in checkpoint.get("callbacks", {}).items() if key.startswith("ModelCheckpoint")]
    monitored = [state for state in states if state.get("monitor") and state.get("best_model_path")]
    if not monitored:
        return Path(checkpoint_path)
    best = Path(monitored[0]["best_model_path"])
    if not best.is_file():
        # The run directory may have moved since training: look beside this checkpoint.
        best = Path(checkpoint_path).parent / best.name
    if not best.is_file():
        raise PackageError(f"{checkpoint_path}: its best checkpoint {monitored[0]['best_model_path']} is missing")
    return best
