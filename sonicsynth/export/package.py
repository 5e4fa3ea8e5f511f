"""Checkpoint packages: exported weights + the config that rebuilds the model + a verifiable manifest.

A package is a directory:

    weights.safetensors   the model's state dict (never pickled, so loading it cannot run code)
    config.yaml           the resolved model config, exactly what rebuilds the model
    manifest.json         format version, sonicsynth version, family, SHA-256 of the canonical config and
                          of the weights, the compatibility id shared by components trained together,
                          creation time and where the weights came from

`load_package` verifies all of it and refuses a mismatch with an error naming the package, the file and
both sides. Training checkpoints are a different thing (pickled by Lightning); `load_training_checkpoint`
reads them without unpickling arbitrary objects unless the caller opts in.

CLI: python -m sonicsynth.export verify <dir> [--family FAMILY]
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import yaml
from omegaconf import DictConfig, OmegaConf

import sonicsynth
from sonicsynth.utils.atomic import atomic_dir
from sonicsynth.utils.hashing import sha256_file, sha256_json

FORMAT = "sonicsynth-package"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)

WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.yaml"
MANIFEST_FILE = "manifest.json"
PACKAGE_FILES = (MANIFEST_FILE, CONFIG_FILE, WEIGHTS_FILE)

_MANIFEST_KEYS = (
    "format", "format_version", "sonicsynth_version", "family", "config_sha256", "weights_sha256",
    "compatibility_id", "created_at", "source",
)
# torch.save writes a zip archive; checkpoints from before torch 1.6 are a bare pickle (protocol >= 2).
_CHECKPOINT_MAGICS = (b"PK\x03\x04", b"\x80")
# Enough entries to diagnose a config/weights mismatch without burying the message.
_MAX_LISTED = 10

PathLike = str | os.PathLike[str]


class PackageError(Exception):
    """Base class of every refusal to load a package or checkpoint."""


class PackageNotFoundError(PackageError):
    """The package directory, or one of its files, does not exist."""


class PackageFormatError(PackageError):
    """The manifest is unreadable or does not describe a sonicsynth package."""


class UnsupportedFormatVersion(PackageError):
    """The package was written in a format version this code does not read."""


class FamilyMismatchError(PackageError):
    """The package holds a different model family than the caller expects."""


class IntegrityError(PackageError):
    """A file's content does not match the hash recorded in the manifest."""


class ConfigWeightsMismatchError(PackageError):
    """The weights do not fit the model built from the package's config."""


class CompatibilityError(PackageError):
    """Components from packages that were not trained together."""


class CheckpointLoadError(PackageError):
    """A training checkpoint could not be loaded."""


@dataclass(frozen=True)
class Package:
    """A verified package, as returned by `load_package`."""

    path: Path
    manifest: dict[str, Any]
    config: dict[str, Any] = field(repr=False)
    state_dict: dict[str, torch.Tensor] = field(repr=False)

    @property
    def family(self) -> str:
        return self.manifest["family"]

    @property
    def compatibility_id(self) -> str:
        return self.manifest["compatibility_id"]


# --- writing ---------------------------------------------------------------------------------------


