"""Training of the SoVITS generator (GPT-SoVITS v2 "s2") as a LightningModule (VITS GAN, manual optimisation).

Each batch (from `SpeechDataModule`: waveforms, phone ids, cached content features) is turned into
the generator's inputs on the model's device: the linear magnitude spectrogram the posterior reads,
computed from the audio, and the content features brought to its frame rate. Then, as in VITS:

    generator forward (posterior sample, prior, flow, the decoded random slice of z)
    discriminator step on the real audio slice vs. the generated slice (detached)
    generator step on 45 x mel L1 + 1 x KL + 2 x feature matching + LSGAN + commitment

with AdamW (1e-4, betas 0.8/0.99, eps 1e-9) and an exponential learning-rate decay of 0.999875 per
epoch, the published recipe. The phone side of the prior encoder (text embedding, text encoder,
MRTE) trains at `text_lr_scale` (0.4) times the rate. With a frozen quantizer (fine-tuning the
published model, whose tokens the GPT stage was trained on) the content projection and the
quantizer are out of the optimiser and stay in eval mode, so the codebook never moves.

Randomness of a step (posterior noise, slice positions, dropout, k-means initialisation and dead-code
re-seeding) comes from generators seeded by (seed, epoch, batch index, rank), so a run resumed from an
end-of-epoch checkpoint reproduces the uninterrupted one exactly.

Validation resynthesises each utterance from its own semantic tokens with itself as the timbre
reference (seed 0), logs the mel L1 against the real audio, audio and mel plots of the first few,
and returns the waveforms for `sonicsynth.metrics.callbacks.AudioMetricsCallback`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from sonicsynth.audio import LinearSpectrogram, MelSpectrogram
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.models.sovits.few_shot import check_few_shot_set
from sonicsynth.models.sovits.generator import SoVITSGenerator
from sonicsynth.models.sovits.losses import kl_divergence
from sonicsynth.models.sovits.sequence import resample_frames, slice_segments
from sonicsynth.models.vocoder.losses import discriminator_loss, feature_matching_loss, generator_adversarial_loss
from sonicsynth.utils.media_logging import log_validation_sample
from sonicsynth.utils.seeding import fork_global_rng, step_seed

# The phone-side modules of the prior encoder, trained at `text_lr_scale` times the learning rate.
TEXT_MODULES = ("text_embedding", "encoder_text", "mrte")


@dataclass
class SoVITSInputs:
    """The generator's inputs for one batch, at the spectrogram frame rate."""

    audio: torch.Tensor  # (batch, samples), zero-padded
    audio_lengths: torch.Tensor  # (batch,)
    spec: torch.Tensor  # (batch, n_fft // 2 + 1, frames) linear magnitude, zero after each item's frames
    spec_lengths: torch.Tensor  # (batch,) = audio_lengths // hop_length
    content: torch.Tensor  # (batch, content_dim, frames)
    phones: torch.Tensor  # (batch, phones)
    phone_lengths: torch.Tensor  # (batch,)


def _as_float(logits: list[torch.Tensor]) -> list[torch.Tensor]:
    return [x.float() for x in logits]


