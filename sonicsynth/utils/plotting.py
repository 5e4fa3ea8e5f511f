"""Figures people look at: spectrograms side by side. Matplotlib with the file-only Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402


def _as_numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def plot_spectrograms(spectrograms: Mapping[str, object], title: str = "", hop_seconds: float | None = None):
    """One row per named (bins, frames) spectrogram, sharing the colour scale of the first."""
    items = [(name, _as_numpy(spec)) for name, spec in spectrograms.items()]
    vmin, vmax = float(items[0][1].min()), float(items[0][1].max())
    fig, axes = plt.subplots(len(items), 1, figsize=(10, 2.6 * len(items)), squeeze=False)
    for ax, (name, spec) in zip(axes[:, 0], items):
        extent = None if hop_seconds is None else (0, spec.shape[1] * hop_seconds, 0, spec.shape[0])
        image = ax.imshow(spec, origin="lower", aspect="auto", vmin=vmin, vmax=vmax, extent=extent, interpolation="none")
        ax.set_ylabel(f"{name}\nbin")
        fig.colorbar(image, ax=ax, pad=0.01)
    axes[-1, 0].set_xlabel("time (s)" if hop_seconds else "frame")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Write a figure as PNG and release it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
