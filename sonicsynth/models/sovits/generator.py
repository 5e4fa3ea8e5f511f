"""The SoVITS generator (GPT-SoVITS v2 "s2"): semantic tokens + phones + a reference voice -> speech.

A VITS whose prior reads semantic tokens instead of durations:

    content features (50 Hz) --ssl_proj--> 25 Hz --quantizer--> semantic tokens / their vectors
    token vectors, upsampled to the spectrogram frame rate, + phones + timbre --enc_p--> prior (m_p, logs_p)
    target linear spectrogram --enc_q--> posterior z;   z --flow--> z_p, trained to match the prior
    a random slice of z + timbre --dec--> waveform
    reference spectrogram --ref_enc--> timbre vector ge, which conditions everything above

Inference samples the prior, runs the flow in reverse and decodes (`decode`). The components are
injected (each a config with `_target_` in Hydra), so a config swaps one without code changes. Their
attribute names (`enc_p`, `dec`, ...) are those of the published checkpoints, which therefore load
without renaming.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.models.sovits.flow import ResidualCouplingFlow
from sonicsynth.models.sovits.posterior_encoder import PosteriorEncoder
from sonicsynth.models.sovits.prior_encoder import PriorEncoder
from sonicsynth.models.sovits.quantizer import ResidualVectorQuantizer
from sonicsynth.models.sovits.sequence import random_segment_starts, slice_segments
from sonicsynth.models.sovits.timbre_encoder import TimbreEncoder
from sonicsynth.models.vocoder.generator import HiFiGANGenerator
from sonicsynth.models.vocoder.vocos import VocosGenerator


@dataclass
class SoVITSTrainingOutput:
    """What one training forward pass gives the losses. Frames are spectrogram frames."""

    audio: torch.Tensor  # (batch, 1, segment_frames * hop_length), decoded from a slice of z
    ids_slice: torch.Tensor  # (batch,) first frame of each slice; the audio starts at ids_slice * hop_length
    spec_mask: torch.Tensor  # (batch, 1, frames)
    z: torch.Tensor  # (batch, inter, frames) posterior sample
    z_p: torch.Tensor  # flow(z), in the prior's space
    m_p: torch.Tensor  # prior mean
    logs_p: torch.Tensor  # prior log-std
    m_q: torch.Tensor  # posterior mean
    logs_q: torch.Tensor  # posterior log-std
    commitment_loss: torch.Tensor  # scalar, 0 with a frozen quantizer
    quantized: torch.Tensor  # (batch, content, frames) token vectors at the spectrogram frame rate
    codes: torch.Tensor  # (batch, codebooks, tokens) semantic tokens of the content features
    ge: torch.Tensor  # (batch, gin, 1) timbre vector


class SoVITSGenerator(nn.Module):
    """Composes the SoVITS components; see the module docstring for the data flow.

    content_projection: conv from content features to the quantizer's input; its stride is the ratio
        of the content frame rate to the token rate (2 for v2's 25 Hz tokens from 50 Hz features),
        and token vectors are upsampled by the same factor back to the spectrogram frame rate, so the
        content features must come at the spectrogram frame rate (v2: 50 Hz = 32 kHz / hop 640).
    decoder: the published model's HiFi-GAN generator, or a Vocos generator (an inverse-STFT head at
        the frame rate: far cheaper per second of audio; the CPU demo's choice).
    segment_frames: length of the slice of z decoded in training (v2: 20480 samples / hop 640 = 32).
    freeze_quantizer: content projection and quantizer run without gradients and without codebook
        updates, as when fine-tuning the published model (whose tokens the GPT stage was trained on).
        The training module should also leave their parameters out of its optimiser.
    """

    def __init__(
        self,
        content_projection: nn.Conv1d,
        quantizer: ResidualVectorQuantizer,
        prior_encoder: PriorEncoder,
        timbre_encoder: TimbreEncoder,
        posterior_encoder: PosteriorEncoder,
        flow: ResidualCouplingFlow,
        decoder: HiFiGANGenerator | VocosGenerator,
        segment_frames: int = 32,
        freeze_quantizer: bool = False,
    ) -> None:
        super().__init__()
        if content_projection.out_channels != quantizer.dim:
            raise ValueError(
                f"content_projection gives {content_projection.out_channels} channels, "
                f"the quantizer takes {quantizer.dim}"
            )
        if prior_encoder.content_channels != quantizer.dim:
            raise ValueError(
                f"the prior encoder reads {prior_encoder.content_channels}-d token vectors, "
                f"the quantizer has {quantizer.dim}"
            )
        if prior_encoder.fusion_channels != timbre_encoder.out_channels:
            raise ValueError(
                f"the timbre vector ({timbre_encoder.out_channels} channels) is added inside the prior's MRTE, "
                f"which is {prior_encoder.fusion_channels} wide: the two must match"
            )
        if timbre_encoder.in_channels > posterior_encoder.in_channels:
            raise ValueError(
                f"the timbre encoder reads {timbre_encoder.in_channels} bins, the spectrogram has "
                f"{posterior_encoder.in_channels}"
            )
        # Registered in the published state dict's order, so a written checkpoint lists keys as it does.
        self.enc_p = prior_encoder
        self.dec = decoder
        self.enc_q = posterior_encoder
        self.flow = flow
        self.ref_enc = timbre_encoder
        self.ssl_proj = content_projection
        self.quantizer = quantizer
        self.segment_frames = segment_frames
        self.freeze_quantizer = freeze_quantizer

    # ------------------------------------------------------------------------------ sizes
    @property
    def hop_length(self) -> int:
        """Waveform samples per spectrogram frame."""
        return self.dec.hop_length

    @property
    def token_upsample(self) -> int:
        """Spectrogram frames per semantic token."""
        return self.ssl_proj.stride[0]

    @property
    def spec_channels(self) -> int:
        return self.enc_q.in_channels

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    # ------------------------------------------------------------------------------ building blocks
    def timbre(self, reference_spec: torch.Tensor, reference_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, bins, frames) linear spectrogram of the reference voice -> ge (batch, gin, 1)."""
        return self.ref_enc(reference_spec, reference_lengths)

    @torch.no_grad()
    def extract_tokens(self, ssl_features: torch.Tensor) -> torch.Tensor:
        """Content features (batch, content, frames) -> semantic tokens (batch, codebooks, frames / stride).

        Reads the codebook only (no updates, whatever the mode). int64 in [0, codebook_size).
        """
        with torch.autocast(ssl_features.device.type, enabled=False):
            return self.quantizer.encode(self.ssl_proj(ssl_features.float()))

    def tokens_to_features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Semantic tokens (batch, codebooks, tokens) -> vectors at the spectrogram frame rate."""
        return self._upsample(self.quantizer.decode(tokens))

    def _upsample(self, quantized: torch.Tensor) -> torch.Tensor:
        return F.interpolate(quantized, scale_factor=self.token_upsample, mode="nearest")

    def _quantize(self, ssl_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> token vectors (batch, content, tokens), tokens (batch, codebooks, tokens), commitment loss."""
        # float32 whatever the autocast: codebook distances and EMA statistics need the precision.
        with torch.autocast(ssl_features.device.type, enabled=False):
            if not self.freeze_quantizer:
                out = self.quantizer(self.ssl_proj(ssl_features.float()))
                return out.quantized, out.codes, out.commitment_loss
            with torch.no_grad():
                content = self.ssl_proj(ssl_features.float())
                codes = self.quantizer.encode(content)
                return self.quantizer.decode(codes), codes, content.new_zeros(())

    # ------------------------------------------------------------------------------ training
    def forward(
        self,
        ssl_features: torch.Tensor,
        spec: torch.Tensor,
        spec_lengths: torch.Tensor,
        phone_ids: torch.Tensor,
        phone_lengths: torch.Tensor,
        reference_spec: torch.Tensor | None = None,
        reference_lengths: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> SoVITSTrainingOutput:
        """One training pass.

        ssl_features: (batch, content, frames) at the spectrogram frame rate; spec: (batch, bins,
        frames) linear magnitude spectrogram of the target; phone_ids: (batch, phones). Without a
        reference, the timbre comes from the target itself, as the published model was trained.
        `generator` draws the posterior noise and the slice positions (else torch's global RNG).
        """
        if reference_spec is None:
            reference_spec, reference_lengths = spec, spec_lengths
        ge = self.timbre(reference_spec, reference_lengths)

        quantized, codes, commitment_loss = self._quantize(ssl_features)
        quantized = _fit_frames(self._upsample(quantized), spec.shape[-1]).to(spec.dtype)

        _, m_p, logs_p, spec_mask = self.enc_p(quantized, spec_lengths, phone_ids, phone_lengths, ge)
        z, m_q, logs_q, _ = self.enc_q(spec, spec_lengths, g=ge, generator=generator)
        z_p = self.flow(z, spec_mask, g=ge)

        ids_slice = random_segment_starts(spec_lengths, self.segment_frames, generator)
        audio = self.dec(slice_segments(z, ids_slice, self.segment_frames), g=ge)
        return SoVITSTrainingOutput(
            audio=audio,
            ids_slice=ids_slice,
            spec_mask=spec_mask,
            z=z,
            z_p=z_p,
            m_p=m_p,
            logs_p=logs_p,
            m_q=m_q,
            logs_q=logs_q,
            commitment_loss=commitment_loss,
            quantized=quantized,
            codes=codes,
            ge=ge,
        )

    # ------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def decode(
        self,
        tokens: torch.Tensor,
        phone_ids: torch.Tensor,
        reference_spec: torch.Tensor | Sequence[torch.Tensor],
        *,
        token_lengths: torch.Tensor | None = None,
        phone_lengths: torch.Tensor | None = None,
        reference_lengths: torch.Tensor | None = None,
        noise_scale: float = 0.5,
        speed: float = 1.0,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Semantic tokens + phones + reference spectrogram(s) -> waveform (batch, 1, samples).

        tokens: (batch, codebooks, tokens), or (batch, tokens) for one codebook; phone_ids: (batch,
        phones). Lengths default to the full sizes. Several references (a sequence of (batch, bins,
        frames) spectrograms) are averaged in the timbre space. The prior is sampled with
        `noise_scale` times its std; `seed` (0 is a seed) or `generator` makes the sample
        reproducible, else torch's global RNG draws it. Call in eval mode (no dropout). The audio of
        item i is valid up to token_lengths[i] * token_upsample * hop_length samples (/ speed).
        """
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(1)
        batch, device = tokens.shape[0], tokens.device
        if token_lengths is None:
            token_lengths = torch.full((batch,), tokens.shape[-1], device=device, dtype=torch.long)
        if phone_lengths is None:
            phone_lengths = torch.full((batch,), phone_ids.shape[-1], device=device, dtype=torch.long)

        if isinstance(reference_spec, torch.Tensor):
            ge = self.timbre(reference_spec, reference_lengths)
        else:
            ge = torch.stack([self.timbre(spec) for spec in reference_spec]).mean(0)

        features = self.tokens_to_features(tokens).to(ge.dtype)
        frame_lengths = token_lengths * self.token_upsample
        _, m_p, logs_p, mask = self.enc_p(features, frame_lengths, phone_ids, phone_lengths, ge, speed=speed)

        if generator is None and seed is not None:
            generator = torch.Generator(device=m_p.device).manual_seed(seed)
        noise = torch.randn(m_p.shape, generator=generator, device=m_p.device, dtype=m_p.dtype)
        z_p = m_p + noise * torch.exp(logs_p) * noise_scale
        z = self.flow(z_p, mask, g=ge, reverse=True)
        return self.dec(z * mask, g=ge)

    @torch.no_grad()
    def reconstruct(self, spec: torch.Tensor, spec_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """A clip rebuilt from its own spectrogram (batch, bins, frames): the posterior's mean, decoded
        with the clip as its own timbre reference; no tokens, no prior, no noise. What the decoder
        alone makes of a perfect latent: the ceiling of `decode` (waveform (batch, 1, samples))."""
        if spec_lengths is None:
            spec_lengths = torch.full((spec.shape[0],), spec.shape[-1], device=spec.device, dtype=torch.long)
        ge = self.timbre(spec, spec_lengths)
        _, m_q, _, mask = self.enc_q(spec, spec_lengths, g=ge)
        return self.dec(m_q * mask, g=ge)


def _fit_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Trim, or repeat the last frame, so `x` has exactly `frames` frames.

    Content features and spectrograms of one clip can differ by a frame (an odd frame count loses
    one to the stride-2 projection, and the two front ends round their lengths differently).
    """
    if x.shape[-1] >= frames:
        return x[..., :frames]
    return F.pad(x, (0, frames - x.shape[-1]), mode="replicate")
