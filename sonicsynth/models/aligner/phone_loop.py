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

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from sonicsynth.text.symbols import PAD_ID, SYMBOLS

PAUSE_CLASS = SYMBOLS.index(",")
BLANK_CLASS = PAD_ID
# Finite stand-in for log(0): a logsumexp over only -inf has a NaN gradient.
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


def batch_states(
    phones: torch.Tensor, phone_lengths: torch.Tensor, word_phone_counts: torch.Tensor, word_counts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded (batch, states) classes and skippable flags, and the number of states per item."""
    per_item = []
    for i in range(len(phones)):
        words = split_words(phones[i, : phone_lengths[i]].tolist(), word_phone_counts[i, : word_counts[i]].tolist())
        per_item.append(phone_loop_states(words))
    longest = max(len(classes) for classes, _ in per_item)
    classes = torch.full((len(per_item), longest), PAUSE_CLASS, dtype=torch.long)
    optional = torch.zeros((len(per_item), longest), dtype=torch.bool)
    for i, (c, o) in enumerate(per_item):
        classes[i, : len(c)] = torch.tensor(c)
        optional[i, : len(o)] = torch.tensor(o)
    lengths = torch.tensor([len(c) for c, _ in per_item])
    device = phones.device
    return classes.to(device), optional.to(device), lengths.to(device)


def _predecessors(previous: torch.Tensor, skip_allowed: torch.Tensor) -> torch.Tensor:
    """(3, batch, states) scores of arriving from the same state, the one before, or over a pause."""
    stay = previous
    advance = F.pad(previous[:, :-1], (1, 0), value=LOG_ZERO)
    skip = F.pad(previous[:, :-2], (2, 0), value=LOG_ZERO) + skip_allowed
    return torch.stack([stay, advance, skip])


def _emissions(log_probs: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """(batch, frames, classes) log-probs -> (batch, frames, states) log P(state's class | not blank)."""
    not_blank = torch.cat([log_probs[..., :BLANK_CLASS], log_probs[..., BLANK_CLASS + 1 :]], dim=-1)
    gathered = log_probs.gather(2, classes.unsqueeze(1).expand(-1, log_probs.shape[1], -1))
    return gathered - torch.logsumexp(not_blank, dim=-1, keepdim=True)


def _skip_allowed(optional: torch.Tensor) -> torch.Tensor:
    """0 where state j may be reached from j-2 (state j-1 is an optional pause), log(0) elsewhere."""
    allowed = F.pad(optional[:, :-1], (1, 0), value=False)
    return torch.where(allowed, 0.0, LOG_ZERO)


def _initial(emissions: torch.Tensor, optional: torch.Tensor) -> torch.Tensor:
    start = torch.full_like(emissions[:, 0], LOG_ZERO)
    start[:, 0] = 0.0
    start[:, 1] = torch.where(optional[:, 0], 0.0, LOG_ZERO)
    return start + emissions[:, 0]


def _final(scores: torch.Tensor, optional: torch.Tensor, state_lengths: torch.Tensor) -> torch.Tensor:
    """(batch, 2) scores of ending in the last state or, past an optional last pause, the one before."""
    rows = torch.arange(len(scores), device=scores.device)
    last, before = scores[rows, state_lengths - 1], scores[rows, state_lengths - 2]
    before = torch.where(optional[rows, state_lengths - 1], before, torch.full_like(before, LOG_ZERO))
    return torch.stack([last, before], dim=1)


def full_sum_loss(
    log_probs: torch.Tensor,
    frame_lengths: torch.Tensor,
    classes: torch.Tensor,
    optional: torch.Tensor,
    state_lengths: torch.Tensor,
) -> torch.Tensor:
    """Mean over the batch of -log P(transcript | audio) / frames, summed over every phone-loop path.

    log_probs: (batch, frames, classes); classes/optional: (batch, states) from `batch_states`.
    Items with fewer frames than mandatory states have no path: like `zero_infinity` in CTC, they
    contribute nothing rather than an infinite loss.
    """
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
def viterbi_states(log_probs: torch.Tensor, classes: Sequence[int], optional: Sequence[bool]) -> list[int]:
    """The best path's state index for each frame of one utterance; log_probs (frames, classes)."""
    frames = log_probs.shape[0]
    classes_t = torch.tensor([list(classes)], device=log_probs.device)
    optional_t = torch.tensor([list(optional)], device=log_probs.device)
    mandatory = sum(not o for o in optional)
    if frames < mandatory:
        raise ValueError(f"{mandatory} phones cannot fit in {frames} frames")
    emissions = _emissions(log_probs.unsqueeze(0).float(), classes_t)
    skip_allowed = _skip_allowed(optional_t)
    score = _initial(emissions, optional_t)
    choices = torch.zeros((frames, len(classes)), dtype=torch.long, device=log_probs.device)
    for t in range(1, frames):
        best, choice = _predecessors(score, skip_allowed).max(dim=0)
        choices[t] = choice[0]
        score = best + emissions[:, t]
    choices = choices.cpu()  # one transfer for the backtrace, not one per frame
    final = _final(score, optional_t, torch.tensor([len(classes)], device=log_probs.device))[0]
    state = len(classes) - 1 - int(final.argmax())
    path = [state]
    for t in range(frames - 1, 0, -1):
        state -= int(choices[t, state])
        path.append(state)
    return path[::-1]
