"""Diagonal-covariance Gaussian mixtures, one per HMM state: the emission model of the HMM aligner.

As in the monophone stage of Kaldi and the Montreal Forced Aligner, each state (a phone's beginning,
middle or end, or the pause) scores a feature frame with a mixture of diagonal Gaussians. Training is
Viterbi EM: frames are assigned to states by the current alignment, `statistics` gathers each
component's zeroth, first and second moments (weighted by its posterior within the frame's state),
and `update` re-estimates weights, means and variances from them. `split` doubles the components of
the states with enough data ("mixing up"), perturbing each mean by +-0.2 standard deviations.

Mixtures hold a fixed number of component slots; a slot a state does not use has weight 0 (log
weight -inf), so states can have different numbers of components in one set of tensors. Everything is
float64: the second moments of 39-dimensional features over hours of frames lose precision in float32.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

SPLIT_OFFSET = 0.2  # in standard deviations, as Kaldi's gmm-mixup


class MixtureStatistics(NamedTuple):
    """Per state and component: posterior-weighted frame count, sum of frames, sum of squared frames."""

    counts: torch.Tensor  # (states, components)
    first: torch.Tensor  # (states, components, dim)
    second: torch.Tensor  # (states, components, dim)

    def __add__(self, other: MixtureStatistics) -> MixtureStatistics:  # type: ignore[override]
        return MixtureStatistics(self.counts + other.counts, self.first + other.first, self.second + other.second)


class StateGaussianMixtures(nn.Module):
    def __init__(self, num_states: int, dim: int, components: int = 1) -> None:
        super().__init__()
        self.num_states, self.dim = num_states, dim
        self.register_buffer("means", torch.zeros(num_states, components, dim, dtype=torch.float64))
        self.register_buffer("variances", torch.ones(num_states, components, dim, dtype=torch.float64))
        log_weights = torch.full((num_states, components), -math.inf, dtype=torch.float64)
        log_weights[:, 0] = 0.0
        self.register_buffer("log_weights", log_weights)
        # Each component's count at the last update: where mixing up has the data to split.
        self.register_buffer("occupancy", torch.zeros(num_states, components, dtype=torch.float64))

    @property
    def components(self) -> int:
        return self.means.shape[1]

    def resize(self, components: int) -> None:
        """Empty slots of the given count (before loading a state dict saved after mixing up)."""
        device = self.means.device
        self.means = torch.zeros(self.num_states, components, self.dim, dtype=torch.float64, device=device)
        self.variances = torch.ones_like(self.means)
        self.log_weights = torch.full((self.num_states, components), -math.inf, dtype=torch.float64, device=device)
        self.occupancy = torch.zeros(self.num_states, components, dtype=torch.float64, device=device)

    def component_log_likelihoods(self, frames: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """log(weight * N(frame; mean, var)) of every component of the given states: frames (n, dim),
        states (k,) -> (n, k, components)."""
        means, inverse = self.means[states], 1.0 / self.variances[states]  # (k, c, d)
        constant = -0.5 * (torch.log(2 * math.pi * self.variances[states]).sum(-1) + (means**2 * inverse).sum(-1))
        x = frames.to(torch.float64)
        quadratic = (x**2) @ inverse.reshape(-1, self.dim).T * -0.5 + x @ (means * inverse).reshape(-1, self.dim).T
        return quadratic.reshape(len(x), len(states), -1) + constant + self.log_weights[states]

    def forward(self, frames: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each frame under each of the given states: (n, dim), (k,) -> (n, k)."""
        return torch.logsumexp(self.component_log_likelihoods(frames, states), dim=-1)

    def statistics(self, frames: torch.Tensor, states: torch.Tensor) -> MixtureStatistics:
        """Moments of frames (n, dim) assigned to states (n,), split among each state's components."""
        used, index = torch.unique(states, return_inverse=True)
        scores = self.component_log_likelihoods(frames, used)  # (n, k, c)
        posteriors = scores[torch.arange(len(frames)), index].softmax(dim=-1)  # (n, c)
        x = frames.to(torch.float64)
        counts = torch.zeros(self.num_states, self.components, dtype=torch.float64, device=x.device)
        first = torch.zeros(self.num_states, self.components, self.dim, dtype=torch.float64, device=x.device)
        second = torch.zeros_like(first)
        counts.index_add_(0, states, posteriors)
        first.index_add_(0, states, posteriors.unsqueeze(-1) * x.unsqueeze(1))
        second.index_add_(0, states, posteriors.unsqueeze(-1) * (x**2).unsqueeze(1))
        return MixtureStatistics(counts, first, second)

    def update(self, stats: MixtureStatistics, variance_floor: torch.Tensor, min_count: float) -> None:
        """Maximum-likelihood weights, means and variances (floored). A component with fewer than
        `min_count` frames keeps its mean and variance; a state without frames keeps everything."""
        counts = stats.counts
        enough = (counts >= min_count).unsqueeze(-1)
        safe = counts.clamp_min(1e-10).unsqueeze(-1)
        means = stats.first / safe
        variances = torch.maximum(stats.second / safe - means**2, variance_floor)
        self.means = torch.where(enough, means, self.means)
        self.variances = torch.where(enough, variances, self.variances)
        totals = counts.sum(dim=1, keepdim=True)
        has_data = totals > 0
        weights = torch.where(counts >= min_count, counts, torch.zeros_like(counts))
        weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-10)
        log_weights = torch.where(weights > 0, weights.log(), torch.full_like(weights, -math.inf))
        # A state whose every component is under min_count keeps its old weights rather than none.
        usable = has_data & (weights > 0).any(dim=1, keepdim=True)
        self.log_weights = torch.where(usable, log_weights, self.log_weights)
        self.occupancy = counts.clone()

    def split(self, min_count: float) -> None:
        """Double the component slots; each used component with at least 2 * min_count frames at the
        last update becomes two, with means moved apart by +-0.2 standard deviations and half the weight."""
        old = self.components
        splits = (self.occupancy >= 2 * min_count) & torch.isfinite(self.log_weights)  # (s, c)
        offset = SPLIT_OFFSET * self.variances.sqrt() * splits.unsqueeze(-1)
        half = torch.where(splits, self.log_weights - math.log(2), self.log_weights)
        self.means = torch.cat([self.means + offset, self.means - offset], dim=1)
        self.variances = torch.cat([self.variances, self.variances], dim=1)
        new_slots = torch.where(splits, half, torch.full_like(half, -math.inf))
        self.log_weights = torch.cat([half, new_slots], dim=1)
        self.occupancy = torch.cat([self.occupancy, torch.zeros_like(self.occupancy)], dim=1)
        assert self.components == 2 * old
