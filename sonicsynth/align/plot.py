"""An alignment drawn over its spectrogram: each tier's boundaries as vertical lines, labels beneath."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from sonicsynth.align.textgrid import SILENCE_LABELS
from sonicsynth.audio import MelSpectrogram
from sonicsynth.utils.plotting import plt  # imported from there so the Agg backend is set once

# (label, start, end) in seconds: PhoneSpan and WordSpan both fit.
Interval = tuple[str, float, float]
TIER_COLOURS = ("white", "cyan", "orange", "magenta", "yellow")


def log_mel(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """(n_mels, frames) log-mel spectrogram with 25 ms windows and a 10 ms hop."""
    win_length = round(0.025 * sample_rate)
    mel = MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=2 ** math.ceil(math.log2(win_length)),
        hop_length=round(0.01 * sample_rate),
        win_length=win_length,
        n_mels=80,
        fmax=sample_rate / 2,
    )
    with torch.no_grad():
        return mel(torch.from_numpy(samples).float()[None])[0].numpy()


def plot_alignment(samples: np.ndarray, sample_rate: int, tiers: Mapping[str, Sequence[Interval]], title: str = ""):
    """Spectrogram on top with every tier's boundaries; one labelled row per tier below. Returns the figure."""
    spectrogram = log_mel(samples, sample_rate)
    duration = len(samples) / sample_rate
    fig, axes = plt.subplots(
        1 + len(tiers), 1, figsize=(max(10.0, 3.0 * duration), 3.2 + 0.7 * len(tiers)), sharex=True,
        gridspec_kw={"height_ratios": [4] + [1] * len(tiers)}, squeeze=False,
    )  # fmt: skip
    top = axes[0, 0]
    top.imshow(spectrogram, origin="lower", aspect="auto", extent=(0, duration, 0, spectrogram.shape[0]), cmap="magma")
    top.set_ylabel("mel bin")
    if title:
        top.set_title(title)
    for (name, intervals), axis, colour in zip(tiers.items(), axes[1:, 0], itertools.cycle(TIER_COLOURS)):
        boundaries = sorted({start for _, start, _ in intervals} | {end for _, _, end in intervals})
        for time in boundaries:
            top.axvline(time, color=colour, linewidth=0.7, alpha=0.8)
            axis.axvline(time, color="black", linewidth=0.7)
        for label, start, end in intervals:
            if label not in SILENCE_LABELS:
                axis.text((start + end) / 2, 0.5, label, ha="center", va="center", fontsize=7, clip_on=True)
        axis.set_yticks([])
        axis.set_ylabel(f"{name}\n({colour} lines)", rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlim(0, duration)
    axes[-1, 0].set_xlabel("time (s)")
    # Fixed margins instead of tight_layout, which renders the whole figure once more just to measure it.
    fig.subplots_adjust(left=0.14, right=0.99, top=0.93, bottom=0.08, hspace=0.15)
    return fig
