"""The optional preference (DPO) term of the semantic GPT.

The published s1 recipe adds to the cross-entropy a reference-free DPO loss that prefers each true
token sequence over a corrupted copy of it: the failure modes of autoregressive speech tokens are
repeated and skipped stretches (a stuttered or dropped word), so the corrupted copy repeats or drops
a random span. The loss is -log sigmoid(beta * (log p(true) - log p(corrupted))), averaged over the
batch, with the log-probabilities summed over each sequence's next-token targets.

Two differences from the published code, both deliberate: spans are drawn inside each item's own
length (it drew them over the padded width) and both corruptions are used (its choice between them
always picked repetition). Spans are never empty, so no pair is a copy of itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def make_rejected_tokens(
    tokens: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupted copies (batch, new_max) right-padded with 0, and their lengths.

    For each item a span [a, b) with a < b is drawn inside its length; with probability 1/2 the span
    is repeated (tokens[:b] + tokens[a:b] + tokens[b:]), otherwise dropped (tokens[:a] + tokens[b:]);
    an item of one token can only be repeated. Random numbers come from `generator` (CPU), so a
    seeded generator gives the same corruptions.
    """
    rows = []
    for row, length in zip(tokens, lengths.tolist()):
        sequence = row[:length]
        start = int(torch.randint(0, length, (1,), generator=generator))
        end = int(torch.randint(start + 1, length + 1, (1,), generator=generator))
        repeat = length == 1 or end - start == length or bool(torch.rand(1, generator=generator) < 0.5)
        if repeat:
            rows.append(torch.cat([sequence[:end], sequence[start:end], sequence[end:]]))
        else:
            rows.append(torch.cat([sequence[:start], sequence[end:]]))
    new_lengths = torch.tensor([len(row) for row in rows], device=tokens.device)
    padded = tokens.new_zeros(len(rows), int(new_lengths.max()))
    for index, row in enumerate(rows):
        padded[index, : len(row)] = row
    return padded, new_lengths


def sequence_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(batch,) summed log-probability of each row's targets; IGNORE_INDEX positions add nothing."""
    valid = targets != IGNORE_INDEX
    log_probs = F.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * valid).sum(dim=-1)


def dpo_loss(chosen_log_probs: torch.Tensor, rejected_log_probs: torch.Tensor, beta: float) -> torch.Tensor:
    """Reference-free DPO: mean of -log sigmoid(beta * (chosen - rejected))."""
    return -F.logsigmoid(beta * (chosen_log_probs - rejected_log_probs)).mean()
