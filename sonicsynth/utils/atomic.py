"""Write files and directories so that readers see either the old content or the complete new one.

Output is written to a temporary sibling (same directory, hence same filesystem, so the final rename is
atomic) and renamed into place only when the writer finished without an exception. On any exception
the temporary is removed, so an interrupted run never leaves half-written output behind.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_WRITE_MODES = {"w": "x", "wt": "xt", "wb": "xb"}


def _temporary_sibling(path: Path, tag: str) -> Path:
    # Hidden and unique, so concurrent writers and directory listings do not trip over it.
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:12]}")


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file for writing and move it to `path` when the block succeeds.

    `mode` is "wb" (bytes) or "w"/"wt" (UTF-8 text). An existing file at `path` is replaced.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(f"atomic_write mode must be one of {sorted(_WRITE_MODES)}, got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(path, "tmp")
    encoding = None if "b" in mode else "utf-8"
    try:
        # Exclusive creation ("x") so a name collision can never clobber someone else's file.
        with open(temporary, _WRITE_MODES[mode], encoding=encoding) as file:
            yield file
            file.flush()
            # Without fsync a crash after the rename could leave the new name pointing at empty data.
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_dir(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory; when the block succeeds it becomes `path`.

    An existing `path` raises FileExistsError (before the block runs) unless `overwrite` is true, in
    which case the existing directory is replaced by the new one and then deleted.
    """
    path = Path(path)
    if path.exists() and not (overwrite and path.is_dir()):
        what = "directory" if path.is_dir() else "non-directory"
        raise FileExistsError(f"{path} already exists ({what}); refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _temporary_sibling(path, "tmp")
    staging.mkdir()
    try:
        yield staging
        _move_into_place(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_into_place(staging: Path, path: Path) -> None:
    if not path.exists():
        os.replace(staging, path)
        return
    # rename(2) cannot replace a non-empty directory, so the old one is moved aside first and deleted
    # only once the new one is in place; if that second rename fails the old one is put back.
    retired = _temporary_sibling(path, "old")
    os.replace(path, retired)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(retired, path)
        raise
    # The new content is already in place; a leftover old copy must not turn success into an error.
    shutil.rmtree(retired, ignore_errors=True)