def save_package(
    out_dir: PathLike,
    state_dict: Mapping[str, torch.Tensor],
    config: Mapping[str, Any] | DictConfig,
    family: str,
    compatibility_id: str | None = None,
    source: Mapping[str, Any] | None = None,
) -> Path:
    """Write a package to `out_dir` atomically and return its path.

    `config` must be plain data (a Hydra config is resolved first). Components trained together must be
    given the same `compatibility_id`; None generates a fresh one. An existing package at `out_dir` is
    replaced; any other existing file or directory there is left alone and FileExistsError is raised.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not _is_package(out_dir):
        raise FileExistsError(f"{out_dir} exists and is not a sonicsynth package; refusing to overwrite it")
    if isinstance(config, DictConfig):
        config = OmegaConf.to_container(config, resolve=True)
    config = dict(config)
    # safe_dump accepts only types safe_load gives back, so the hash of this config is the hash that
    # load_package computes from the YAML file; anything else (paths, arrays, objects) is refused here.
    try:
        config_yaml = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        config_sha256 = sha256_json(config)
    except (yaml.YAMLError, TypeError, ValueError) as error:
        raise ValueError(
            f"config for {out_dir} must be plain data "
            f"(dicts, lists, strings, numbers, booleans, None): {error}"
        ) from error

    with atomic_dir(out_dir, overwrite=True) as staging:
        weights_path = staging / WEIGHTS_FILE
        safetensors.torch.save_file(
            _standalone_tensors(state_dict), str(weights_path), metadata={"format": FORMAT, "family": family}
        )
        (staging / CONFIG_FILE).write_text(config_yaml, encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "sonicsynth_version": sonicsynth.__version__,
            "family": family,
            "config_sha256": config_sha256,
            "weights_sha256": sha256_file(weights_path),
            "compatibility_id": uuid.uuid4().hex if compatibility_id is None else compatibility_id,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": dict(source or {}),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out_dir


def _standalone_tensors(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous tensors that share no storage: the form safetensors accepts.

    Tied parameters (e.g. an embedding reused as the output projection) share storage, which
    safetensors refuses, so every tensor after the first one on a storage is copied.
    """
    tensors: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for name, tensor in state_dict.items():
        tensor = tensor.detach().cpu().contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in seen_storages:
            tensor = tensor.clone()
        seen_storages.add(storage)
        tensors[name] = tensor
    return tensors


def _is_package(path: Path) -> bool:
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


# --- reading and verifying -------------------------------------------------------------------------


def load_package(
    path: PathLike, family: str | None = None, map_location: str | torch.device = "cpu"
) -> Package:
    """Load a package after verifying its files, format, family and hashes (see the module docstring)."""
    path = Path(path)
    if not path.is_dir():
        raise PackageNotFoundError(f"no checkpoint package at {path} (no such directory)")
    missing = [name for name in PACKAGE_FILES if not (path / name).is_file()]
    if missing:
        raise PackageNotFoundError(f"package {path} is incomplete: missing {', '.join(missing)}")

    manifest = _read_manifest(path)
    if family is not None and manifest["family"] != family:
        raise FamilyMismatchError(
            f"package {path} ({MANIFEST_FILE}) holds family {manifest['family']!r}, expected {family!r}"
        )

    config_path = path / CONFIG_FILE
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise IntegrityError(f"{config_path} is not valid YAML (modified or corrupted): {error}") from error
    _check_hash(path, CONFIG_FILE, expected=manifest["config_sha256"], actual=sha256_json(config))

    weights_path = path / WEIGHTS_FILE
    _check_hash(path, WEIGHTS_FILE, expected=manifest["weights_sha256"], actual=sha256_file(weights_path))
    state_dict = safetensors.torch.load_file(str(weights_path), device=str(map_location))
    return Package(path=path, manifest=manifest, config=config, state_dict=state_dict)


def _read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise PackageFormatError(f"{manifest_path} is not valid JSON: {error}") from error
    found_format = manifest.get("format") if isinstance(manifest, dict) else None
    if found_format != FORMAT:
        raise PackageFormatError(
            f"{manifest_path} is not a sonicsynth package manifest: "
            f"format {found_format!r}, expected {FORMAT!r}"
        )
    # Checked before the other keys: a newer format may legitimately lay out its manifest differently.
    version = manifest.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise UnsupportedFormatVersion(
            f"{manifest_path}: package format_version {version!r} is not supported by sonicsynth "
            f"{sonicsynth.__version__} (supported: {', '.join(map(str, SUPPORTED_FORMAT_VERSIONS))})"
        )
    missing = [key for key in _MANIFEST_KEYS if key not in manifest]
    if missing:
        raise PackageFormatError(f"{manifest_path} lacks required fields: {', '.join(missing)}")
    return manifest


