"""Train/val/test assignment, the one rule every corpus adapter uses.

The rule depends only on ids, speakers and the arguments, never on the order utterances arrive in:

1. Group. With `by="utterance"` each speaker is a group of its utterances sorted by id, so every
   speaker keeps most of its utterances in training and contributes a few held-out ones. With
   `by="speaker"` the speakers (sorted by name) are the items of one group and a held-out speaker
   takes all its utterances with it, so val/test voices are never heard in training.
2. Count. Inside a group, the item at (0-based) position i gets the number i + seed. Test takes the
   items whose number is a multiple of `test_every`; val then takes, among the items left (numbered
   again from 0 + seed), those whose number is a multiple of `val_every`; the rest is train. So
   about 1/test_every of the items are test and 1/val_every of the others are val, spread evenly
   over the sorted ids (e.g. one LJSpeech sentence in ten, across all chapters). `seed` only picks
   which position in each period is held out.
3. Keep training data. A group that would have nothing left for training is all train (a speaker
   with a single utterance, or two when both val and test are held out; a corpus of a single
   speaker with `by="speaker"`).

`val_every` or `test_every` of None holds out nothing for that split.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from sonicsynth.data.manifest import Utterance

SplitBy = Literal["utterance", "speaker"]
SPLIT_BY: tuple[SplitBy, ...] = ("utterance", "speaker")


def check_split_options(val_every: int | None, test_every: int | None, by: str) -> None:
    """Raise ValueError for arguments `assign_splits` refuses, so callers can fail before long work."""
    for name, every in (("val_every", val_every), ("test_every", test_every)):
        # A period of 1 would hold out every item, leaving nothing to train on.
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 2):
            raise ValueError(f"{name} must be None or an integer >= 2, got {every!r}")
    if by not in SPLIT_BY:
        raise ValueError(f"by must be one of {SPLIT_BY}, got {by!r}")


def _held_out(position: int, every: int | None, seed: int) -> bool:
    return every is not None and (position + seed) % every == 0


def _group_splits(count: int, val_every: int | None, test_every: int | None, seed: int) -> list[str]:
    """The split of each of `count` sorted items of one group (steps 2 and 3 of the module rule)."""
    splits: list[str] = []
    left_after_test = 0
    for position in range(count):
        if _held_out(position, test_every, seed):
            splits.append("test")
            continue
        splits.append("val" if _held_out(left_after_test, val_every, seed) else "train")
        left_after_test += 1
    return splits if "train" in splits else ["train"] * count


def assign_splits(
    utterances: Sequence[Utterance],
    val_every: int | None = 10,
    test_every: int | None = None,
    by: SplitBy = "utterance",
    seed: int = 0,
) -> list[Utterance]:
    """The utterances with their `split` set by the module's rule, sorted by id."""
    check_split_options(val_every, test_every, by)
    ids_by_speaker: dict[str, list[str]] = defaultdict(list)
    for utterance in utterances:
        ids_by_speaker[utterance.speaker].append(utterance.id)

    split_of_id: dict[str, str] = {}
    if by == "utterance":
        for ids in ids_by_speaker.values():
            ids.sort()
            split_of_id.update(zip(ids, _group_splits(len(ids), val_every, test_every, seed)))
    else:
        speakers = sorted(ids_by_speaker)
        for speaker, split in zip(speakers, _group_splits(len(speakers), val_every, test_every, seed)):
            split_of_id.update((utterance_id, split) for utterance_id in ids_by_speaker[speaker])

    return sorted((replace(u, split=split_of_id[u.id]) for u in utterances), key=lambda u: u.id)


def hold_out_speaker(
    utterances: Sequence[Utterance], speaker: str, train_seconds: float
) -> tuple[list[Utterance], list[Utterance]]:
    """A corpus split for a few-shot experiment: (everything but `speaker`, which a base model trains
    on; the speaker's few-shot set). The set keeps the speaker's val and test utterances as they are
    and the first of its train utterances (by id) until `train_seconds` of audio; the speaker's other
    train utterances are in neither list, so the base never hears the speaker. Both sorted by id."""
    if train_seconds <= 0:
        raise ValueError(f"train_seconds must be positive, got {train_seconds}")
    others = sorted((u for u in utterances if u.speaker != speaker), key=lambda u: u.id)
    own = sorted((u for u in utterances if u.speaker == speaker), key=lambda u: u.id)
    if not own:
        speakers = sorted({u.speaker for u in utterances})
        raise ValueError(f"speaker {speaker!r} has no utterances (speakers: {', '.join(speakers)})")
    chosen, total = [], 0.0
    for utterance in own:
        if utterance.split != "train":
            chosen.append(utterance)
        elif total < train_seconds:
            chosen.append(utterance)
            total += utterance.duration
    return others, chosen
