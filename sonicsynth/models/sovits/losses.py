"""The VITS-family term of the SoVITS loss that the vocoder's losses do not cover: the KL divergence
between the posterior and the prior. (Mel L1, LSGAN and feature matching are the vocoder's:
`sonicsynth.models.vocoder.losses`.)"""

from __future__ import annotations

import torch


def kl_divergence(
    z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """KL(q || p) estimated at the posterior sample (VITS, eq. 4): summed over channels, averaged
    over the valid frames of the batch (the normalisation VITS and GPT-SoVITS use, which the KL
    weight of 1 refers to).

    z_p: the posterior sample mapped by the flow into the prior's space; logs_q: the posterior's
    log-std (the flow is volume preserving, so its log-determinant is 0); m_p, logs_p: the prior's
    mean and log-std; all (batch, channels, frames); mask (batch, 1, frames). Computed in float32
    whatever the inputs' precision: exp(-2 logs_p) overflows half precision.
    """
    z_p, logs_q, m_p, logs_p, mask = (t.float() for t in (z_p, logs_q, m_p, logs_p, mask))
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * mask) / torch.sum(mask).clamp(min=1.0)