def _check_hash(path: Path, file_name: str, expected: str, actual: str) -> None:
    if actual != expected:
        raise IntegrityError(
            f"package {path}: {file_name} was modified or corrupted since the package was written "
            f"(sha256 expected {expected} from {MANIFEST_FILE}, actual {actual})"
        )


def check_state_dict_matches(
    module: torch.nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    package_path: PathLike,
    header: str | None = None,
) -> None:
    """Raise ConfigWeightsMismatchError unless `state_dict` fits `module` key for key and shape for shape.

    Call it with the model built from the package's config before `load_state_dict`, whose own error
    does not say which package is at fault. `header` replaces the first line of the message for
    weights that do not come from a package (e.g. a published checkpoint file).
    """
    expected_shapes = {name: tuple(tensor.shape) for name, tensor in module.state_dict().items()}
    found_shapes = {name: tuple(tensor.shape) for name, tensor in state_dict.items()}
    missing = [name for name in expected_shapes if name not in found_shapes]
    unexpected = [name for name in found_shapes if name not in expected_shapes]
    mismatched = [
        f"{name}: model {expected_shapes[name]} vs weights {found_shapes[name]}"
        for name in expected_shapes
        if name in found_shapes and expected_shapes[name] != found_shapes[name]
    ]
    if not (missing or unexpected or mismatched):
        return
    package_path = Path(package_path)
    lines = [header or f"{package_path / WEIGHTS_FILE} does not fit the model built from {package_path / CONFIG_FILE}:"]
    sections = (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", mismatched))
    for title, entries in sections:
        if entries:
            lines.append(f"  {title} ({len(entries)}):")
            lines.extend(f"    {entry}" for entry in entries[:_MAX_LISTED])
            if len(entries) > _MAX_LISTED:
                lines.append(f"    ... and {len(entries) - _MAX_LISTED} more")
    raise ConfigWeightsMismatchError("\n".join(lines))


def require_compatible(*packages: Package) -> None:
    """Raise CompatibilityError unless all packages were trained together (same compatibility id)."""
    for first, other in zip(packages, packages[1:]):
        if first.compatibility_id != other.compatibility_id:
            raise CompatibilityError(
                f"packages were not trained together: {first.path} ({first.family}) has compatibility id "
                f"{first.compatibility_id!r}, {other.path} ({other.family}) has {other.compatibility_id!r}"
            )


# --- training checkpoints --------------------------------------------------------------------------


def load_training_checkpoint(
    path: PathLike, trust: bool = False, map_location: str | torch.device = "cpu"
) -> Any:
    """torch.load a training checkpoint, unpickling only tensors and plain containers unless `trust`.

    trust=True allows arbitrary objects, and therefore arbitrary code: use it only for files you trust.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust)
    except Exception as error:
        unsafe_globals = [] if trust else _unsafe_globals(path)
        if unsafe_globals:
            raise CheckpointLoadError(
                f"{path} contains Python objects that safe loading refuses to unpickle: "
                f"{', '.join(unsafe_globals)}. Unpickling them can run arbitrary code; pass trust=True "
                f"only if you trust where this file came from"
            ) from error
        raise CheckpointLoadError(
            f"could not load training checkpoint {path}: {_failure_reason(path, error)}"
        ) from error


def _failure_reason(path: Path, error: Exception) -> str:
    # torch's own error for a file that is no checkpoint at all is cryptic (e.g. "KeyError: 101").
    with open(path, "rb") as file:
        head = file.read(4)
    if not head:
        return "the file is empty"
    if not head.startswith(_CHECKPOINT_MAGICS):
        return f"not a torch checkpoint (neither a zip archive nor a pickle; it starts with {head!r})"
    if isinstance(error, EOFError):
        return "the file ends early (truncated, or still being written)"
    return f"{type(error).__name__}: {error}"


def _unsafe_globals(path: Path) -> list[str]:
    # Scans the pickle without executing it. Only zip-format checkpoints can be scanned; for anything
    # else (legacy format, truncated, not a checkpoint) the load error itself is the explanation.
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        return []
