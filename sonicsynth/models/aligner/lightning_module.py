"""Training of the CTC phone recogniser on a corpus's own transcripts.

Targets are the text front end's phone ids without punctuation; id 0 (the pad symbol) is the CTC
blank, so the recogniser's classes are exactly the symbol table and need no mapping. Validation reports the phone error
rate of greedy decoding, the quantity that bounds alignment quality.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from hydra.utils import instantiate

from sonicsynth.audio import MelSpectrogram
from sonicsynth.models.packaging import PackageableModule


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
        compatibility_id: str | None = None,
    ) -> None:
        super().__init__()
        if symbols is None:
            from sonicsynth.text import SYMBOLS

            symbols = list(SYMBOLS)
        self.save_hyperparameters()
        self.hparams.symbols = symbols
        self.init_compatibility_id(compatibility_id)
        self.recognizer = instantiate(recognizer, num_classes=len(symbols))
        self.mel = MelSpectrogram(**mel)

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), self.hparams.learning_rate, weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, self.hparams.learning_rate, total_steps=self.trainer.estimated_stepping_batches, pct_start=0.1
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _log_probs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        mel = self.mel(batch["audio"])
        frames = torch.clamp(batch["audio_lengths"] // self.mel.hop_length, max=mel.shape[-1])
        return self.recognizer(mel, frames), frames

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        log_probs, frames = self._log_probs(batch)
        loss = F.ctc_loss(log_probs.transpose(0, 1), batch["phones"], frames, batch["phones_lengths"], zero_infinity=True)
        self.log("train/ctc", loss, prog_bar=True, batch_size=len(frames))
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        log_probs, frames = self._log_probs(batch)
        loss = F.ctc_loss(log_probs.transpose(0, 1), batch["phones"], frames, batch["phones_lengths"], zero_infinity=True)
        errors = total = 0
        for i in range(len(frames)):
            hypothesis = torch.tensor(greedy_decode(log_probs[i], int(frames[i])), dtype=torch.long)
            reference = batch["phones"][i, : batch["phones_lengths"][i]].cpu()
            errors += int(AF.edit_distance(reference, hypothesis))
            total += len(reference)
        self.log("val/ctc", loss, prog_bar=True, batch_size=len(frames), sync_dist=True)
        self.log("val/phone_error_rate", errors / max(total, 1), prog_bar=True, batch_size=len(frames), sync_dist=True)

    @classmethod
    def package_contents(cls, checkpoint: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        hp = checkpoint["hyper_parameters"]
        weights = cls.submodule_weights(checkpoint, "recognizer.")
        return weights, {"recognizer": {**hp["recognizer"], "num_classes": len(hp["symbols"])}, "mel": hp["mel"],
                         "symbols": hp["symbols"]}
