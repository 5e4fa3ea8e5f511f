"""Training a SyncNet where the published weights are not available.

Each training item is one 5-frame video window and the audio windows at every offset in
[-max_offset, +max_offset] video frames around it (`sonicsynth.data.av_datamodule`); exactly one of
them, offset 0, is in sync. The loss is the multi-way matching loss of SyncNet's second version
(Chung et al., "Perfect match", 2019): cross-entropy over the candidates with the negative Euclidean
distance between the embeddings as logits. It trains exactly what LSE-D / LSE-C read off the
network: the in-sync audio must be the nearest, by a margin, among the shifted ones.

Validation reports the loss, the share of windows whose nearest candidate is the in-sync one
(`val/offset_accuracy`) or within one frame of it (`val/offset_within_1`), and the mean distance
at offset 0 and over the other offsets.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from sonicsynth.models.packaging import PackageableModule


class SyncNetLitModule(PackageableModule):
    family = "syncnet"

    def __init__(
        self,
        syncnet: dict,
        learning_rate: float = 1e-4,
        weight_decay: float = 0.0,
        compatibility_id: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.init_compatibility_id(compatibility_id)
        self.syncnet = instantiate(syncnet)

    def configure_optimizers(self):
        return torch.optim.Adam(self.syncnet.parameters(), self.hparams.learning_rate, weight_decay=self.hparams.weight_decay)

    def distances(self, video: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) video windows and (B, C, 1, 13, 20) candidate audio windows -> (B, C) distances."""
        batch, candidates = audio.shape[:2]
        video_embedding = self.syncnet.forward_video(video)
        audio_embedding = self.syncnet.forward_audio(audio.flatten(0, 1)).view(batch, candidates, -1)
        return torch.linalg.vector_norm(audio_embedding - video_embedding.unsqueeze(1), dim=-1)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        distances = self.distances(batch["video"], batch["audio"])
        target = batch["target"]
        loss = F.cross_entropy(-distances, target)
        nearest = distances.argmin(dim=1)
        batch_size = len(target)
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=batch_size)
        self.log(f"{stage}/offset_accuracy", (nearest == target).float().mean(), batch_size=batch_size)
        if stage == "val":
            in_sync = torch.zeros_like(distances, dtype=torch.bool)
            in_sync[torch.arange(batch_size), target] = True
            self.log("val/offset_within_1", ((nearest - target).abs() <= 1).float().mean(), batch_size=batch_size)
            self.log("val/distance_in_sync", distances[in_sync].mean(), batch_size=batch_size)
            self.log("val/distance_off_sync", distances[~in_sync].mean(), batch_size=batch_size)
        return loss

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """An exported SyncNet: its weights (published parameter names) and the config that rebuilds it."""
        return cls.submodule_weights(checkpoint, "syncnet."), {"syncnet": checkpoint["hyper_parameters"]["syncnet"]}
