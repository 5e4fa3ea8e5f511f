"""Phone recogniser for CTC alignment: log-mel frames (10 ms hop) -> per-frame phone posteriors.

A convolutional front end (local spectral context, no striding: boundary accuracy needs the full
10 ms resolution) feeds a sequence encoder, then a linear layer gives logits over the phone symbols
of the text front end's symbol table, whose index 0 (the pad symbol, never a phone) serves as the CTC
blank. `hidden()` returns the last recurrent layer's output, which a model
trained only to recognise phones keeps largely free of speaker identity: the content feature for
when no self-supervised model is available.

Input: log-mel frames, optionally normalised per utterance (mean and variance of each mel band over
the utterance's frames: removes most of the channel and speaker colouring a small corpus cannot
teach the model to ignore) and, in training only, SpecAugment-style masking of random mel bands and
time spans (filled with the normalised mean, 0).

Output frames: `output_subframes` (default 1) classifies that many equal sub-frames of each 10 ms
input frame, so `forward` returns `output_subframes` times as many frames as its input has: with 2,
the 5 ms frames of the HMM aligner, whose Viterbi paths can then be learnt frame for frame (mel
frames of 5 ms instead halve the encoder's context in time and did worse). On the demo corpus
the HMM-taught recogniser placed as many held-out boundaries within 20 ms either way (79.5%
calibrated), so the default stays 1. `hidden()` stays at the input's rate.

Encoders: `"conv"`, residual blocks of dilated convolutions (receptive field 1 + (k-1) * sum of the
dilations frames, 0.6 s by default), fast to train on a CPU; `"lstm"`, a bidirectional LSTM (whole-
utterance context, sequential, so about 10x slower per step on a CPU and best trained on a GPU).
"""

from __future__ import annotations

import torch
import torchaudio.functional as AF
from torch import nn


class DilatedResidualBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation, padding=dilation * (kernel_size // 2))
        self.norm = nn.BatchNorm1d(channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(nn.functional.gelu(self.norm(self.conv(x))))


class CTCPhoneRecognizer(nn.Module):
    def __init__(
        self,
        num_classes: int,
        n_mels: int = 80,
        conv_channels: int = 256,
        conv_layers: int = 2,
        kernel_size: int = 5,
        encoder: str = "conv",
        dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2, 4, 8),
        lstm_hidden: int = 256,
        lstm_layers: int = 2,
        dropout: float = 0.1,
        normalize_input: bool = False,
        freq_mask: int = 0,
        time_mask: int = 0,
        masks_per_axis: int = 2,
        output_subframes: int = 1,
    ) -> None:
        super().__init__()
        if output_subframes < 1:
            raise ValueError(f"output_subframes must be at least 1, got {output_subframes}")
        self.num_classes, self.output_subframes = num_classes, output_subframes
        self.normalize_input = normalize_input
        self.freq_mask, self.time_mask, self.masks_per_axis = freq_mask, time_mask, masks_per_axis
        layers: list[nn.Module] = []
        channels = n_mels
        for _ in range(conv_layers):
            layers += [
                nn.Conv1d(channels, conv_channels, kernel_size, padding=kernel_size // 2),
                nn.BatchNorm1d(conv_channels),
                nn.GELU(),
                nn.Dropout(dropout),
            ]
            channels = conv_channels
        self.front_end = nn.Sequential(*layers)
        self.encoder_type = encoder
        if encoder == "conv":
            self.encoder = nn.Sequential(*(DilatedResidualBlock(channels, kernel_size, d, dropout) for d in dilations))
            self.hidden_size = channels
        elif encoder == "lstm":
            self.encoder = nn.LSTM(channels, lstm_hidden, lstm_layers, batch_first=True, bidirectional=True,
                                   dropout=dropout if lstm_layers > 1 else 0.0)
            self.hidden_size = 2 * lstm_hidden
        else:
            raise ValueError(f"encoder must be 'conv' or 'lstm', got {encoder!r}")
        self.output = nn.Linear(self.hidden_size, num_classes * output_subframes)

    def output_frame_sec(self, mel_frame_sec: float) -> float:
        """The duration of one output frame, for mel frames `mel_frame_sec` apart."""
        return mel_frame_sec / self.output_subframes

    def _prepare(self, mel: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if self.normalize_input:
            if lengths is None:
                lengths = torch.full((mel.shape[0],), mel.shape[-1])
            frames = torch.arange(mel.shape[-1], device=mel.device)
            valid = (frames < lengths.to(mel.device).unsqueeze(1)).unsqueeze(1)
            count = valid.sum(dim=-1, keepdim=True).clamp_min(1)
            mean = (mel * valid).sum(dim=-1, keepdim=True) / count
            std = ((((mel - mean) * valid) ** 2).sum(dim=-1, keepdim=True) / count).sqrt().clamp_min(1e-3)
            mel = torch.where(valid, (mel - mean) / std, 0.0)
        if self.training:
            for _ in range(self.masks_per_axis):
                if self.freq_mask:
                    mel = AF.mask_along_axis_iid(mel, self.freq_mask, 0.0, axis=1)
                if self.time_mask:
                    mel = AF.mask_along_axis_iid(mel, self.time_mask, 0.0, axis=2)
        return mel

    def hidden(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, n_mels, frames) -> (batch, frames, hidden_size)."""
        x = self.front_end(self._prepare(mel, lengths))
        if self.encoder_type == "conv":
            return self.encoder(x).transpose(1, 2)
        x = x.transpose(1, 2)
        if lengths is not None:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.encoder(packed)
            return nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
        return self.encoder(x)[0]

    def forward(self, mel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities (batch, frames * output_subframes, num_classes); index 0 is the blank."""
        logits = self.output(self.hidden(mel, lengths))
        # Each frame's outputs are its sub-frames' logits one after the other, in time order.
        logits = logits.reshape(logits.shape[0], -1, self.num_classes)
        return logits.log_softmax(dim=-1)
