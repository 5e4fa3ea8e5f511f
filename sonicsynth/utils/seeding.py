"""Randomness of a training step that depends only on where the step is, not on what ran before it.

A step seeded from (seed, epoch, batch index, rank) draws the same numbers whether the run went
straight through or was resumed from a checkpoint, which restores weights and optimizer state but
not the global random state of every device. Training modules wrap each step in `fork_global_rng`
(dropout and anything else that reads torch's global generator) and give explicit generators to
what takes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def step_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from a tuple of integers (seed, epoch, batch index, rank, stream)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> np.uint64(1))


@contextmanager
def fork_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global generators (CPU, and `device`'s when it is a GPU) seeded with `seed` inside the
    block and restored afterwards, so the step's draws do not shift anything outside it."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
