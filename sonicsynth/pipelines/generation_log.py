"""The generation log: one JSON record per inference run, written next to its outputs.

It says exactly what produced the outputs: input paths, hashes and exact durations, every
parameter, the checkpoint's hashes, the seed, library versions, timings and output hashes.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sonicsynth.utils.atomic import atomic_write
from sonicsynth.utils.hashing import sha256_file


def environment_versions() -> dict[str, str]:
    import numpy
    import torch

    import sonicsynth

    return {
        "sonicsynth": sonicsynth.__version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


class GenerationLog:
    def __init__(self, task: str, parameters: dict[str, Any], seed: int) -> None:
        self.record: dict[str, Any] = {
            "task": task,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "parameters": parameters,
            "versions": environment_versions(),
            "checkpoint": None,
            "inputs": [],
            "outputs": [],
            "skipped_inputs": [],
            "timings_sec": {},
        }

    def set_checkpoint(self, source: dict[str, Any]) -> None:
        self.record["checkpoint"] = source

    def add_input(self, path: str | Path, **details: Any) -> None:
        self.record["inputs"].append({"path": str(path), "sha256": sha256_file(path), **details})

    def add_skipped(self, path: str | Path, reason: str) -> None:
        self.record["skipped_inputs"].append({"path": str(path), "reason": reason})

    def add_output(self, path: str | Path, **details: Any) -> None:
        self.record["outputs"].append({"path": str(path), "sha256": sha256_file(path), **details})

    @contextmanager
    def timed(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            timings = self.record["timings_sec"]
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start

    def write(self, path: str | Path) -> Path:
        self.record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        path = Path(path)
        with atomic_write(path, "w") as f:
            json.dump(self.record, f, indent=2)
            f.write("\n")
        return path
