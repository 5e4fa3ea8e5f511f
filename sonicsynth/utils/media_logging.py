"""Audio and figures to whichever experiment loggers are configured.

Lightning's loggers share `log_metrics` but not media; this dispatches to TensorBoard's and wandb's
own calls. Loggers without media support (CSV) get the files written into their log directory, so
nothing a person would look at is lost.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger

from sonicsynth.audio.io import save_audio


def _safe_name(tag: str) -> str:
    return tag.replace("/", "_")


def log_audio(logger: Logger, tag: str, wav: torch.Tensor, sample_rate: int, step: int) -> None:
    wav = wav.detach().float().cpu().reshape(-1).clamp(-1, 1)
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_audio(tag, wav.unsqueeze(0), step, sample_rate=sample_rate)
    elif isinstance(logger, WandbLogger):
        import wandb

        logger.experiment.log({tag: wandb.Audio(wav.numpy(), sample_rate=sample_rate), "trainer/global_step": step})
    elif logger.log_dir is not None:
        save_audio(Path(logger.log_dir) / "media" / f"{_safe_name(tag)}_step{step}.wav", wav, sample_rate)


def log_figure(logger: Logger, tag: str, figure, step: int) -> None:
    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_figure(tag, figure, step, close=False)
    elif isinstance(logger, WandbLogger):
        import wandb

        logger.experiment.log({tag: wandb.Image(figure), "trainer/global_step": step})
    elif logger.log_dir is not None:
        path = Path(logger.log_dir) / "media" / f"{_safe_name(tag)}_step{step}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100)
    plt.close(figure)


def log_validation_sample(module, index: int, real: torch.Tensor, generated: torch.Tensor, mel_real: torch.Tensor,
                          mel_generated: torch.Tensor, sample_rate: int, generated_label: str = "generated") -> None:
    """One validation sample of a waveform model, to every logger of `module` (a LightningModule):
    the real audio once (it does not change), the generated audio and both mels side by side."""
    from sonicsynth.utils.plotting import plot_spectrograms

    step = module.global_step
    for logger in module.loggers:
        if module.current_epoch == 0:
            log_audio(logger, f"val/{index}/real", real, sample_rate, step)
        log_audio(logger, f"val/{index}/generated", generated, sample_rate, step)
        figure = plot_spectrograms({"real": mel_real, generated_label: mel_generated}, title=f"validation sample {index}")
        log_figure(logger, f"val/{index}/mel", figure, step)
