"""Residual vector quantiser of the content features (the source of the semantic tokens).

Codebooks are learned without gradients (van den Oord et al., 2017, appendix; as in SoundStream and
EnCodec): each is initialised by k-means on the first training batch, then follows an exponential
moving average of the vectors assigned to each code. Codes that fall out of use can be re-seeded
with vectors of the current batch. The encoder gets a straight-through gradient and a commitment
loss that keeps its output close to the chosen codes.

Token layout everywhere in this package: (batch, codebooks, frames), int64.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass
class QuantizerOutput:
    quantized: torch.Tensor  # (batch, dim, frames); straight-through in training
    codes: torch.Tensor  # (batch, codebooks, frames)
    commitment_loss: torch.Tensor  # scalar; 0 outside training


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _sample_rows(samples: torch.Tensor, count: int) -> torch.Tensor:
    """`count` rows of `samples`, without repeats while there are enough of them."""
    if samples.shape[0] >= count:
        index = torch.randperm(samples.shape[0], device=samples.device)[:count]
    else:
        index = torch.randint(0, samples.shape[0], (count,), device=samples.device)
    return samples[index]


def kmeans(
    samples: torch.Tensor, num_clusters: int, num_iters: int = 50, max_samples: int = 10_000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on (n, dim) samples -> (centroids (num_clusters, dim), cluster sizes).

    Centroids start at random samples; a cluster that loses all its members keeps its centroid.
    At most `max_samples` random samples are used, which bounds the cost on large batches.
    """
    if samples.shape[0] > max_samples:
        samples = samples[torch.randperm(samples.shape[0], device=samples.device)[:max_samples]]
    centroids = _sample_rows(samples, num_clusters)
    sizes = torch.zeros(num_clusters, device=samples.device, dtype=torch.long)
    for _ in range(num_iters):
        assignment = torch.cdist(samples, centroids).argmin(dim=1)
        sizes = torch.bincount(assignment, minlength=num_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, samples)
        means = sums / sizes.clamp(min=1).unsqueeze(1).to(samples.dtype)
        centroids = torch.where((sizes > 0).unsqueeze(1), means, centroids)
    return centroids, sizes


class EuclideanCodebook(nn.Module):
    """One codebook: nearest-code search and the EMA / k-means / dead-code updates.

    Buffers (names and shapes of the published weights): `inited` (1,) 1.0 once initialised,
    `cluster_size` (codebook_size,) EMA of the assignment counts, `embed` (codebook_size, dim) the
    codes, `embed_avg` (codebook_size, dim) EMA of the sums of the vectors assigned to each code.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_init: bool = True,
        kmeans_iters: int = 50,
        dead_code_threshold: float = 2.0,
    ) -> None:
        super().__init__()
        self.dim, self.codebook_size = dim, codebook_size
        self.decay, self.epsilon = decay, epsilon
        self.kmeans_iters = kmeans_iters
        self.dead_code_threshold = dead_code_threshold
        embed = torch.zeros(codebook_size, dim)
        if not kmeans_init:
            nn.init.kaiming_uniform_(embed)
        self.register_buffer("inited", torch.tensor([0.0 if kmeans_init else 1.0]))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", embed)
        self.register_buffer("embed_avg", embed.clone())

    @property
    def is_initialised(self) -> bool:
        return bool(self.inited.item())

    @torch.no_grad()
    def nearest(self, samples: torch.Tensor) -> torch.Tensor:
        """(n, dim) -> (n,) index of the closest code (Euclidean)."""
        embed = self.embed.to(samples.dtype)
        # |x - e|^2 without the |x|^2 term, which is the same for every code.
        distance = embed.pow(2).sum(1) - 2 * samples @ embed.t()
        return distance.argmin(dim=1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Any shape of code indices -> the same shape + (dim,)."""
        return F.embedding(codes, self.embed)

    @torch.no_grad()
    def initialise_(self, samples: torch.Tensor) -> None:
        """k-means on the samples; once (the `inited` buffer records it, also across checkpoints)."""
        if self.is_initialised:
            return
        centroids, sizes = kmeans(samples.float(), self.codebook_size, self.kmeans_iters)
        self.embed.copy_(centroids)
        self.embed_avg.copy_(centroids)
        self.cluster_size.copy_(sizes)
        self.inited.fill_(1.0)
        if _distributed():
            # Every process clustered its own batch; all of them continue from the first one's codebook.
            for buffer in (self.embed, self.embed_avg, self.cluster_size, self.inited):
                dist.broadcast(buffer, src=0)

    @torch.no_grad()
    def update_(self, samples: torch.Tensor, codes: torch.Tensor) -> None:
        """One EMA step towards the batch's assignments, then re-seed the codes that fell out of use."""
        samples = samples.float()
        counts = torch.bincount(codes, minlength=self.codebook_size).to(samples.dtype)
        sums = torch.zeros_like(self.embed).index_add_(0, codes, samples)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        # Laplace smoothing keeps codes with a near-zero count from dividing by zero.
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed.unsqueeze(1))
        self._reseed_dead_codes_(samples)

    def _reseed_dead_codes_(self, samples: torch.Tensor) -> None:
        # As in the published model, only `embed` is replaced: a re-seeded code can win vectors in the
        # next batch, and its running averages then move it there.
        if self.dead_code_threshold <= 0:
            return
        dead = self.cluster_size < self.dead_code_threshold
        if not bool(dead.any()):
            return
        self.embed[dead] = _sample_rows(samples, int(dead.sum())).to(self.embed.dtype)
        if _distributed():
            dist.broadcast(self.embed, src=0)


