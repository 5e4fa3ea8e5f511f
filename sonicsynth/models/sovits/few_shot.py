"""Checks of a few-shot fine-tuning set (the GPT-SoVITS recipe: about one minute of one voice).

The published recipe trains on whatever it is given and never validates; here the set is checked
before the first step: too little audio to learn a voice from is refused, a set that is no longer
few-shot is trained with a warning, and a run without held-out utterances (nothing to choose the
best checkpoint by) is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)

MIN_TRAIN_SECONDS = 20.0
MAX_FEW_SHOT_SECONDS = 600.0


def check_few_shot_set(
    manifest: str, train_durations: Sequence[float], num_val_items: int,
    min_seconds: float = MIN_TRAIN_SECONDS, max_seconds: float = MAX_FEW_SHOT_SECONDS,
) -> float:
    """Raise ValueError for a fine-tuning set under `min_seconds` of training audio or without
    validation items; warn above `max_seconds`. Returns the total training audio in seconds (each
    utterance counted once, whatever the repetition per epoch)."""
    total = float(sum(train_durations))
    if total < min_seconds:
        raise ValueError(
            f"{manifest}: the fine-tuning set has {total:.1f} s of training audio in {len(train_durations)} "
            f"utterances, under the {min_seconds:g} s a voice needs; add recordings of the speaker (about one "
            f"minute is the recipe)"
        )
    if num_val_items == 0:
        raise ValueError(
            f"{manifest}: the fine-tuning set has no validation utterances, so nothing measures the fine-tuned "
            f"voice or picks its best checkpoint; mark a few of the speaker's clips split 'val' in the manifest"
        )
    if total > max_seconds:
        log.warning(
            "%s: %.1f min of training audio is no longer few-shot (the recipe is for about one minute, "
            "at most %g); consider the full training recipe (experiment=sovits_base)",
            manifest, total / 60, max_seconds / 60,
        )
    else:
        log.info("%s: few-shot set of %.1f s of training audio, %d validation utterances",
                 manifest, total, num_val_items)
    return total
