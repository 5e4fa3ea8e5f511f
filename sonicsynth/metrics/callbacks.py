"""Lightning callbacks that compute evaluation metrics on validation samples every N epochs and log
them to the experiment logger (as `val/<metric>`), so a run's curves show what eval/ would report.

- `AudioMetricsCallback`: for models whose `validation_step` returns a dict with `reference` and
  `generated` waveforms (B, T) and `sample_rate` (the vocoder does). Collects up to `max_items`
  pairs and logs the mean of each chosen metric over them; items a metric cannot score are
  skipped and counted in `val/<metric>_failed`.
- `LipSyncCallback`: for SyncNet training; scores up to `max_videos` validation videos of the
  data's manifest with the network being trained, as they are and with the audio delayed by
  `shift_frames`, and logs LSE-D, LSE-C and the absolute AV offset of both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import lightning as L
import numpy as np

from sonicsynth.metrics.base import MetricError

log = logging.getLogger(__name__)


def _audio_metrics() -> dict[str, Callable[[np.ndarray, np.ndarray, int], float | dict]]:
    from sonicsynth.metrics.mcd import mel_cepstral_distortion
    from sonicsynth.metrics.pitch import f0_metrics
    from sonicsynth.metrics.quality import dnsmos, pesq_score, stoi_score
    from sonicsynth.metrics.speaker import SpeakerSimilarity

    speaker = SpeakerSimilarity()
    return {
        "pesq_wb": lambda ref, est, sr: pesq_score(ref, est, sr),
        "stoi": lambda ref, est, sr: stoi_score(ref, est, sr),
        "mcd_db": lambda ref, est, sr: mel_cepstral_distortion(ref, est, sr),
        "f0_rmse_hz": lambda ref, est, sr: f0_metrics(ref, est, sr)["f0_rmse_hz"],
        "dnsmos_ovrl": lambda ref, est, sr: dnsmos(est, sr)["dnsmos_ovrl"],
        "speaker_similarity": lambda ref, est, sr: speaker.similarity(ref, est, sr),
    }


class AudioMetricsCallback(L.Callback):
    def __init__(self, metrics: Sequence[str] = ("pesq_wb", "stoi", "mcd_db"), every_n_epochs: int = 5,
                 max_items: int = 8) -> None:
        self.metrics, self.every_n_epochs, self.max_items = list(metrics), every_n_epochs, max_items
        self._pairs: list[tuple[np.ndarray, np.ndarray, int]] = []
        self._functions: dict | None = None

    def _active(self, trainer: L.Trainer) -> bool:
        return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._pairs = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not self._active(trainer) or not isinstance(outputs, dict) or "generated" not in outputs:
            return
        for reference, generated in zip(outputs["reference"], outputs["generated"], strict=True):
            if len(self._pairs) < self.max_items:
                self._pairs.append((reference.detach().float().cpu().numpy(), generated.detach().float().cpu().numpy(),
                                    int(outputs["sample_rate"])))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self._pairs:
            return
        if self._functions is None:
            available = _audio_metrics()
            unknown = sorted(set(self.metrics) - set(available))
            if unknown:
                raise ValueError(f"AudioMetricsCallback: unknown metrics {unknown}; choose from {sorted(available)}")
            self._functions = {name: available[name] for name in self.metrics}
        for name, function in self._functions.items():
            values, failed = [], 0
            for reference, generated, sample_rate in self._pairs:
                try:
                    values.append(float(function(reference, generated, sample_rate)))
                except MetricError as error:
                    failed += 1
                    log.info("val/%s: %s", name, error)
            finite = [v for v in values if np.isfinite(v)]
            # NaN when no item could be scored (e.g. an early model's resyntheses with no speech left
            # for speaker similarity): the key is there every active epoch, so a checkpoint callback
            # monitoring it does not stop the run, and never picks that epoch as the best.
            pl_module.log(f"val/{name}", float(np.mean(finite)) if finite else float("nan"), sync_dist=False)
            pl_module.log(f"val/{name}_failed", float(failed), sync_dist=False)
        self._pairs = []


class LipSyncCallback(L.Callback):
    def __init__(self, every_n_epochs: int = 5, max_videos: int = 4, shift_frames: int = 10, split: str = "val") -> None:
        self.every_n_epochs, self.max_videos, self.shift_frames, self.split = every_n_epochs, max_videos, shift_frames, split

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        from sonicsynth.data.manifest import read_manifest
        from sonicsynth.metrics.lip_sync import SAMPLES_PER_FRAME, LipSyncEvaluator, read_face_centred_video

        manifest = Path(trainer.datamodule.hparams.manifest)
        videos = [u.video_file(manifest.parent) for u in read_manifest(manifest) if u.split == self.split and u.video_path]
        evaluator = LipSyncEvaluator(pl_module.syncnet, device=pl_module.device)
        scores: dict[str, list[float]] = {}
        for video in videos[: self.max_videos]:
            frames, audio = read_face_centred_video(video)
            delayed = np.concatenate([np.zeros(self.shift_frames * SAMPLES_PER_FRAME, audio.dtype), audio])[: len(audio)]
            for label, track in (("in_sync", audio), ("shifted", delayed)):
                try:
                    score = evaluator.score_frames(frames, track, str(video))
                except MetricError as error:
                    log.info("lip sync: %s", error)
                    continue
                scores.setdefault(f"val/lse_d_{label}", []).append(score.lse_d)
                scores.setdefault(f"val/lse_c_{label}", []).append(score.lse_c)
                expected = 0 if label == "in_sync" else -self.shift_frames
                scores.setdefault(f"val/offset_error_{label}", []).append(abs(score.offset - expected))
        for name, values in scores.items():
            pl_module.log(name, float(np.mean(values)), sync_dist=False)
