"""A left-to-right phone HMM over a transcript: full-sum training loss and Viterbi alignment.

CTC is a good way to learn phone posteriors from transcripts alone, but its alignments are "peaky":
a phone fires on one or two frames and blank fills the rest, so where a phone starts is decided by
when the network happens to be confident, tens of milliseconds after the acoustic change. Aligners
built for timing (HMM aligners such as MFA's) have no blank: every frame belongs to a phone or to a
pause. This module gives the CTC recogniser that topology:

    [sil] p1 p2 ... pk [sil] q1 q2 ... [sil]        sil = class 0, optional, only between words

A frame stays in its state or moves to the next one; an optional pause may be skipped. The pause
class is the comma, the symbol table's short pause (never a CTC target, so it starts out unused).
Emissions are the recogniser's per-frame log-probabilities of the state's class given that the
frame is not blank: the CTC blank has no place in this topology, so it is divided out rather than
left to compete with the pause for every frame it dominated during CTC training. `full_sum_loss` is the negative log of the summed probability of every
path (soft EM, differentiable), used to fine-tune a CTC-trained recogniser into a frame classifier
whose classes change where the sound changes; `viterbi_states` gives the best path for alignment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from sonicsynth.text.symbols import PAD_ID, SYMBOLS

PAUSE_CLASS = SYMBOLS.index(",")
BLANK_CLASS = PAD_ID
# Finite stand-in for log(0) in the differentiable loss (a logsumexp over only -inf has a NaN
# gradient); it must stay far below any real path's score, which holds for the per-frame
# log-probabilities it is used with. Viterbi needs no gradient and uses -inf: HMM log-likelihoods
# reach -1e5 within a few seconds of audio.
LOG_ZERO = -1e5


def phone_loop_states(word_phone_ids: Sequence[Sequence[int]]) -> tuple[list[int], list[bool]]:
    """Class of each state and whether it may be skipped: an optional pause around every word."""
    classes, optional = [PAUSE_CLASS], [True]
    for phone_ids in word_phone_ids:
        if not phone_ids:
            raise ValueError("a word without phones has no place in the phone loop")
        classes += list(phone_ids)
        optional += [False] * len(phone_ids)
        classes.append(PAUSE_CLASS)
        optional.append(True)
    return classes, optional


def split_words(phone_ids: Sequence[int], word_phone_counts: Sequence[int]) -> list[list[int]]:
    words, index = [], 0
    for count in word_phone_counts:
        words.append(list(phone_ids[index : index + count]))
        index += count
    if index != len(phone_ids):
        raise ValueError(f"word phone counts add up to {index}, but there are {len(phone_ids)} phones")
    return words


def expand_phone_states(
    classes: Sequence[int], optional: Sequence[bool], states_per_phone: int
) -> tuple[list[int], list[int], list[bool]]:
    """Each phone state split into `states_per_phone` left-to-right sub-states (an HMM phone's
    beginning, middle and end; pauses stay one state): classes, sub-state index and skippability."""
    out_classes, substates, out_optional = [], [], []
    for cls, skippable in zip(classes, optional):
        count = 1 if skippable else states_per_phone
        out_classes += [cls] * count
        substates += list(range(count))
        out_optional += [skippable] * count
    return out_classes, substates, out_optional


class PhoneLoopBatch(NamedTuple):
    """Padded (batch, states) topologies: each state's class, whether it may be skipped, its
    sub-state index within its phone; and the number of states of each item."""

    classes: torch.Tensor
    optional: torch.Tensor
    lengths: torch.Tensor
    substates: torch.Tensor


def batch_states(
    phones: torch.Tensor,
    phone_lengths: torch.Tensor,
    word_phone_counts: torch.Tensor,
    word_counts: torch.Tensor,
    states_per_phone: int = 1,
) -> PhoneLoopBatch:
    """The items' topologies (see `phone_loop_states` and `expand_phone_states`), padded."""
    per_item = []
    for i in range(len(phones)):
        words = split_words(phones[i, : phone_lengths[i]].tolist(), word_phone_counts[i, : word_counts[i]].tolist())
        classes, optional = phone_loop_states(words)
        per_item.append(expand_phone_states(classes, optional, states_per_phone))
    longest = max(len(classes) for classes, _, _ in per_item)
    classes = torch.full((len(per_item), longest), PAUSE_CLASS, dtype=torch.long)
    substates = torch.zeros((len(per_item), longest), dtype=torch.long)
    optional = torch.zeros((len(per_item), longest), dtype=torch.bool)
    for i, (c, k, o) in enumerate(per_item):
        classes[i, : len(c)] = torch.tensor(c)
        substates[i, : len(k)] = torch.tensor(k)
        optional[i, : len(o)] = torch.tensor(o)
    lengths = torch.tensor([len(c) for c, _, _ in per_item])
    device = phones.device
    return PhoneLoopBatch(classes.to(device), optional.to(device), lengths.to(device), substates.to(device))


def _predecessors(previous: torch.Tensor, skip_allowed: torch.Tensor, log_zero: float = LOG_ZERO) -> torch.Tensor:
    """(3, batch, states) scores of arriving from the same state, the one before, or over a pause."""
    stay = previous
    advance = F.pad(previous[:, :-1], (1, 0), value=log_zero)
    skip = F.pad(previous[:, :-2], (2, 0), value=log_zero) + skip_allowed
    return torch.stack([stay, advance, skip])


