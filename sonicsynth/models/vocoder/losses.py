"""GAN losses of HiFi-GAN: least-squares adversarial terms and L1 feature matching.

Each discriminator's term is a mean; terms are summed over discriminators. The weights (mel L1 x45,
feature matching x2) live in the LightningModule's config, not here.
"""

from __future__ import annotations

import torch


def discriminator_loss(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN: push real logits to 1 and generated ones to 0."""
    loss = real_logits[0].new_zeros(())
    for real, fake in zip(real_logits, fake_logits):
        loss = loss + torch.mean((1 - real) ** 2) + torch.mean(fake**2)
    return loss


def generator_adversarial_loss(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN: push the discriminators' logits on generated audio to 1."""
    loss = fake_logits[0].new_zeros(())
    for fake in fake_logits:
        loss = loss + torch.mean((1 - fake) ** 2)
    return loss


def feature_matching_loss(real_fmaps: list[list[torch.Tensor]], fake_fmaps: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 distance between the discriminators' feature maps on real and generated audio."""
    loss = real_fmaps[0][0].new_zeros(())
    for real_layers, fake_layers in zip(real_fmaps, fake_fmaps):
        for real, fake in zip(real_layers, fake_layers):
            loss = loss + torch.mean(torch.abs(real.detach() - fake))
    return loss