class VectorQuantizer(nn.Module):
    """One quantiser stage over (batch, dim, frames)."""

    def __init__(self, dim: int, codebook_size: int, commitment_weight: float = 1.0, **codebook_kwargs) -> None:
        super().__init__()
        self.commitment_weight = commitment_weight
        self._codebook = EuclideanCodebook(dim, codebook_size, **codebook_kwargs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, dim, frames) -> (batch, frames) codes."""
        batch, dim, frames = x.shape
        return self._codebook.nearest(x.transpose(1, 2).reshape(-1, dim)).view(batch, frames)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(batch, frames) codes -> (batch, dim, frames)."""
        return self._codebook.lookup(codes).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns quantized (batch, dim, frames), codes (batch, frames), commitment loss (scalar).

        In training mode the codebook is initialised (first call) and updated; in eval mode it is
        only read, the output is the codes' vectors and the loss is 0.
        """
        batch, dim, frames = x.shape
        samples = x.transpose(1, 2).reshape(-1, dim)
        if self.training:
            self._codebook.initialise_(samples.detach())
        codes = self._codebook.nearest(samples)
        quantized = self._codebook.lookup(codes).to(x.dtype).view(batch, frames, dim).transpose(1, 2)
        if not self.training:
            return quantized, codes.view(batch, frames), x.new_zeros(())
        self._codebook.update_(samples.detach(), codes)
        loss = F.mse_loss(x, quantized.detach()) * self.commitment_weight
        # Straight-through: the forward value is the code, the gradient flows to x unchanged.
        quantized = x + (quantized - x).detach()
        return quantized, codes.view(batch, frames), loss


class ResidualVectorQuantizer(nn.Module):
    """Stages quantise what the previous ones left over; the output is the sum of their codes' vectors.

    Published SoVITS v2: one stage of 1024 codes over the 768-d projected content features.
    """

    def __init__(
        self,
        dim: int = 768,
        codebook_size: int = 1024,
        num_quantizers: int = 1,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_init: bool = True,
        kmeans_iters: int = 50,
        dead_code_threshold: float = 2.0,
        commitment_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.dim, self.codebook_size, self.num_quantizers = dim, codebook_size, num_quantizers
        stages = [
            VectorQuantizer(
                dim,
                codebook_size,
                commitment_weight,
                decay=decay,
                epsilon=epsilon,
                kmeans_init=kmeans_init,
                kmeans_iters=kmeans_iters,
                dead_code_threshold=dead_code_threshold,
            )
            for _ in range(num_quantizers)
        ]
        # `vq.layers.<i>._codebook.*`: the buffer names of the published weights.
        self.vq = nn.ModuleDict({"layers": nn.ModuleList(stages)})

    @property
    def stages(self) -> nn.ModuleList:
        return self.vq["layers"]

    @property
    def is_initialised(self) -> bool:
        """Whether every codebook has been initialised (by k-means, or loaded from trained weights)."""
        return all(stage._codebook.is_initialised for stage in self.stages)

    def forward(self, x: torch.Tensor) -> QuantizerOutput:
        """x: (batch, dim, frames)."""
        residual, quantized, codes, losses = x, torch.zeros_like(x), [], []
        for stage in self.stages:
            stage_quantized, stage_codes, loss = stage(residual)
            residual = residual - stage_quantized
            quantized = quantized + stage_quantized
            codes.append(stage_codes)
            losses.append(loss)
        return QuantizerOutput(quantized, torch.stack(codes, dim=1), torch.stack(losses).mean())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, dim, frames) -> codes (batch, codebooks, frames); never updates the codebooks."""
        residual, codes = x, []
        for stage in self.stages:
            stage_codes = stage.encode(residual)
            residual = residual - stage.decode(stage_codes).to(residual.dtype)
            codes.append(stage_codes)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, codebooks <= num_quantizers, frames) -> (batch, dim, frames)."""
        if codes.dim() != 3 or codes.shape[1] > self.num_quantizers:
            raise ValueError(
                f"codes must be (batch, codebooks <= {self.num_quantizers}, frames), got {tuple(codes.shape)}"
            )
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(
                f"codes must lie in [0, {self.codebook_size}), got [{int(codes.min())}, {int(codes.max())}]"
            )
        return sum(stage.decode(codes[:, i]) for i, stage in enumerate(self.stages[: codes.shape[1]]))
