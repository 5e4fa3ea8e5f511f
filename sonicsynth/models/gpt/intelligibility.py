"""Validation by listening: the GPT in training speaks validation sentences through its SoVITS model,
a speech recogniser transcribes them, and the character error rate (`val/cer`) is logged, so the
checkpoint kept is the one whose speech is most intelligible rather than the one with the lowest
token loss (a GPT can predict tokens well on average and still skip or repeat words).

Each sentence is spoken reference-free (no token prompt: the text alone decides the tokens) with the
sentence's own recording as the timbre reference, under fixed sampling settings and seed 0, so two
epochs are compared on the same draws. Only sentences in the recogniser's language are scored
(pocketsphinx: English). Also logged: `val/wer` and `val/eos_rate`, the share of sentences that ended
with end-of-speech before the length limit (a GPT that never stops is caught early).
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import numpy as np

from sonicsynth.metrics.base import MetricError

log = logging.getLogger(__name__)


class SynthesisIntelligibilityCallback(L.Callback):
    """sovits: the SoVITS model to speak with (package or .ckpt); None = the one the training tokens
    came from (the `model` of the GPT's recorded token source). every_n_epochs / max_items: how often
    and how many validation sentences. sampling: `SamplingSettings` fields. max_piece_sec: the length
    limit of one sentence's speech."""

    def __init__(self, sovits: str | None = None, every_n_epochs: int = 5, max_items: int = 8, language: str = "en",
                 sampling: dict[str, Any] | None = None, max_piece_sec: float = 15.0, trust: bool = False) -> None:
        self.sovits, self.every_n_epochs, self.max_items = sovits, every_n_epochs, max_items
        self.language, self.sampling, self.max_piece_sec, self.trust = language, dict(sampling or {}), max_piece_sec, trust
        self._resynthesizer = None
        self._recognizer = None

    def _active(self, trainer: L.Trainer) -> bool:
        return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def _sovits_path(self, pl_module: L.LightningModule) -> str:
        if self.sovits:
            return self.sovits
        source = pl_module.hparams.get("token_source") or {}
        path = (source.get("config") or {}).get("model")
        if not path:
            raise ValueError(
                "SynthesisIntelligibilityCallback: the GPT records no SoVITS model for its tokens; set the "
                "callback's sovits to the SoVITS package the tokens came from"
            )
        return str(path)

    def speaker(self, pl_module: L.LightningModule):
        """The TTS pipeline around the network in training (built once, the SoVITS model reused)."""
        from sonicsynth.models.gpt.decoding import SamplingSettings
        from sonicsynth.pipelines.resynth import SoVITSResynthesizer
        from sonicsynth.pipelines.tts import TextToSpeech

        if self._resynthesizer is None:
            # Validation clips of any length serve as timbre references.
            self._resynthesizer = SoVITSResynthesizer.load(self._sovits_path(pl_module), trust=self.trust,
                                                           device=pl_module.device, reference_min_sec=None,
                                                           reference_max_sec=None)
        info = {"source": {"path": "the GPT in training", "compatibility_id": pl_module.hparams.get("compatibility_id")},
                "token_source": pl_module.hparams.get("token_source"),
                "text_settings": pl_module.hparams.get("text_settings")}
        return TextToSpeech(pl_module.net, info, self._resynthesizer, sampling=SamplingSettings(**self.sampling),
                            max_piece_sec=self.max_piece_sec, max_piece_chars=10_000)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self._active(trainer):
            return
        from sonicsynth.metrics.asr import PocketsphinxRecognizer, intelligibility

        items = [item for item in trainer.datamodule.val_set.items if item.utterance.language == self.language]
        items = items[: self.max_items]
        if not items:
            # NaN keeps the key there for a checkpoint callback monitoring it (it never picks NaN).
            log.warning("val/cer: no validation sentence in %r to score", self.language)
            for name in ("val/cer", "val/wer", "val/eos_rate"):
                pl_module.log(name, float("nan"), sync_dist=False)
            return
        if self._recognizer is None:
            self._recognizer = PocketsphinxRecognizer()
        speaker = self.speaker(pl_module)
        cer, wer, stopped = [], [], []
        for item in items:
            speech = speaker.speak(item.utterance.text, self.language, item.audio_path, seed=0)
            stopped.append(all(piece.stopped_at_eos for piece in speech.pieces))
            try:
                scores = intelligibility(speech.audio, speech.sample_rate, item.utterance.text, self._recognizer,
                                         name=item.utterance.id)
            except MetricError as error:  # e.g. nothing spoken: as bad as it gets
                log.info("val/cer: %s", error)
                scores = {"cer": 1.0, "wer": 1.0}
            cer.append(scores["cer"])
            wer.append(scores["wer"])
        pl_module.log("val/cer", float(np.mean(cer)), sync_dist=False)
        pl_module.log("val/wer", float(np.mean(wer)), sync_dist=False)
        pl_module.log("val/eos_rate", float(np.mean(stopped)), sync_dist=False)
