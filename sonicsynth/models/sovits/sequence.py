"""Masks, random segments and frame-rate conversion over padded (batch, channels, frames) sequences."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
        x = F.pad(x, (0, int(starts.max()) + segment - x.shape[-1]))
    offsets = starts.view(-1, 1, 1) + torch.arange(segment, device=x.device).view(1, 1, -1)
    return torch.gather(x, 2, offsets.expand(x.shape[0], x.shape[1], segment))


def resample_frames(
    x: torch.Tensor, lengths: torch.Tensor, target_lengths: torch.Tensor, target_frames: int | None = None
) -> torch.Tensor:
    """(batch, channels, frames) padded sequences -> (batch, channels, target_frames): item i's first
    lengths[i] frames stretched to target_lengths[i] frames, zero after them.

    Linear interpolation in time (align_corners=False, so frame centres map onto frame centres):
    features that come at another rate than the target's (self-supervised content at 50 Hz, the CTC
    aligner's at 100 Hz, against a spectrogram at sample_rate / hop) then follow the same trajectory
    at the target rate, where nearest-neighbour would repeat frames in blocks whose edges jitter by
    up to half a source frame; to half the rate it averages neighbouring pairs, a proper 2x
    decimation. Lengths within one frame of each other count as the same rate, rounded differently by
    the two front ends: the sequence is trimmed, or its last frame repeated, and not stretched.
    """
    if target_frames is None:
        target_frames = int(target_lengths.max())
    out = x.new_zeros(x.shape[0], x.shape[1], target_frames)
    for i, (length, target) in enumerate(zip(lengths.tolist(), target_lengths.tolist())):
        if length < 1 or target < 1:
            continue
        item = x[i : i + 1, :, :length]
        if abs(length - target) <= 1:
            item = item[..., :target] if length >= target else F.pad(item, (0, target - length), mode="replicate")
        else:
            item = F.interpolate(item, size=target, mode="linear", align_corners=False)
        out[i, :, :target] = item[0]
    return out
