"""The audio-to-blendshape predictor: a temporal convolutional network (TCN) with bounded look-ahead.

Why a TCN rather than a transformer: a talking face in a live product must move while the person
speaks, so the model has to run on audio as it arrives. Causal dilated convolutions see a fixed
window of the past (`receptive_field` frames; about 3 s with the default dilations, longer than a
syllable's coarticulation and a nod), can run frame by frame with a small state per layer, and give
the same output in streaming as offline *exactly*, not approximately; they export to ONNX as plain
convolutions, and cost a few milliseconds per second of audio on a CPU. A transformer over the whole
clip would see more context, but its streaming form needs chunked attention and does not match its
offline output.

The look-ahead: the mouth anticipates speech (lips round before /uw/, close before /m/), so the
network is causal but its output is read `lookahead` frames late: the prediction for frame t is the
network's output at t + lookahead, which has heard 40 ms x lookahead of the future. Offline, the
input is padded with `lookahead` frames of the normalised mean feature (zeros after `input_norm`);
streaming pads the same way at the end.

Layout: per-frame input normalisation (batch norm, frozen at inference, so each frame is normalised
on its own) -> two trunks, one for the expression and a narrower one for the head pose, each a 1x1
projection -> residual blocks [layer norm -> causal dilated conv -> GELU -> dropout -> 1x1 conv] ->
layer norm -> heads: 52 blendshapes through a sigmoid (weights in [0, 1]) and 6 pose values scaled
by `POSE_SCALE` (degrees, face-box sizes), so every output starts near unit range. Optional
identity conditioning adds a learned vector per training identity (index 0 = unknown/neutral).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sonicsynth.models.face.blendshapes import NUM_BLENDSHAPES, POSE_NAMES

# Typical magnitudes of the pose outputs: pitch, yaw, roll in degrees, tx, ty, tz in face-box sizes.
POSE_SCALE = (5.0, 5.0, 5.0, 0.02, 0.02, 0.02)


class TemporalBlock(nn.Module):
    """One residual block with a causal dilated convolution; `step` runs it on new frames only."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.out = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)
        self.context = (kernel_size - 1) * dilation  # past frames the convolution reads

    def _residual(self, x: torch.Tensor, normed_with_past: torch.Tensor) -> torch.Tensor:
        return x + self.out(self.dropout(F.gelu(self.conv(normed_with_past))))

    def normed(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> (B, C, T); frames before the first read as zeros."""
        return self._residual(x, F.pad(self.normed(x), (self.context, 0)))

    def step(self, x: torch.Tensor, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """New frames (B, C, t) and the last `context` normed frames before them -> output, new past."""
        normed = torch.cat([past, self.normed(x)], dim=2)
        return self._residual(x, normed), normed[:, :, normed.shape[2] - self.context :]


class TemporalTrunk(nn.Module):
    """1x1 projection of the normalised input -> residual blocks -> layer norm; forward or step."""

    def __init__(self, input_dim: int, channels: int, kernel_size: int, dilations: Sequence[int], dropout: float,
                 num_identities: int) -> None:
        super().__init__()
        self.input_proj = nn.Conv1d(input_dim, channels, 1)
        self.identity = nn.Embedding(num_identities + 1, channels) if num_identities else None
        if self.identity is not None:
            nn.init.zeros_(self.identity.weight)  # start as if unconditioned; index 0 stays neutral
        self.blocks = nn.ModuleList(TemporalBlock(channels, kernel_size, d, dropout) for d in dilations)
        self.final_norm = nn.LayerNorm(channels)

    @property
    def context(self) -> int:
        return sum(block.context for block in self.blocks)

    def _project(self, normed: torch.Tensor, identity: torch.Tensor | None) -> torch.Tensor:
        h = self.input_proj(normed)
        if self.identity is not None:
            ids = torch.zeros(h.shape[0], dtype=torch.long, device=h.device) if identity is None else identity
            h = h + self.identity(ids).unsqueeze(2)
        return h

    def _out(self, h: torch.Tensor) -> torch.Tensor:
        return self.final_norm(h.transpose(1, 2)).transpose(1, 2)

    def forward(self, normed: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        h = self._project(normed, identity)
        for block in self.blocks:
            h = block(h)
        return self._out(h)

    def initial_state(self, batch: int) -> list[torch.Tensor]:
        weight = self.input_proj.weight
        return [weight.new_zeros(batch, weight.shape[0], block.context) for block in self.blocks]

    def step(self, normed: torch.Tensor, state: list[torch.Tensor], identity: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h, new_state = self._project(normed, identity), []
        for block, past in zip(self.blocks, state, strict=True):
            h, past = block.step(h, past)
            new_state.append(past)
        return self._out(h), new_state


class FaceMotionTCN(nn.Module):
    def __init__(
        self,
        input_dim: int,
        channels: int = 128,
        kernel_size: int = 3,
        dilations: Sequence[int] = (1, 2, 4, 8, 16, 1, 2, 4),
        lookahead: int = 6,
        dropout: float = 0.1,
        num_identities: int = 0,
        pose_channels: int = 64,
        pose_dilations: Sequence[int] | None = None,
    ) -> None:
        """pose_channels / pose_dilations: the head-pose trunk (default: the expression trunk's
        dilations). Pose has its own trunk because a shared one learns the mouth markedly worse:
        much of the head's motion is not explained by the audio (a sway), and its errors would
        otherwise pull on the features the lips need (jawOpen correlation 0.74 -> 0.60 on held-out
        synthetic speech with pose weight 0.5 on a shared trunk, 300 steps)."""
        super().__init__()
        if lookahead < 0:
            raise ValueError(f"lookahead is a number of frames >= 0, got {lookahead}")
        self.input_dim, self.lookahead = input_dim, lookahead
        self.input_norm = nn.BatchNorm1d(input_dim)
        self.expression = TemporalTrunk(input_dim, channels, kernel_size, dilations, dropout, num_identities)
        self.pose = TemporalTrunk(input_dim, pose_channels, kernel_size, pose_dilations or dilations, dropout,
                                  num_identities)
        self.blendshape_head = nn.Conv1d(channels, NUM_BLENDSHAPES, 1)
        self.pose_head = nn.Conv1d(pose_channels, len(POSE_NAMES), 1)
        self.register_buffer("pose_scale", torch.tensor(POSE_SCALE).view(1, -1, 1), persistent=False)

    @property
    def receptive_field(self) -> int:
        """Frames of input one output depends on (the past context plus itself)."""
        return 1 + max(self.expression.context, self.pose.context)

    def _heads(self, expression: torch.Tensor, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        blendshapes = torch.sigmoid(self.blendshape_head(expression))
        return blendshapes.transpose(1, 2), (self.pose_head(pose) * self.pose_scale).transpose(1, 2)

    def forward(self, features: torch.Tensor, identity: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, input_dim) features -> (B, T, 52) blendshapes in [0, 1] and (B, T, 6) pose."""
        if features.ndim != 3 or features.shape[2] != self.input_dim:
            raise ValueError(f"features must be (batch, frames, {self.input_dim}), got {tuple(features.shape)}")
        normed = F.pad(self.input_norm(features.transpose(1, 2)), (0, self.lookahead))
        blendshapes, pose = self._heads(self.expression(normed, identity), self.pose(normed, identity))
        return blendshapes[:, self.lookahead :], pose[:, self.lookahead :]

    # --- streaming ---------------------------------------------------------------------------------

    def initial_state(self, batch: int = 1) -> list[list[torch.Tensor]]:
        """Zero past for every block of both trunks, as the offline forward pads the start."""
        return [self.expression.initial_state(batch), self.pose.initial_state(batch)]

    def step(self, normed_features: torch.Tensor, state: list[list[torch.Tensor]], identity: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor, list[list[torch.Tensor]]]:
        """New frames of *normalised* input (B, input_dim, t) -> the network's next t outputs (not yet
        shifted by the look-ahead) and the new state."""
        expression, expression_state = self.expression.step(normed_features, state[0], identity)
        pose, pose_state = self.pose.step(normed_features, state[1], identity)
        blendshapes, pose = self._heads(expression, pose)
        return blendshapes, pose, [expression_state, pose_state]
