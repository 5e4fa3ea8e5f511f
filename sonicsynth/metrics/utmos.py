"""UTMOS22 strong learner: predicted naturalness MOS of one clip, no reference needed.

The model of Saeki et al. 2022, "UTMOS: UTokyo-SaruLab System for VoiceMOS Challenge 2022"
(strong learner, without its phoneme encoder), in the parameter layout of the public
re-implementation tarepan/SpeechMOS v1.2.0 (`torch.hub.load("tarepan/SpeechMOS:v1.2.0",
"utmos22_strong")`), so that its published weights `utmos22_strong_step7459_v1.pt` (about 400 MB,
102.8 M parameters) load with `load_utmos22(path)`. This module never downloads anything.

- `UTMOS22Strong.score(samples, sample_rate)`: MOS on a nominal 1..5 scale (the output is an
  unbounded regression, 3 + 2 x the frame-averaged projection, so it can stray slightly outside),
  higher is better. Scored at 16 kHz; input at any rate of 16 kHz or more is resampled to 16 kHz
  (lower rates are refused: upsampling cannot restore the missing band). Samples are used as
  given (no level normalisation, as in the reference code), expected in [-1, 1]. Needs at least
  `MIN_SECONDS` (0.5 s) of non-silent audio, otherwise `MetricError` naming the input.

Architecture (inference only, so no dropout and no feature-masking path):
wav2vec 2.0 base in fairseq naming (`wav2vec2.*`): 7 bias-free conv layers (512 channels, kernels
10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2, so one 768-dim frame per 20 ms), the first followed by a
per-channel GroupNorm, each by GELU; LayerNorm(512); linear 512 -> 768; then the context encoder: a
weight-normalised grouped positional conv (kernel 128, 16 groups, weight norm over dim 2, the last
output frame dropped) with GELU added to its input, LayerNorm, and 12 post-LayerNorm transformer
layers (12 heads, FFN 3072, exact GELU). The unused `mask_emb` is kept only so the checkpoint loads
strictly. Each frame is concatenated with the learned data-domain (128) and judge-id (128)
embeddings, run through a 1-layer BLSTM (512 per direction) and a projection 1024 -> 2048 -> ReLU
-> 1; the score is the mean over frames, times 2, plus 3.

The reference code pads odd-length frame sequences by one zero frame that it masks out of the
attention keys; since that frame only ever acts as a masked key, leaving it out gives the same
output, and this implementation does.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sonicsynth.audio.io import resample
from sonicsynth.metrics.base import MetricError, check_rate, check_signal

SAMPLE_RATE = 16000
MIN_SECONDS = 0.5
WEIGHTS_FILE = "utmos22_strong_step7459_v1.pt"
WEIGHTS_URL = f"https://github.com/tarepan/SpeechMOS/releases/download/v1.0.0/{WEIGHTS_FILE}"


@dataclass(frozen=True)
class UTMOS22Config:
    """Layer sizes; the defaults are the published checkpoint's, smaller ones make a test-sized model."""

    conv_channels: int = 512
    conv_kernels: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_strides: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    ssl_dim: int = 768
    encoder_layers: int = 12
    attention_heads: int = 12
    ffn_dim: int = 3072
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    domain_dim: int = 128
    judge_dim: int = 128
    rnn_hidden: int = 512
    projection_hidden: int = 2048


class _FeatureExtractor(nn.Module):
    """Strided conv stack, waveform (B, T) -> features (B, C, frames)."""

    def __init__(self, config: UTMOS22Config) -> None:
        super().__init__()
        channels = config.conv_channels
        self.conv_layers = nn.ModuleList()
        for index, (kernel, stride) in enumerate(zip(config.conv_kernels, config.conv_strides, strict=True)):
            conv = nn.Conv1d(1 if index == 0 else channels, channels, kernel, stride=stride, bias=False)
            # Slot 1 held a p=0 dropout in fairseq; keeping the slot keeps the norm's key at index 2.
            norm = [nn.GroupNorm(channels, channels)] if index == 0 else []
            self.conv_layers.append(nn.Sequential(conv, nn.Identity(), *norm, nn.GELU()))

    def forward(self, wave: Tensor) -> Tensor:
        x = wave.unsqueeze(1)
        for layer in self.conv_layers:
            x = layer(x)
        return x