def _emissions(log_probs: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(batch, frames, classes) log-probs -> (batch, frames, states) log P(state's class | not blank)."""
    not_blank = torch.cat([log_probs[..., :BLANK_CLASS], log_probs[..., BLANK_CLASS + 1 :]], dim=-1)
    gathered = log_probs.gather(2, classes.unsqueeze(1).expand(-1, log_probs.shape[1], -1))
    return gathered - torch.logsumexp(not_blank, dim=-1, keepdim=True)


def _skip_allowed(optional: torch.Tensor, log_zero: float = LOG_ZERO) -> torch.Tensor:
    """0 where state j may be reached from j-2 (state j-1 is an optional pause), log(0) elsewhere."""
    allowed = F.pad(optional[:, :-1], (1, 0), value=False)
    return torch.where(allowed, 0.0, log_zero)


def _initial(emissions: torch.Tensor, optional: torch.Tensor, log_zero: float = LOG_ZERO) -> torch.Tensor:
    start = torch.full_like(emissions[:, 0], log_zero)
    start[:, 0] = 0.0
    start[:, 1] = torch.where(optional[:, 0], 0.0, log_zero)
    return start + emissions[:, 0]


def _final(scores: torch.Tensor, optional: torch.Tensor, state_lengths: torch.Tensor, log_zero: float = LOG_ZERO
           ) -> torch.Tensor:
    """(batch, 2) scores of ending in the last state or, past an optional last pause, the one before."""
    rows = torch.arange(len(scores), device=scores.device)
    last, before = scores[rows, state_lengths - 1], scores[rows, state_lengths - 2]
    before = torch.where(optional[rows, state_lengths - 1], before, torch.full_like(before, log_zero))
    return torch.stack([last, before], dim=1)


def full_sum_loss(log_probs: torch.Tensor, frame_lengths: torch.Tensor, states: PhoneLoopBatch) -> torch.Tensor:
    """Mean over the batch of -log P(transcript | audio) / frames, summed over every phone-loop path.

    log_probs: (batch, frames, classes); states from `batch_states` (one state per phone).
    Items with fewer frames than mandatory states have no path: like `zero_infinity` in CTC, they
    contribute nothing rather than an infinite loss.
    """
    classes, optional, state_lengths = states.classes, states.optional, states.lengths
    emissions = _emissions(log_probs, classes)
    skip_allowed = _skip_allowed(optional)
    alpha = _initial(emissions, optional)
    for t in range(1, emissions.shape[1]):
        advanced = torch.logsumexp(_predecessors(alpha, skip_allowed), dim=0) + emissions[:, t]
        alpha = torch.where((t < frame_lengths).unsqueeze(1), advanced, alpha)
    log_likelihood = torch.logsumexp(_final(alpha, optional, state_lengths), dim=1)
    feasible = (state_lengths - optional.sum(dim=1)) <= frame_lengths
    per_frame = -log_likelihood / frame_lengths.clamp_min(1)
    return torch.where(feasible, per_frame, torch.zeros_like(per_frame)).sum() / feasible.sum().clamp_min(1)


@torch.no_grad()
def viterbi_paths(
    emissions: torch.Tensor, optional: torch.Tensor, frame_lengths: torch.Tensor, state_lengths: torch.Tensor
) -> list[list[int]]:
    """Best path (state index per frame) of each item; emissions (batch, frames, states) are the
    log-likelihoods of each item's states, optional/state_lengths as from `batch_states`.
    An item with fewer frames than mandatory states has no path: ValueError."""
    mandatory = state_lengths - optional.sum(dim=1)
    if bool((mandatory > frame_lengths).any()):
        worst = int(torch.argmax(mandatory - frame_lengths))
        raise ValueError(f"{int(mandatory[worst])} phone states cannot fit in {int(frame_lengths[worst])} frames")
    skip_allowed = _skip_allowed(optional, -math.inf)
    score = _initial(emissions, optional, -math.inf)
    choices = torch.zeros(emissions.shape, dtype=torch.uint8, device=emissions.device)
    for t in range(1, emissions.shape[1]):
        best, choice = _predecessors(score, skip_allowed, -math.inf).max(dim=0)
        choices[:, t] = choice
        score = torch.where((t < frame_lengths).unsqueeze(1), best + emissions[:, t], score)
    choices = choices.cpu()  # one transfer for the backtrace, not one per frame
    final = _final(score, optional, state_lengths, -math.inf).argmax(dim=1).cpu()
    paths = []
    for i, (frames, states) in enumerate(zip(frame_lengths.tolist(), state_lengths.tolist())):
        state = states - 1 - int(final[i])
        path = [state]
        for t in range(frames - 1, 0, -1):
            state -= int(choices[i, t, state])
            path.append(state)
        paths.append(path[::-1])
    return paths


def viterbi_states(log_probs: torch.Tensor, classes: Sequence[int], optional: Sequence[bool]) -> list[int]:
    """The best path's state index for each frame of one utterance; log_probs (frames, classes)."""
    classes_t = torch.tensor([list(classes)], device=log_probs.device)
    optional_t = torch.tensor([list(optional)], device=log_probs.device)
    emissions = _emissions(log_probs.unsqueeze(0).float(), classes_t)
    frames, states = torch.tensor([log_probs.shape[0]]), torch.tensor([len(classes)])
    return viterbi_paths(emissions, optional_t, frames.to(log_probs.device), states.to(log_probs.device))[0]
