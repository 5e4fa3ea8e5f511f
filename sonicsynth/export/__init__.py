"""Export: verified checkpoint packages (`package`), ONNX/TorchScript (`runtime_formats`), and the
`python -m sonicsynth.export` command line."""

from sonicsynth.export.package import (
    CheckpointLoadError,
    CompatibilityError,
    ConfigWeightsMismatchError,
    FamilyMismatchError,
    IntegrityError,
    Package,
    PackageError,
    PackageFormatError,
    PackageNotFoundError,
    UnsupportedFormatVersion,
    check_state_dict_matches,
    load_package,
    load_training_checkpoint,
    require_compatible,
    save_package,
)

__all__ = [
    "CheckpointLoadError",
    "CompatibilityError",
    "ConfigWeightsMismatchError",
    "FamilyMismatchError",
    "IntegrityError",
    "Package",
    "PackageError",
    "PackageFormatError",
    "PackageNotFoundError",
    "UnsupportedFormatVersion",
    "check_state_dict_matches",
    "load_package",
    "load_training_checkpoint",
    "require_compatible",
    "save_package",
]