class _PositionalConv(nn.Module):
    """Grouped 'same' conv with weight norm along the kernel axis (weight = g * v / ||v||, norm per tap)."""

    def __init__(self, dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.kernel, self.groups = kernel, groups
        self.weight_g = nn.Parameter(torch.ones(1, 1, kernel))
        self.weight_v = nn.Parameter(torch.empty(dim, dim // groups, kernel))
        self.bias = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.weight_v, std=math.sqrt(4 / (kernel * dim)))

    def forward(self, x: Tensor) -> Tensor:  # (B, C, frames)
        norm = self.weight_v.norm(dim=(0, 1), keepdim=True)
        weight = self.weight_v * (self.weight_g / norm)
        y = F.conv1d(x, weight, self.bias, padding=self.kernel // 2, groups=self.groups)
        # Padding k//2 on both sides gives one extra frame for an even kernel; drop it from the end.
        return y[:, :, : x.shape[-1]]


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:  # (B, frames, dim)
        batch, frames, dim = x.shape

        def split(t: Tensor) -> Tensor:
            return t.view(batch, frames, self.heads, dim // self.heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x)))
        return self.out_proj(out.transpose(1, 2).reshape(batch, frames, dim))


class _EncoderLayer(nn.Module):
    """Post-LayerNorm transformer layer: x = LN(x + attn(x)); x = LN(x + fc2(gelu(fc1(x))))."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.self_attn = _SelfAttention(dim, heads)
        self.self_attn_layer_norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.final_layer_norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.self_attn_layer_norm(x + self.self_attn(x))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class _Encoder(nn.Module):
    def __init__(self, config: UTMOS22Config) -> None:
        super().__init__()
        dim = config.ssl_dim
        self.pos_conv = nn.Sequential(_PositionalConv(dim, config.pos_conv_kernel, config.pos_conv_groups), nn.GELU())
        self.layer_norm = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(
            _EncoderLayer(dim, config.attention_heads, config.ffn_dim) for _ in range(config.encoder_layers)
        )

    def forward(self, x: Tensor) -> Tensor:  # (B, frames, dim)
        x = x + self.pos_conv(x.transpose(1, 2)).transpose(1, 2)
        x = self.layer_norm(x)
        for layer in self.layers:
            x = layer(x)
        return x


class _Wav2Vec2(nn.Module):
    def __init__(self, config: UTMOS22Config) -> None:
        super().__init__()
        self.feature_extractor = _FeatureExtractor(config)
        self.layer_norm = nn.LayerNorm(config.conv_channels)
        self.post_extract_proj = nn.Linear(config.conv_channels, config.ssl_dim)
        self.encoder = _Encoder(config)
        self.mask_emb = nn.Parameter(torch.zeros(config.ssl_dim))  # pre-training remnant, unused

    def forward(self, wave: Tensor) -> Tensor:  # (B, T) -> (B, frames, ssl_dim)
        features = self.feature_extractor(wave).transpose(1, 2)
        return self.encoder(self.post_extract_proj(self.layer_norm(features)))


class UTMOS22Strong(nn.Module):
    """Waveform at 16 kHz (B, T) -> predicted MOS (B,). Build with `load_utmos22` to get trained weights."""

    def __init__(self, config: UTMOS22Config | None = None) -> None:
        super().__init__()
        config = config or UTMOS22Config()
        self.config = config
        features = config.ssl_dim + config.domain_dim + config.judge_dim
        self.wav2vec2 = _Wav2Vec2(config)
        self.domain_emb = nn.Parameter(torch.randn(1, config.domain_dim), requires_grad=False)
        self.judge_emb = nn.Parameter(torch.randn(1, config.judge_dim), requires_grad=False)
        self.blstm = nn.LSTM(features, config.rnn_hidden, batch_first=True, bidirectional=True)
        self.projection = nn.Sequential(
            nn.Linear(2 * config.rnn_hidden, config.projection_hidden), nn.ReLU(), nn.Linear(config.projection_hidden, 1)
        )

    def forward(self, wave: Tensor) -> Tensor:
        ssl = self.wav2vec2(wave)
        batch, frames, _ = ssl.shape
        domain = self.domain_emb.unsqueeze(1).expand(batch, frames, -1)  # (1, D) -> (B, frames, D)
        judge = self.judge_emb.unsqueeze(1).expand(batch, frames, -1)
        hidden, _ = self.blstm(torch.cat([ssl, domain, judge], dim=2))
        frame_scores = self.projection(hidden).squeeze(2)  # (B, frames)
        return frame_scores.mean(dim=1) * 2 + 3

    @torch.inference_mode()
    def score(self, samples: np.ndarray, sample_rate: int, *, name: str = "audio") -> float:
        """Predicted MOS (nominally 1..5, higher is better) of one mono clip."""
        check_rate(sample_rate, name=name, minimum=SAMPLE_RATE)
        samples = check_signal(samples, sample_rate, name=name, min_seconds=MIN_SECONDS)
        audio = np.asarray(resample(samples, sample_rate, SAMPLE_RATE), dtype=np.float32)
        device = self.domain_emb.device
        was_training = self.training
        self.eval()
        try:
            value = float(self(torch.from_numpy(audio).to(device).unsqueeze(0))[0])
        finally:
            self.train(was_training)
        if not math.isfinite(value):
            raise MetricError(f"{name}: UTMOS22 returned a non-finite score ({value})")
        return value


def load_utmos22(path: str | os.PathLike[str], config: UTMOS22Config | None = None) -> UTMOS22Strong:
    """The model with the weights in `path` (a SpeechMOS-layout state_dict), on CPU in eval mode.

    Any problem with the file (missing, unreadable, keys or shapes that do not fit `config`) raises
    `MetricError` naming the file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MetricError(f"{path}: UTMOS22 weights file not found (download {WEIGHTS_FILE} from {WEIGHTS_URL})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and unsafe-global errors come in many types
        raise MetricError(f"{path}: cannot read UTMOS22 weights ({type(error).__name__}: {error})") from error
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise MetricError(f"{path}: not a UTMOS22 state_dict (expected a flat mapping of names to tensors)")
    with torch.device("meta"):  # the expected layout, without allocating the weights
        expected = {key: tuple(value.shape) for key, value in UTMOS22Strong(config).state_dict().items()}
    wrong = [f"{key} has shape {tuple(state[key].shape)}, expected {shape}"
             for key, shape in expected.items() if key in state and tuple(state[key].shape) != shape]
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if wrong or missing or unexpected:
        details = wrong + [f"missing {key}" for key in missing] + [f"unexpected {key}" for key in unexpected]
        shown = "; ".join(details[:6]) + (f"; and {len(details) - 6} more" if len(details) > 6 else "")
        raise MetricError(
            f"{path}: weights do not fit the UTMOS22 strong model ({len(wrong)} wrong shapes, {len(missing)} "
            f"missing, {len(unexpected)} unexpected keys: {shown})"
        )
    model = UTMOS22Strong(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise MetricError(f"{path}: cannot load UTMOS22 weights ({error})") from error
    return model.eval()
