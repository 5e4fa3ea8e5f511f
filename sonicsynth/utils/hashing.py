"""SHA-256 of files and of JSON-like data, as hex strings."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

_CHUNK_BYTES = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in chunks so large checkpoints never sit in memory whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON of `obj`.

    Sorted keys and fixed separators make the hash independent of key order and formatting, so the
    same data hashes the same whether it came from a dict in memory or a re-read YAML/JSON file.
    """
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
