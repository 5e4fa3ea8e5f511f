"""Training of the aligner's phone recogniser on a corpus's own transcripts, in two phases.

1. CTC (the first `ctc_epochs` epochs): learns phone posteriors from transcripts alone. Targets are
   the text front end's phone ids without punctuation; id 0 (the pad symbol) is the CTC blank, so
   the recogniser's classes are exactly the symbol table and need no mapping.
2. Phone loop (the remaining epochs): the full-sum loss of `phone_loop`, which makes every frame
   belong to a phone or a pause (class 0 again), so the classes change where the sound changes.
   CTC's peaky spans place boundaries tens of milliseconds late; this phase is what makes the
   aligner's timing usable.

Optionally, between the two, a **teacher phase** (`teacher_epochs` epochs): frame-level
cross-entropy against the Viterbi path of a trained built-in HMM aligner (`teacher`, a package or
checkpoint of `experiment=aligner_hmm_demo`), the way hybrid acoustic models are trained on GMM-HMM
alignments. The HMM was itself trained on nothing but the corpus's transcripts, so the recipe stays
transcript-only; what the teacher adds is where its three-state phones put the boundaries, which CTC's
loss never asks for. On the demo corpus this lifts the recogniser from 62% to 77% of held-out
boundaries within 20 ms (eval/bench_alignment.py; 79.5% with the calibrated shifts of
`sonicsynth.align.calibration`), short of the teacher's 80% (82% calibrated): the network overfits
the 44 minutes of training speech (60% frame agreement with the teacher on validation against about
90% on training). Taught on 2.8 hours (`experiment=aligner_teacher_dialogue`: the same voices
reading 1,526 more lines) it places 78.8-79.9% raw and 81.3-82.2% calibrated (two seeds), about as
many as its teacher. `ctc_epochs` may be 0 in this recipe.

**Speed perturbation** (`speed_factors`, training only), Kaldi's recipe against overfitting a small
corpus: each training batch is played at a factor drawn from the list (0.9: 10% slower and lower),
by resampling, and the teacher's frame targets are stretched to match. One factor per batch keeps the
padding as it is. On the demo corpus it did not help (78.2% against 79.5%, calibrated): its voices are
the benchmark's voices, and perturbed copies of them are other voices.

Validation reports the losses and the phone error rate of greedy decoding. A checkpoint saved after
the CTC phase aligns with Viterbi over the phone loop, one from the CTC phase with CTC forced
alignment (`package_contents` records which as `decoding`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from hydra.utils import instantiate

from sonicsynth.audio import MelSpectrogram
from sonicsynth.models.aligner.hmm_module import HMMAlignerLitModule
from sonicsynth.models.aligner.phone_loop import (
    PAUSE_CLASS,
    batch_states,
    full_sum_loss,
)
from sonicsynth.models.packaging import PackageableModule
from sonicsynth.nn.schedules import phase_one_cycle
from sonicsynth.text.symbols import SYMBOLS


def greedy_decode(log_probs: torch.Tensor, length: int) -> list[int]:
    """Best path, repeats merged and blanks removed."""
    best = log_probs[:length].argmax(dim=-1).tolist()
    out, previous = [], 0
    for token in best:
        if token != previous and token != 0:
            out.append(token)
        previous = token
    return out


class CTCAlignerLitModule(PackageableModule):
    family = "aligner/ctc"

    def __init__(
        self,
        recognizer: dict,
        mel: dict,
        symbols: list[str] | None = None,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-2,
        ctc_epochs: int | None = None,
        phone_loop_learning_rate: float = 5e-4,
        teacher: str | None = None,
        teacher_epochs: int = 0,
        speed_factors: list[float] | None = None,
        compatibility_id: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if teacher_epochs and (teacher is None or ctc_epochs is None):
            raise ValueError("teacher_epochs needs a teacher (an HMM aligner package or checkpoint) and ctc_epochs (0 or more)")
        for factor in speed_factors or ():
            if not 0.5 <= factor <= 2.0 or float(mel["sample_rate"] * factor) != int(mel["sample_rate"] * factor):
                raise ValueError(f"speed factor {factor}: must lie in [0.5, 2] and make a whole sample rate "
                                 f"of {mel['sample_rate']} Hz")
        # The teacher's classes of each training utterance at its own frame rate, by id: the teacher is
        # fixed, so they are computed once (and mapped to the recogniser's frames at each speed).
        self._teacher_classes: dict[str, torch.Tensor] = {}
        self._teacher_frame_sec: float | None = None
        self._teacher_model: HMMAlignerLitModule | None = None
        # The symbol table is saved with the model: its classes are the table's indices.
        symbols = self.hparams.symbols = list(SYMBOLS) if symbols is None else symbols
        self.init_compatibility_id(compatibility_id)
        self.recognizer = instantiate(recognizer, num_classes=len(symbols))
        self.mel = MelSpectrogram(**mel)

    def configure_optimizers(self):
        """One-cycle learning rate per phase: each phase (CTC, teacher, phone loop) warms up and anneals afresh."""
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.parameters(), hp.learning_rate, weight_decay=hp.weight_decay)
        total = int(self.trainer.estimated_stepping_batches)
        max_epochs = self.trainer.max_epochs

        def steps_until(epoch: int | None) -> int:
            return total if epoch is None or max_epochs is None else total * min(epoch, max_epochs) // max_epochs

        ctc_steps = steps_until(hp.ctc_epochs)
        teacher_steps = steps_until(None if hp.ctc_epochs is None else hp.ctc_epochs + hp.teacher_epochs) - ctc_steps
        phases = [(1.0, ctc_steps), (1.0, teacher_steps),
                  (hp.phone_loop_learning_rate / hp.learning_rate, total - ctc_steps - teacher_steps)]
        phases = [phase for phase in phases if phase[1] > 0]
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, phase_one_cycle(phases))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    @property
    def output_frame_sec(self) -> float:
        return self.recognizer.output_frame_sec(self.mel.frame_sec)

    def _log_probs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities per output frame, and each item's number of output frames."""
        mel = self.mel(batch["audio"])
        frames = torch.clamp(batch["audio_lengths"] // self.mel.hop_length, max=mel.shape[-1])
        return self.recognizer(mel, frames), frames * self.recognizer.output_subframes

    @property
    def phase(self) -> str:
        """"ctc", "teacher" or "phone_loop": the loss of the current epoch."""
        ctc_epochs = self.hparams.ctc_epochs
        if ctc_epochs is None or self.current_epoch < ctc_epochs:
            return "ctc"
        return "teacher" if self.current_epoch < ctc_epochs + self.hparams.teacher_epochs else "phone_loop"

    def teacher_model(self) -> HMMAlignerLitModule:
        if self._teacher_model is None:
            teacher = HMMAlignerLitModule.load(self.hparams.teacher)
            if list(teacher.hparams.symbols) != list(self.hparams.symbols):
                raise ValueError(f"{self.hparams.teacher}: the teacher was trained with another symbol table")
            if teacher.features.sample_rate != self.mel.sample_rate:
                raise ValueError(f"{self.hparams.teacher}: the teacher reads {teacher.features.sample_rate} Hz audio, "
                                 f"the recogniser {self.mel.sample_rate} Hz")
            # A plain attribute, not a submodule: neither checkpoints nor packages carry the teacher.
            object.__setattr__(self, "_teacher_model", teacher)
        return self._teacher_model.to(self.device)

    def _teacher_frame_targets(self, batch: dict[str, torch.Tensor], frames: torch.Tensor, num_frames: int,
                               speed: float = 1.0) -> torch.Tensor:
        """(batch, frames) class of each recogniser output frame on the teacher's path (-100 where it has
        none): the teacher's class at the frame's centre (the teacher's frames are 5 ms: two to each
        10 ms frame, one to each sub-frame with `output_subframes=2`). `batch` holds the original audio;
        `frames` counts the recogniser's output frames of the audio played at `speed`, whose frame
        centre t lies at t * speed in the original."""
        missing = [i for i, key in enumerate(batch["id"]) if key not in self._teacher_classes]
        if missing:
            subset = {"audio": batch["audio"][missing], "audio_lengths": batch["audio_lengths"][missing]}
            for key in ("phones", "phones_lengths", "word_phone_counts", "word_phone_counts_lengths"):
                subset[key] = batch[key][missing]
            classes, self._teacher_frame_sec = self.teacher_model().frame_classes(subset)
            for index, item_classes in zip(missing, classes, strict=True):
                self._teacher_classes[batch["id"][index]] = item_classes
        # The ratio first (2.0 exactly for 10 ms output frames against 5 ms at speed 1), so that centres
        # on a teacher frame boundary do not round down by a floating-point hair.
        ratio = self.output_frame_sec * speed / self._teacher_frame_sec
        targets = torch.full((len(frames), num_frames), -100, dtype=torch.long)
        for index, key in enumerate(batch["id"]):
            item_classes = self._teacher_classes[key]
            if not len(item_classes):  # the teacher found no path: nothing to learn from this item
                continue
            count = min(int(frames[index]), num_frames)
            centres = ((torch.arange(count, dtype=torch.float64) + 0.5) * ratio + 1e-9).long()
            targets[index, :count] = item_classes[centres.clamp(max=len(item_classes) - 1)]
        return targets.to(self.device)

    def _ctc_loss(self, log_probs: torch.Tensor, frames: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """CTC on [pause] phones [pause]: recordings start and end in silence, and learning the pause
        class there is what lets the phone-loop phase place pauses at all (a class no frame was ever
        assigned to stays improbable, so no frame ever gets assigned to it)."""
        phones, lengths = batch["phones"], batch["phones_lengths"]
        targets = torch.full((len(phones), phones.shape[1] + 2), PAUSE_CLASS, dtype=phones.dtype, device=phones.device)
        targets[:, 1:-1] = phones
        targets[torch.arange(len(phones), device=phones.device), lengths + 1] = PAUSE_CLASS
        return F.ctc_loss(log_probs.transpose(0, 1), targets, frames, lengths + 2, zero_infinity=True)

    def _phone_loop_loss(self, log_probs: torch.Tensor, frames: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        states = batch_states(batch["phones"], batch["phones_lengths"], batch["word_phone_counts"],
                              batch["word_phone_counts_lengths"])
        return full_sum_loss(log_probs.float(), frames, states)

    def _speed_perturbed(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], float]:
        """The batch played at a factor drawn from `speed_factors` (the same batch at 1.0)."""
        factors = self.hparams.speed_factors
        if not factors:
            return batch, 1.0
        speed = float(factors[int(torch.randint(len(factors), ()))])
        if speed == 1.0:
            return batch, speed
        # Read at speed * rate and written at rate: `speed` times shorter, pitch and formants times `speed`.
        rate = self.mel.sample_rate
        audio = AF.resample(batch["audio"], int(rate * speed), rate)
        lengths = torch.clamp(torch.round(batch["audio_lengths"] / speed).long(), max=audio.shape[-1])
        return {**batch, "audio": audio, "audio_lengths": lengths}, speed

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        played, speed = self._speed_perturbed(batch)
        log_probs, frames = self._log_probs(played)
        phase = self.phase
        if phase == "teacher":
            # The teacher aligns the original audio; its targets are stretched to the played frames.
            targets = self._teacher_frame_targets(batch, frames, log_probs.shape[1], speed)
            loss = F.nll_loss(log_probs.float().transpose(1, 2), targets, ignore_index=-100)
        else:
            loss = {"ctc": self._ctc_loss, "phone_loop": self._phone_loop_loss}[phase](log_probs, frames, batch)
        self.log(f"train/{phase}", loss, prog_bar=True, batch_size=len(frames))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        log_probs, frames = self._log_probs(batch)
        loss = self._ctc_loss(log_probs, frames, batch)
        if self.hparams.ctc_epochs is not None:
            phone_loop = self._phone_loop_loss(log_probs, frames, batch)
            self.log("val/phone_loop", phone_loop, prog_bar=True, batch_size=len(frames), sync_dist=True)
        if self.hparams.teacher_epochs:
            # Agreement with the teacher's frames: how far the network has learnt (or left) its boundaries.
            targets = self._teacher_frame_targets(batch, frames, log_probs.shape[1])
            scored = targets != -100
            agreement = (log_probs.argmax(-1) == targets)[scored].float().mean() if bool(scored.any()) else log_probs.new_tensor(0.0)
            self.log("val/teacher_frame_agreement", agreement, batch_size=len(frames), sync_dist=True)
        errors = total = 0
        for i in range(len(frames)):
            decoded = [t for t in greedy_decode(log_probs[i], int(frames[i])) if t != PAUSE_CLASS]
            hypothesis = torch.tensor(decoded, dtype=torch.long)
            reference = batch["phones"][i, : batch["phones_lengths"][i]].cpu()
            errors += int(AF.edit_distance(reference, hypothesis))
            total += len(reference)
        self.log("val/ctc", loss, prog_bar=True, batch_size=len(frames), sync_dist=True)
        self.log("val/phone_error_rate", errors / max(total, 1), prog_bar=True, batch_size=len(frames), sync_dist=True)

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        hp = checkpoint["hyper_parameters"]
        weights = cls.submodule_weights(checkpoint, "recognizer.")
        ctc_epochs = hp.get("ctc_epochs")
        # The epoch a checkpoint records is the one it was saved in.
        decoding = "phone_loop" if ctc_epochs is not None and checkpoint["epoch"] >= ctc_epochs else "ctc"
        return weights, {"recognizer": {**hp["recognizer"], "num_classes": len(hp["symbols"])}, "mel": hp["mel"],
                         "symbols": hp["symbols"], "decoding": decoding}
