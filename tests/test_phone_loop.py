"""The phone-loop HMM of the aligner: the full-sum loss and Viterbi path against brute-force
enumeration of every path, batching, impossible items, and the training schedule per phase."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sonicsynth.models.aligner.phone_loop import (
    BLANK_CLASS,
    PAUSE_CLASS,
    batch_states,
    full_sum_loss,
    phone_loop_states,
    split_words,
    viterbi_states,
)
from sonicsynth.nn.schedules import phase_one_cycle

NUM_CLASSES = 9


def enumerate_paths(classes: list[int], optional: list[bool], frames: int):
    """Every legal state sequence: stay, advance, or skip an optional pause; start and end as the topology allows."""
    last = len(classes) - 1
    for path in itertools.product(range(len(classes)), repeat=frames):
        if path[0] not in (0, 1) or path[-1] not in (last, last - 1) or (path[-1] == last - 1 and not optional[last]):
            continue
        if path[0] == 1 and not optional[0]:
            continue
        if all(b == a or b == a + 1 or (b == a + 2 and optional[a + 1]) for a, b in zip(path, path[1:])):
            yield path


def not_blank(log_probs: torch.Tensor) -> torch.Tensor:
    keep = [c for c in range(log_probs.shape[-1]) if c != BLANK_CLASS]
    return log_probs - torch.logsumexp(log_probs[..., keep], dim=-1, keepdim=True)


def test_states_put_an_optional_pause_around_every_word():
    classes, optional = phone_loop_states([[3, 4], [5]])
    assert classes == [PAUSE_CLASS, 3, 4, PAUSE_CLASS, 5, PAUSE_CLASS]
    assert optional == [True, False, False, True, False, True]
    with pytest.raises(ValueError, match="without phones"):
        phone_loop_states([[3], []])
    with pytest.raises(ValueError, match="add up to 2"):
        split_words([3, 4, 5], [1, 1])


def test_full_sum_and_viterbi_match_brute_force():
    torch.manual_seed(0)
    words, frames = [[3, 4], [5]], 6
    classes, optional = phone_loop_states(words)
    log_probs = torch.randn(frames, NUM_CLASSES).log_softmax(-1)
    emissions = not_blank(log_probs)
    scores = {path: sum(float(emissions[t, classes[s]]) for t, s in enumerate(path))
              for path in enumerate_paths(classes, optional, frames)}
    states = batch_states(torch.tensor([[3, 4, 5]]), torch.tensor([3]), torch.tensor([[2, 1]]), torch.tensor([2]))
    loss = full_sum_loss(log_probs.unsqueeze(0), torch.tensor([frames]), states)
    assert float(loss) == pytest.approx(-math.log(sum(math.exp(s) for s in scores.values())) / frames, rel=1e-5)
    assert tuple(viterbi_states(log_probs, classes, optional)) == max(scores, key=scores.get)


def test_batched_loss_is_the_mean_of_single_items_and_ignores_padding():
    torch.manual_seed(1)
    first = torch.randn(1, 6, NUM_CLASSES).log_softmax(-1)
    second = torch.randn(1, 9, NUM_CLASSES).log_softmax(-1)
    padded = torch.cat([torch.cat([first, torch.randn(1, 3, NUM_CLASSES)], dim=1), second])
    phones, phone_lengths = torch.tensor([[3, 4, 5], [6, 0, 0]]), torch.tensor([3, 1])
    counts, word_counts = torch.tensor([[2, 1], [1, 0]]), torch.tensor([2, 1])
    batched = full_sum_loss(padded, torch.tensor([6, 9]), batch_states(phones, phone_lengths, counts, word_counts))
    singles = [
        full_sum_loss(first, torch.tensor([6]), batch_states(phones[:1], phone_lengths[:1], counts[:1], word_counts[:1])),
        full_sum_loss(second, torch.tensor([9]), batch_states(phones[1:, :1], phone_lengths[1:], counts[1:, :1], word_counts[1:])),
    ]
    assert float(batched) == pytest.approx(float(sum(singles)) / 2, rel=1e-5)


def test_an_item_with_more_phones_than_frames_adds_nothing():
    log_probs = torch.randn(2, 4, NUM_CLASSES, requires_grad=True)
    states = batch_states(torch.tensor([[3, 4, 5, 6, 7, 8], [3, 0, 0, 0, 0, 0]]), torch.tensor([6, 1]),
                          torch.tensor([[6], [1]]), torch.tensor([1, 1]))
    loss = full_sum_loss(log_probs.log_softmax(-1), torch.tensor([4, 4]), states)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(log_probs.grad).all()
    with pytest.raises(ValueError, match="cannot fit"):
        viterbi_states(torch.randn(3, NUM_CLASSES), *phone_loop_states([[3, 4, 5, 6]]))


def test_each_phase_warms_up_from_its_own_peak_and_anneals():
    factor = phase_one_cycle([(1.0, 100), (0.25, 50)])
    ctc = [factor(step) for step in range(100)]
    loop = [factor(step) for step in range(100, 150)]
    assert max(ctc) == pytest.approx(1.0) and ctc[0] == pytest.approx(0.04)
    assert max(loop) == pytest.approx(0.25) and loop[0] == pytest.approx(0.01) and ctc[-1] < 0.01
    assert factor(150) == 0.0
