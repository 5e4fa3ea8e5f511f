"""Training of the HiFi-GAN vocoder as a LightningModule (GAN, manual optimisation).

Components are built from their configs (`_target_` dicts), so a config swaps the generator or a
discriminator without code changes, and the checkpoint's hyper-parameters alone rebuild the model.
Each step trains the discriminators on real vs. generated segments, then the generator on
45 x mel L1 + 2 x feature matching + LSGAN, with AdamW (2e-4, betas 0.8/0.99) and an exponential
learning-rate decay of 0.999 per epoch, as in the paper.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from sonicsynth.audio import MelSpectrogram
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.models.vocoder.losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss
from sonicsynth.utils.media_logging import log_validation_sample


class HiFiGANLitModule(PackageableModule):
    family = "vocoder/hifigan"
    package_prefix = "generator."  # a package holds the generator; the discriminators stay behind

    def __init__(
        self,
        generator: dict,
        mpd: dict,
        msd: dict,
        mel: dict,
        loss_mel: dict | None = None,
        learning_rate: float = 2e-4,
        betas: tuple[float, float] = (0.8, 0.99),
        weight_decay: float = 0.01,
        lr_decay: float = 0.999,
        mel_loss_weight: float = 45.0,
        feature_matching_weight: float = 2.0,
        num_logged_samples: int = 4,
        compatibility_id: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.init_compatibility_id(compatibility_id)
        self.automatic_optimization = False
        self.generator = instantiate(generator)
        self.mpd = instantiate(mpd)
        self.msd = instantiate(msd)
        self.mel = MelSpectrogram(**mel)
        # The reference computes the loss mel over the full band (fmax_for_loss = None).
        self.loss_mel = MelSpectrogram(**(loss_mel if loss_mel is not None else {**mel, "fmax": None}))

    # ---------------------------------------------------------------- training
    def configure_optimizers(self):
        hp = self.hparams
        opt_g = torch.optim.AdamW(self.generator.parameters(), hp.learning_rate, betas=hp.betas, weight_decay=hp.weight_decay)
        opt_d = torch.optim.AdamW(
            [*self.mpd.parameters(), *self.msd.parameters()], hp.learning_rate, betas=hp.betas, weight_decay=hp.weight_decay
        )
        sched_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, gamma=hp.lr_decay)
        sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, gamma=hp.lr_decay)
        return [opt_g, opt_d], [sched_g, sched_d]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        wav = batch["audio"]  # (B, T), T a multiple of the hop
        real = wav.unsqueeze(1)
        fake = self.generator(self.mel(wav))

        # Discriminators: real vs. generated (generator gradients cut).
        mpd_real, _ = self.mpd(real)
        mpd_fake, _ = self.mpd(fake.detach())
        msd_real, _ = self.msd(real)
        msd_fake, _ = self.msd(fake.detach())
        loss_d = discriminator_loss(mpd_real, mpd_fake) + discriminator_loss(msd_real, msd_fake)
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()

        # Generator: reconstruction, feature matching and adversarial terms.
        mel_l1 = F.l1_loss(self.loss_mel(fake.squeeze(1)), self.loss_mel(wav))
        mpd_real, mpd_real_fmaps = self.mpd(real)
        mpd_fake, mpd_fake_fmaps = self.mpd(fake)
        msd_real, msd_real_fmaps = self.msd(real)
        msd_fake, msd_fake_fmaps = self.msd(fake)
        loss_fm = feature_matching_loss(mpd_real_fmaps, mpd_fake_fmaps) + feature_matching_loss(msd_real_fmaps, msd_fake_fmaps)
        loss_adv = generator_adversarial_loss(mpd_fake) + generator_adversarial_loss(msd_fake)
        hp = self.hparams
        loss_g = loss_adv + hp.feature_matching_weight * loss_fm + hp.mel_loss_weight * mel_l1
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()

        self.log_dict(
            {
                "train/loss_g": loss_g,
                "train/loss_d": loss_d,
                "train/mel_l1": mel_l1,
                "train/feature_matching": loss_fm,
                "train/adversarial": loss_adv,
            },
            prog_bar=False,
            on_step=True,
            on_epoch=False,
        )
        self.log("mel_l1", mel_l1, prog_bar=True, logger=False)

    def on_train_epoch_end(self) -> None:
        for scheduler in self.lr_schedulers():
            scheduler.step()

    # -------------------------------------------------------------- validation
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, Any]:
        wav = batch["audio"]
        fake = self.generator(self.mel(wav)).squeeze(1)
        mel_real, mel_fake = self.loss_mel(wav), self.loss_mel(fake)
        mel_l1 = F.l1_loss(mel_fake, mel_real)
        self.log("val/mel_l1", mel_l1, prog_bar=True, on_epoch=True, batch_size=wav.shape[0], sync_dist=True)
        if batch_idx < self.hparams.num_logged_samples and self.trainer.is_global_zero:
            log_validation_sample(self, batch_idx, wav[0], fake[0], mel_real[0], mel_fake[0], self.mel.sample_rate)
        # Waveforms for callbacks that score them (sonicsynth.metrics.callbacks.AudioMetricsCallback).
        return {"loss": mel_l1, "reference": wav, "generated": fake, "sample_rate": self.mel.sample_rate}

    # ------------------------------------------------------------------ export
    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What an exported vocoder needs: the generator's weights and the config to rebuild it."""
        hp = checkpoint["hyper_parameters"]
        return cls.submodule_weights(checkpoint, cls.package_prefix), {"generator": hp["generator"], "mel": hp["mel"]}