def _fmaps_as_float(fmaps: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
    return [[x.float() for x in layers] for layers in fmaps]


class SoVITSLitModule(PackageableModule):
    family = "sovits"
    package_prefix = "generator."  # a package holds the generator; the discriminator stays behind

    def __init__(
        self,
        generator: dict,
        discriminator: dict,
        spectrogram: dict,
        mel: dict,
        content_key: str = "content",
        content_extractor: dict | None = None,
        text_settings: dict | None = None,
        learning_rate: float = 1e-4,
        betas: tuple[float, float] = (0.8, 0.99),
        eps: float = 1e-9,
        weight_decay: float = 0.01,
        lr_decay: float = 0.999875,
        text_lr_scale: float = 0.4,
        mel_loss_weight: float = 45.0,
        kl_loss_weight: float = 1.0,
        feature_matching_weight: float = 2.0,
        adversarial_weight: float = 1.0,
        commitment_weight: float = 1.0,
        val_noise_scale: float = 0.5,
        num_logged_samples: int = 4,
        seed: int = 0,
        few_shot: bool = False,
        compatibility_id: str | None = None,
    ) -> None:
        """generator / discriminator: `_target_` configs; spectrogram: sample_rate, n_fft, hop_length,
        win_length (and center, default False) of the linear magnitude spectrogram; mel: n_mels,
        fmin, fmax of the mel loss (same STFT); content_key: the batch field with the content
        features ("content" for SSL features, "ctc_content" for the built-in CTC aligner's);
        content_extractor: what makes those features ({"config": its `_target_` config, "name",
        "settings"}); text_settings: what makes the phone ids (`speech_datamodule.text_settings`).
        Both are recorded from the datamodule when training starts (see `setup`) and travel with
        checkpoints and packages, so inference computes its inputs as training did; set them only for
        a datamodule that does not report them. few_shot: check the datamodule's set as a few-shot
        fine-tuning set when training starts (`sonicsynth.models.sovits.few_shot`)."""
        super().__init__()
        self.save_hyperparameters()
        self.init_compatibility_id(compatibility_id)
        self.automatic_optimization = False
        self.generator: SoVITSGenerator = instantiate(generator)
        self.discriminator = instantiate(discriminator)

        spectrogram = self.hparams.spectrogram = spectrogram_settings(spectrogram)
        if spectrogram["hop_length"] != self.generator.hop_length:
            raise ValueError(
                f"spectrogram hop_length {spectrogram['hop_length']} != the decoder's hop length "
                f"{self.generator.hop_length}: each spectrogram frame must decode to exactly one hop of audio"
            )
        if spectrogram["n_fft"] // 2 + 1 != self.generator.spec_channels:
            raise ValueError(
                f"spectrogram n_fft {spectrogram['n_fft']} gives {spectrogram['n_fft'] // 2 + 1} bins, the "
                f"generator's posterior encoder reads {self.generator.spec_channels}"
            )
        stft = {k: spectrogram[k] for k in ("n_fft", "hop_length", "win_length", "center")}
        self.spectrogram = LinearSpectrogram(**stft)
        self.mel = MelSpectrogram(sample_rate=spectrogram["sample_rate"], **stft, **mel)
        for module in self.frozen_modules():
            module.requires_grad_(False)
        self._logged_samples = 0
        self._few_shot_checked = False

    # ------------------------------------------------------------------ properties
    @property
    def sample_rate(self) -> int:
        return self.hparams.spectrogram["sample_rate"]

    @property
    def hop_length(self) -> int:
        return self.hparams.spectrogram["hop_length"]

    def frozen_modules(self) -> list[torch.nn.Module]:
        """The content side that a frozen quantizer keeps fixed (none when the quantizer trains)."""
        if not self.generator.freeze_quantizer:
            return []
        return [self.generator.ssl_proj, self.generator.quantizer]

    def train(self, mode: bool = True) -> "SoVITSLitModule":
        # Lightning switches modes around validation; the frozen content side stays in eval mode
        # whatever it is asked, so no codebook update can happen.
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    def setup(self, stage: str) -> None:
        """Record what the datamodule makes the content features and phone ids with (it is set up
        first): the checkpoints then say how to compute this model's inputs."""
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        records = getattr(datamodule, "feature_records", None) or {}
        record = records.get(self.hparams.content_key)
        if record is not None:
            self.hparams.content_extractor = _plain(record)
        text = getattr(datamodule, "text_settings", None)
        if text is not None:
            self.hparams.text_settings = _plain(text)
        if self.hparams.get("few_shot") and not self._few_shot_checked and stage in ("fit", "validate"):
            self.check_few_shot_data(datamodule)

    def check_few_shot_data(self, datamodule: Any) -> None:
        """The fine-tuning set's checks (`check_few_shot_set`) on the datamodule's train and val items."""
        train_set, val_set = getattr(datamodule, "train_set", None), getattr(datamodule, "val_set", None)
        if train_set is None or val_set is None:
            raise ValueError(
                f"model.few_shot checks the fine-tuning set, but the datamodule {type(datamodule).__name__} has no "
                "train_set/val_set items to check"
            )
        manifest = getattr(datamodule, "hparams", {}).get("manifest", "the fine-tuning set")
        # Each utterance once: the repetition to min_items_per_epoch adds no audio.
        durations = [item.utterance.duration for item in train_set.items]
        check_few_shot_set(str(manifest), durations, len(val_set.items))
        self._few_shot_checked = True

    def keeps_compatibility_when_fine_tuned(self) -> bool:
        # A frozen quantizer keeps the base's tokens, so a GPT trained on them still fits; a trainable
        # one moves the codebook, and the tokens (and the compatibility) with it.
        return bool(self.generator.freeze_quantizer)

    # ------------------------------------------------------------------ inputs
    def linear_spectrogram(self, audio: torch.Tensor, audio_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, samples) padded waveforms -> (spec (batch, bins, frames), frame lengths), each item's
        spectrogram computed from its own samples (so its last frames see its end, not the padding)."""
        frame_lengths = audio_lengths // self.hop_length
        bins = self.hparams.spectrogram["n_fft"] // 2 + 1
        spec = audio.new_zeros(audio.shape[0], bins, int(frame_lengths.max()), dtype=torch.float32)
        with torch.autocast(audio.device.type, enabled=False):
            for i, (samples, frames) in enumerate(zip(audio_lengths.tolist(), frame_lengths.tolist())):
                item = self.spectrogram(audio[i : i + 1, :samples].float())
                spec[i, :, :frames] = item[0, :, :frames]
        return spec, frame_lengths

    def content_features(self, batch: dict[str, Any], spec_lengths: torch.Tensor, frames: int) -> torch.Tensor:
        """The batch's content features, checked against the generator and brought to the
        spectrogram frame rate (see `resample_frames` for why linear interpolation)."""
        key = self.hparams.content_key
        if key not in batch:
            present = sorted(k for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() == 3)
            raise KeyError(
                f"the batch has no {key!r} content features (3-d fields present: {present}); list the content "
                f"extractor under data.features, or set model.content_key to the field that holds them"
            )
        content = batch[key]
        expected = self.generator.ssl_proj.in_channels
        if content.dim() != 3 or content.shape[1] != expected:
            found = content.shape[1] if content.dim() == 3 else f"shape {tuple(content.shape)}"
            raise ValueError(
                f"content features {key!r} have {found} channels, but the generator's content projection "
                f"(generator.content_projection.in_channels) takes {expected}: prepare the features with the "
                f"extractor this model expects, or configure the projection for {found}-d features"
            )
        lengths = batch.get(f"{key}_lengths")
        if lengths is None:
            lengths = torch.full((content.shape[0],), content.shape[-1], dtype=torch.long)
        return resample_frames(content.float(), lengths, spec_lengths, frames)

    def prepare_inputs(self, batch: dict[str, Any]) -> SoVITSInputs:
        audio, audio_lengths = batch["audio"], batch["audio_lengths"]
        spec, spec_lengths = self.linear_spectrogram(audio, audio_lengths)
        content = self.content_features(batch, spec_lengths, spec.shape[-1])
        phones, phone_lengths = batch["phones"], batch["phones_lengths"]
        n_symbols = self.generator.enc_p.text_embedding.num_embeddings
        if phones.numel() and int(phones.max()) >= n_symbols:
            raise ValueError(
                f"phone id {int(phones.max())} is outside the generator's text embedding ({n_symbols} symbols): "
                "the data's symbol table does not fit generator.prior_encoder.n_symbols"
            )
        return SoVITSInputs(audio, audio_lengths, spec, spec_lengths, content, phones, phone_lengths)

    # ------------------------------------------------------------------ training
    def generator_param_groups(self) -> list[dict[str, Any]]:
        """The generator's trainable parameters: the phone side at `text_lr_scale` times the rate."""
        hp = self.hparams
        text_ids = {id(p) for name in TEXT_MODULES for p in getattr(self.generator.enc_p, name).parameters()}
        trainable = [p for p in self.generator.parameters() if p.requires_grad]
        return [
            {"name": "generator", "params": [p for p in trainable if id(p) not in text_ids], "lr": hp.learning_rate},
            {
                "name": "generator_text",
                "params": [p for p in trainable if id(p) in text_ids],
                "lr": hp.learning_rate * hp.text_lr_scale,
            },
        ]

    def configure_optimizers(self):
        hp = self.hparams
        common = dict(betas=tuple(hp.betas), eps=hp.eps, weight_decay=hp.weight_decay)
        opt_g = torch.optim.AdamW(self.generator_param_groups(), hp.learning_rate, **common)
        discriminator = [{"name": "discriminator", "params": list(self.discriminator.parameters())}]
        opt_d = torch.optim.AdamW(discriminator, hp.learning_rate, **common)
        sched_g = torch.optim.lr_scheduler.ExponentialLR(opt_g, gamma=hp.lr_decay)
        sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, gamma=hp.lr_decay)
        return [opt_g, opt_d], [sched_g, sched_d]

    @contextmanager
    def step_randomness(self, batch_idx: int) -> Iterator[torch.Generator]:
        """Seed everything random in a training step from (seed, epoch, batch index, rank).

        Yields a generator for the posterior noise and slice positions; torch's global RNG (dropout,
        k-means, dead-code re-seeding) is seeded too, inside a fork that restores it afterwards.
        """
        parts = (self.hparams.seed, self.current_epoch, batch_idx, self.global_rank)
        with fork_global_rng(step_seed(*parts, 0), self.device):
            yield torch.Generator(device=self.device).manual_seed(step_seed(*parts, 1))

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        hp = self.hparams
        opt_g, opt_d = self.optimizers()
        with self.step_randomness(batch_idx) as generator:
            inputs = self.prepare_inputs(batch)
            out = self.generator(
                inputs.content, inputs.spec, inputs.spec_lengths, inputs.phones, inputs.phone_lengths,
                generator=generator,
            )  # fmt: skip
            segment = self.generator.segment_frames
            real = slice_segments(inputs.audio.unsqueeze(1), out.ids_slice * self.hop_length, segment * self.hop_length)
            fake = out.audio

            # Discriminator: the real slice vs. the generated one (generator gradients cut).
            real_logits, _ = self.discriminator(real)
            fake_logits, _ = self.discriminator(fake.detach())
            loss_d = discriminator_loss(_as_float(real_logits), _as_float(fake_logits))
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()

            # Generator: reconstruction, KL, commitment (float32), then the adversarial terms.
            with torch.autocast(self.device.type, enabled=False):
                mel_real = slice_segments(self.mel.from_magnitude(inputs.spec), out.ids_slice, segment)
                mel_fake = self.mel(fake.squeeze(1).float())
                mel_l1 = F.l1_loss(mel_fake, mel_real)
                kl = kl_divergence(out.z_p, out.logs_q, out.m_p, out.logs_p, out.spec_mask)
                commitment = out.commitment_loss.float()
            _, real_fmaps = self.discriminator(real)
            fake_logits, fake_fmaps = self.discriminator(fake)
            loss_fm = feature_matching_loss(_fmaps_as_float(real_fmaps), _fmaps_as_float(fake_fmaps))
            loss_adv = generator_adversarial_loss(_as_float(fake_logits))
            loss_g = (
                hp.adversarial_weight * loss_adv
                + hp.feature_matching_weight * loss_fm
                + hp.mel_loss_weight * mel_l1
                + hp.kl_loss_weight * kl
                + hp.commitment_weight * commitment
            )
            opt_g.zero_grad(set_to_none=True)
            self.manual_backward(loss_g)
            opt_g.step()

        batch_size = inputs.audio.shape[0]
        self.log_dict(
            {
                "train/loss_g": loss_g,
                "train/loss_d": loss_d,
                "train/mel_l1": mel_l1,
                "train/kl": kl,
                "train/feature_matching": loss_fm,
                "train/adversarial": loss_adv,
                "train/commitment": commitment,
            },
            on_step=True,
            on_epoch=False,
            batch_size=batch_size,
        )
        self.log("mel_l1", mel_l1, prog_bar=True, logger=False, batch_size=batch_size)

    def on_train_start(self) -> None:
        # After any checkpoint or initial weights are in: a frozen codebook that never ran k-means is
        # all zeros, and every token would be 0.
        if self.generator.freeze_quantizer and not self.generator.quantizer.is_initialised:
            raise ValueError(
                "generator.freeze_quantizer is set but the codebook was never trained: a frozen quantizer needs "
                "trained weights (init_from=<checkpoint of a run that trained it>), or set "
                "model.generator.freeze_quantizer=false to train it"
            )

    def on_train_epoch_end(self) -> None:
        for scheduler in self.lr_schedulers():
            scheduler.step()

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def resynthesize(self, inputs: SoVITSInputs, index: int) -> torch.Tensor:
        """Item `index` decoded from its own semantic tokens, with itself as the timbre reference
        (seed 0: the same model gives the same audio) -> (samples,) float32."""
        frames = int(inputs.spec_lengths[index])
        spec = inputs.spec[index : index + 1, :, :frames]
        tokens = self.generator.extract_tokens(inputs.content[index : index + 1, :, :frames])
        phones = inputs.phones[index : index + 1, : int(inputs.phone_lengths[index])]
        audio = self.generator.decode(tokens, phones, spec, noise_scale=self.hparams.val_noise_scale, seed=0)
        return audio[0, 0].float()

    def on_validation_epoch_start(self) -> None:
        self._logged_samples = 0

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        inputs = self.prepare_inputs(batch)
        references, generated, losses = [], [], []
        for i in range(inputs.audio.shape[0]):
            fake = self.resynthesize(inputs, i)
            length = min(fake.shape[-1], int(inputs.audio_lengths[i]))
            real, fake = inputs.audio[i, :length].float(), fake[:length]
            with torch.autocast(self.device.type, enabled=False):
                mel_real, mel_fake = self.mel(real)[0], self.mel(fake)[0]
            losses.append(F.l1_loss(mel_fake, mel_real))
            references.append(real)
            generated.append(fake)
            if self._logged_samples < self.hparams.num_logged_samples and self.trainer.is_global_zero:
                log_validation_sample(self, self._logged_samples, real, fake, mel_real, mel_fake, self.sample_rate,
                                      generated_label="resynthesised")
                self._logged_samples += 1
        mel_l1 = torch.stack(losses).mean()
        self.log("val/mel_l1", mel_l1, prog_bar=True, on_epoch=True, batch_size=len(losses), sync_dist=True)
        # Waveforms (one tensor per utterance) for callbacks that score them (AudioMetricsCallback).
        return {"loss": mel_l1, "reference": references, "generated": generated, "sample_rate": self.sample_rate}

    # ------------------------------------------------------------------ export
    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What an exported SoVITS model needs: the generator's weights, the config that rebuilds it,
        the spectrogram it reads, the content features it expects and what makes them and the phone
        ids (None in checkpoints from before these were recorded). The discriminator stays behind."""
        hp = checkpoint["hyper_parameters"]
        config = {
            "generator": hp["generator"],
            "spectrogram": spectrogram_settings(hp["spectrogram"]),
            "content_key": hp.get("content_key", "content"),
            "content_extractor": hp.get("content_extractor"),
            "text_settings": hp.get("text_settings"),
        }
        return cls.submodule_weights(checkpoint, cls.package_prefix), config


def _plain(value: Any) -> Any:
    """Plain dicts and lists (what checkpoints loaded with weights_only and package configs hold)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def spectrogram_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The linear spectrogram settings in one canonical form (the keys
    `sonicsynth.models.sovits.published.spectrogram_config_from_published` gives for published models)."""
    required = ("sample_rate", "n_fft", "hop_length", "win_length")
    missing = [k for k in required if k not in settings]
    if missing:
        raise ValueError(f"spectrogram settings lack {', '.join(missing)} (have {sorted(settings)})")
    unknown = sorted(set(settings) - {*required, "center"})
    if unknown:
        raise ValueError(f"unknown spectrogram settings {unknown}; expected {[*required, 'center']}")
    return {**{k: int(settings[k]) for k in required}, "center": bool(settings.get("center", False))}
