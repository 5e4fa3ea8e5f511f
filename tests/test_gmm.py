"""The HMM aligner's pieces: Gaussian mixtures (likelihood, EM update, mixing up), the expanded
phone-loop topology, batched Viterbi, and the tying of stressed/toned phones."""

from __future__ import annotations

import math

import pytest
import torch

from sonicsynth.models.aligner.gmm import StateGaussianMixtures
from sonicsynth.models.aligner.hmm_module import acoustic_units
from sonicsynth.models.aligner.phone_loop import (
    PAUSE_CLASS,
    batch_states,
    expand_phone_states,
    phone_loop_states,
    viterbi_paths,
    viterbi_states,
)


def test_one_component_scores_as_a_diagonal_normal():
    torch.manual_seed(0)
    mixtures = StateGaussianMixtures(num_states=3, dim=4)
    mixtures.means[1, 0] = torch.randn(4, dtype=torch.float64)
    mixtures.variances[1, 0] = torch.rand(4, dtype=torch.float64) + 0.5
    frames = torch.randn(5, 4)
    expected = torch.distributions.Normal(mixtures.means[1, 0], mixtures.variances[1, 0].sqrt()).log_prob(
        frames.double()).sum(-1)
    assert torch.allclose(mixtures(frames, torch.tensor([1]))[:, 0], expected)


def test_em_with_mixing_up_recovers_two_clusters_and_leaves_unseen_states_alone():
    torch.manual_seed(0)
    mixtures = StateGaussianMixtures(num_states=3, dim=2)
    frames = torch.cat([torch.randn(400, 2) * 0.3 + torch.tensor([-3.0, 0.0]),
                        torch.randn(400, 2) * 0.3 + torch.tensor([3.0, 1.0])])
    states = torch.full((800,), 1)
    floor = torch.full((2,), 1e-3, dtype=torch.float64)
    mixtures.update(mixtures.statistics(frames, states), floor, min_count=5)
    assert torch.allclose(mixtures.means[1, 0], frames.double().mean(0))
    for _ in range(2):  # 1 -> 2 -> 4 components
        mixtures.split(min_count=5)
        for _ in range(10):
            mixtures.update(mixtures.statistics(frames, states), floor, min_count=5)
    assert mixtures.components == 4
    used = torch.isfinite(mixtures.log_weights[1])
    assert math.isclose(float(mixtures.log_weights[1][used].exp().sum()), 1.0, rel_tol=1e-9)
    heavy = mixtures.log_weights[1].exp() > 0.1
    found = mixtures.means[1][heavy]
    for centre in ([-3.0, 0.0], [3.0, 1.0]):  # every heavy component sits on a true cluster
        distances = (found - torch.tensor(centre, dtype=torch.float64)).norm(dim=-1)
        assert float(distances.min()) < 0.2
    # No frames: state 2 keeps its initial single standard normal, never split (no occupancy).
    assert torch.isfinite(mixtures.log_weights[2]).sum() == 1 and float(mixtures.means[2].abs().sum()) == 0.0


def test_update_floors_the_variance():
    mixtures = StateGaussianMixtures(num_states=1, dim=2)
    frames = torch.tensor([[1.0, 2.0]]).repeat(50, 1)  # zero variance
    floor = torch.tensor([0.1, 0.2], dtype=torch.float64)
    mixtures.update(mixtures.statistics(frames, torch.zeros(50, dtype=torch.long)), floor, min_count=5)
    assert torch.equal(mixtures.variances[0, 0], floor)


def test_phones_expand_to_left_to_right_substates_and_pauses_stay_single():
    classes, optional = phone_loop_states([[10, 11], [12]])
    expanded, substates, skippable = expand_phone_states(classes, optional, 3)
    assert expanded == [PAUSE_CLASS, 10, 10, 10, 11, 11, 11, PAUSE_CLASS, 12, 12, 12, PAUSE_CLASS]
    assert substates == [0, 0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 0]
    assert skippable == [True] + [False] * 6 + [True] + [False] * 3 + [True]
    batch = batch_states(torch.tensor([[10, 11, 12]]), torch.tensor([3]), torch.tensor([[2, 1]]), torch.tensor([2]), 3)
    assert batch.classes[0].tolist() == expanded and batch.substates[0].tolist() == substates


def test_batched_viterbi_matches_single_items_and_survives_very_low_scores():
    torch.manual_seed(0)
    num_classes = 14
    words = [[[10, 11], [12]], [[13]]]
    frame_counts = [400, 250]
    log_probs = [torch.randn(n, num_classes).log_softmax(-1) for n in frame_counts]
    singles = [viterbi_states(lp, *phone_loop_states(w)) for lp, w in zip(log_probs, words)]
    # The same emissions per state, batched and padded; then shifted by -500 per frame (HMM-like
    # log-likelihoods), which must not change any path.
    tops = [phone_loop_states(w) for w in words]
    longest = max(len(c) for c, _ in tops)
    emissions = torch.full((2, max(frame_counts), longest), -1.0)
    optional = torch.zeros((2, longest), dtype=torch.bool)
    for i, ((classes, skippable), lp) in enumerate(zip(tops, log_probs)):
        not_blank = lp - torch.logsumexp(lp[:, 1:], dim=-1, keepdim=True)
        emissions[i, : len(lp), : len(classes)] = not_blank[:, classes]
        optional[i, : len(skippable)] = torch.tensor(skippable)
    frames, lengths = torch.tensor(frame_counts), torch.tensor([len(c) for c, _ in tops])
    assert viterbi_paths(emissions, optional, frames, lengths) == singles
    assert viterbi_paths(emissions.double() - 500.0, optional, frames, lengths) == singles
    with pytest.raises(ValueError, match="cannot fit"):
        viterbi_paths(emissions[:, :2], optional, torch.tensor([2, 2]), lengths)


def test_stress_and_tone_variants_share_units():
    symbols = ["_", ",", ".", "AH0", "AH1", "B", "ma1", "ma3", "ˈa", "a"]
    units = acoustic_units(symbols)
    assert units[1] == 0  # the pause
    assert units[3] == units[4] != units[5]
    assert units[6] == units[7] and units[8] == units[9]
