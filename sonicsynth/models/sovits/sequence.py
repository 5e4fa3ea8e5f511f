"""Masks and random segments over padded (batch, channels, frames) sequences."""

from __future__ import annotations

import torch


def sequence_mask(lengths: torch.Tensor, max_length: int | None = None) -> torch.Tensor:
    """(batch,) lengths -> (batch, max_length) bool mask, True on the valid frames."""
    if max_length is None:
        max_length = int(lengths.max())
    return torch.arange(max_length, device=lengths.device) < lengths.unsqueeze(1)


def frame_mask(lengths: torch.Tensor, max_length: int, dtype: torch.dtype) -> torch.Tensor:
    """(batch,) lengths -> (batch, 1, max_length) mask of 0/1 in `dtype`, to multiply features with."""
    return sequence_mask(lengths, max_length).unsqueeze(1).to(dtype)


def random_segment_starts(
    lengths: torch.Tensor, segment_frames: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A uniformly drawn first frame per item such that the segment fits inside its valid frames.

    Items shorter than the segment start at 0 (their segment runs into the padding).
    """
    room = (lengths - segment_frames).clamp(min=0) + 1
    draw = torch.rand(lengths.shape, generator=generator, device=lengths.device)
    return (draw * room).long().clamp(max=room - 1)


def slice_segments(x: torch.Tensor, starts: torch.Tensor, segment: int) -> torch.Tensor:
    """(batch, channels, time) -> (batch, channels, segment) from each item's start, zero past the end.

    For waveforms cut matching a spectrogram slice, pass `starts * hop` and `segment_frames * hop`.
    """
    if x.shape[-1] < int(starts.max()) + segment:
        x = torch.nn.functional.pad(x, (0, int(starts.max()) + segment - x.shape[-1]))
    offsets = starts.view(-1, 1, 1) + torch.arange(segment, device=x.device).view(1, 1, -1)
    return torch.gather(x, 2, offsets.expand(x.shape[0], x.shape[1], segment))
