"""Training the audio-to-blendshape predictor (`python train.py experiment=a2bs_<data>`).

Loss, over the real frames of each padded batch:
- blendshapes: L1 + `mse_weight` x squared error per channel, the mouth channels (jaw*, mouth*, ...)
  weighted `mouth_weight` times the rest: they carry lip sync, and an average over all 52 would let
  a model that gets the upper face right and the lips mushy look good. L1 alone seeks the median,
  which is 0 for every channel active in fewer than half the frames: the short closures of /p b m/
  (mouthClose) and /f v/ (mouthRollLower) were never predicted, not even on training data
  (correlation -0.15 and -0.11 on held-out synthetic sentences). The squared term seeks the mean
  and brings them in (0.62 and 0.46), for jawOpen 0.81 instead of 0.83 (30 epochs of
  experiment=a2bs_synthetic each, side by side);
- velocity: L1 between the frame-to-frame differences of prediction and truth (blendshapes and
  pose), weighted `velocity_weight`: a per-frame loss alone is minimised by a jittery average, the
  velocity term makes the curves move when and as fast as the truth moves;
- pose: L1 of pitch/yaw/roll and translation divided by their typical magnitudes (`POSE_SCALE`), so
  that degrees and face-box sizes weigh alike, weighted `pose_weight`.

Validation logs the loss terms and, per utterance, the face-motion metrics of
`sonicsynth.metrics.face_motion` (mouth L1, jawOpen correlation and the lag of its peak), averaged
over utterances; `val/mouth_l1` selects the checkpoint. Warm-up + cosine learning rate per optimizer
step (`sonicsynth.nn.schedules`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate

from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.face_motion import jaw_open_sync, mouth_l1
from sonicsynth.models.face.audio_features import FaceAudioFeatures
from sonicsynth.models.face.blendshapes import MOUTH_INDICES, NUM_BLENDSHAPES
from sonicsynth.models.face.predictor import POSE_SCALE
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.nn.schedules import warmup_cosine


def build_predictor(net: dict, features: dict) -> tuple[torch.nn.Module, FaceAudioFeatures]:
    """The network and its feature extractor from their recorded configs (training or a package)."""
    extractor = FaceAudioFeatures(**features)
    return instantiate(net, input_dim=extractor.dim), extractor


class FaceMotionLitModule(PackageableModule):
    family = "face_motion"
    package_prefix = "net."

    def __init__(
        self,
        net: dict,
        features: dict | None = None,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.01,
        warmup_steps: int = 100,
        mouth_weight: float = 3.0,
        velocity_weight: float = 1.0,
        pose_weight: float = 0.5,
        mse_weight: float = 10.0,
        identities: list[str] | None = None,
        compatibility_id: str | None = None,
    ) -> None:
        """net: `_target_` config of a `FaceMotionTCN` without `input_dim` (the features set it);
        features: `FaceAudioFeatures` settings (defaults when None); identities: the training
        identities in embedding order (index 1 on), recorded from the data when `net.num_identities` > 0."""
        super().__init__()
        self.save_hyperparameters()
        self.hparams.features = dict(features or {})
        self.init_compatibility_id(compatibility_id)
        self.net, self.features = build_predictor(net, self.hparams.features)
        weights = torch.ones(NUM_BLENDSHAPES)
        weights[torch.from_numpy(MOUTH_INDICES)] = mouth_weight
        self.register_buffer("channel_weights", weights / weights.mean(), persistent=False)
        self.register_buffer("pose_scale", torch.tensor(POSE_SCALE), persistent=False)
        self._val_rows: list[dict[str, float]] = []

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        settings = getattr(datamodule, "features", None)
        if settings is not None and settings != self.features:
            raise ValueError(
                f"the datamodule's features {settings.settings()} differ from the model's "
                f"{self.features.settings()}; set them in one place (model.features)"
            )
        identities = getattr(datamodule, "identities", None)
        conditioned = self.net.expression.identity is not None
        if conditioned and identities:
            # Recorded so that inference can condition by name (`FacePredictor.predict(identity=...)`).
            names = [name for name, _ in sorted(identities.items(), key=lambda item: item[1])]
            if len(names) > self.net.expression.identity.num_embeddings - 1:
                raise ValueError(f"the data has {len(names)} training identities but net.num_identities is "
                                 f"{self.net.expression.identity.num_embeddings - 1}")
            recorded = self.hparams.get("identities")
            if recorded and list(recorded) != names:
                raise ValueError(f"this model was trained on identities {list(recorded)}, the data has {names}")
            self.hparams.identities = names

    def losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        blendshapes, pose = self.net(batch["features"], batch["identity"])
        mask = batch["mask"].unsqueeze(2).float()
        frames = mask.sum().clamp_min(1.0)
        error = blendshapes - batch["blendshapes"]
        per_value = error.abs() + self.hparams.mse_weight * error.square()
        shape_error = (per_value * self.channel_weights * mask).sum() / (frames * NUM_BLENDSHAPES)
        pose_error = (((pose - batch["pose"]) / self.pose_scale).abs() * mask).sum() / (frames * pose.shape[2])
        both_real = mask[:, 1:] * mask[:, :-1]
        moving = both_real.sum().clamp_min(1.0)

        def velocity(pred: torch.Tensor, true: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
            difference = (pred.diff(dim=1) - true.diff(dim=1)) / scale
            return (difference.abs() * both_real).sum() / (moving * pred.shape[2])

        velocity_error = velocity(blendshapes, batch["blendshapes"], 1.0) + velocity(pose, batch["pose"], self.pose_scale)
        hp = self.hparams
        total = shape_error + hp.velocity_weight * velocity_error + hp.pose_weight * pose_error
        return {"loss": total, "blendshape_l1": shape_error, "velocity_l1": velocity_error, "pose_l1": pose_error,
                "_blendshapes": blendshapes}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        losses = self.losses(batch)
        size = len(batch["ids"])
        for name, value in losses.items():
            if not name.startswith("_"):
                self.log(f"train/{name}", value, prog_bar=name == "loss", batch_size=size)
        return losses["loss"]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        losses = self.losses(batch)
        size = len(batch["ids"])
        for name, value in losses.items():
            if not name.startswith("_"):
                self.log(f"val/{name}", value, batch_size=size)
        predicted = losses["_blendshapes"].float().cpu().numpy()
        truth = batch["blendshapes"].float().cpu().numpy()
        for row, frames in enumerate(batch["mask"].sum(dim=1).tolist()):
            pred, true = predicted[row, :frames], truth[row, :frames]
            metrics = {"mouth_l1": mouth_l1(pred, true)}
            try:
                sync = jaw_open_sync(pred, true, max_lag=5)
                metrics |= {"jaw_open_pearson": sync["pearson"], "jaw_open_lag_frames": abs(sync["lag_frames"])}
            except MetricError:  # too short, or a constant prediction (early in training)
                pass
            self._val_rows.append(metrics)

    def on_validation_epoch_end(self) -> None:
        rows, self._val_rows = self._val_rows, []
        for name in ("mouth_l1", "jaw_open_pearson", "jaw_open_lag_frames"):
            values = [row[name] for row in rows if name in row and np.isfinite(row[name])]
            if values:
                self.log(f"val/{name}", float(np.mean(values)), prog_bar=name == "mouth_l1")

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        decay = [p for p in self.net.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.net.parameters() if p.ndim < 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": hp.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=hp.learning_rate)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(total, hp.warmup_steps, final=0.05))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        hp = checkpoint["hyper_parameters"]
        return cls.submodule_weights(checkpoint, "net."), {
            "net": hp["net"], "features": dict(hp.get("features") or {}), "identities": list(hp.get("identities") or [])}
