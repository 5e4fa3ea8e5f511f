"""Export: checkpoint packages (see `sonicsynth.export.package`).

The names below are re-exported lazily: importing `package` here eagerly would make
`python -m sonicsynth.export.package` run a second copy of that module (with its own exception classes)
and print runpy's "found in sys.modules" warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sonicsynth.export import package

        return getattr(package, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
