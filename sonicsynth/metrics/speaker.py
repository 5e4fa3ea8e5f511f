"""Speaker similarity: cosine of two utterance embeddings from Resemblyzer's GE2E voice encoder.

- `SpeakerSimilarity.similarity` (needs a reference utterance of the target speaker; the text may
  differ): cosine similarity of the two 256-dim utterance embeddings, range -1..1, higher is more
  alike, 1 for identical audio. Resemblyzer's embeddings come out of a ReLU and are L2-normalised,
  so in practice values lie in 0..1. Measured on 4 sentences from the MBROLA us1/us2/us3 and Festival
  kal voices: same voice, different sentence 0.85..0.93; different voices 0.51..0.83. Values depend
  on the material: compare systems on the same references, not against a fixed threshold.
- `SpeakerSimilarity.embed`: the unit-norm embedding of one utterance.

Sample rate: the encoder runs at 16 kHz; input at any rate of 16 kHz or more is resampled to 16 kHz
(lower rates are refused: upsampling cannot restore the missing band). Resemblyzer's
`preprocess_wav` then raises quiet audio to -30 dBFS and cuts long pauses (webrtcvad). Each input
needs at least `MIN_SECONDS` (0.5 s) of audio, and as much speech left after that trimming; shorter
input, silence and bad sample rates raise `MetricError` naming the input.

The encoder (resemblyzer's bundled `pretrained.pt`, about 17 MB) is loaded on first use, once per
`SpeakerSimilarity` instance; keep one instance for a whole evaluation. The encoder (a 3-layer LSTM
of 256 units) runs with `threads` torch intra-op threads, 1 by default: its small matrix products gain
nothing from more, and on a machine with busy cores they made one embedding 100x slower (7.5 s
instead of 0.06 s for 2.4 s of speech on 2 cores).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch

from sonicsynth.audio.io import resample
from sonicsynth.metrics.base import MetricError, check_rate, check_signal

if TYPE_CHECKING:
    from resemblyzer import VoiceEncoder

SAMPLE_RATE = 16000  # resemblyzer's `sampling_rate`
MIN_SECONDS = 0.5


class SpeakerSimilarity:
    """Resemblyzer utterance embeddings and their cosine similarity; the encoder loads lazily."""

    sample_rate = SAMPLE_RATE

    def __init__(self, device: str = "cpu", threads: int | None = 1) -> None:
        self.device = device
        self.threads = threads  # torch intra-op threads while embedding; None leaves torch's setting
        self._encoder: VoiceEncoder | None = None

    @property
    def encoder(self) -> VoiceEncoder:
        if self._encoder is None:
            from resemblyzer import VoiceEncoder

            self._encoder = VoiceEncoder(device=self.device, verbose=False)
        return self._encoder

    def embed(self, samples: np.ndarray, sample_rate: int, *, name: str = "audio") -> np.ndarray:
        """Unit-norm utterance embedding (float32, shape (256,)) of one mono clip."""
        from resemblyzer import preprocess_wav

        check_rate(sample_rate, name=name, minimum=SAMPLE_RATE)
        samples = check_signal(samples, sample_rate, name=name, min_seconds=MIN_SECONDS)
        audio = np.asarray(resample(samples, sample_rate, SAMPLE_RATE), dtype=np.float32)
        audio = preprocess_wav(audio, source_sr=SAMPLE_RATE)  # same rate: no resampling, only level and VAD
        if len(audio) < MIN_SECONDS * SAMPLE_RATE:
            raise MetricError(
                f"{name}: {len(audio) / SAMPLE_RATE:.3f} s of speech left after voice activity trimming, "
                f"speaker similarity needs at least {MIN_SECONDS:g} s"
            )
        with _torch_threads(self.threads):
            return self.encoder.embed_utterance(audio).astype(np.float32)

    def similarity(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *,
                   name: str = "audio") -> float:
        """Cosine similarity (-1..1, 1 best) of the speaker embeddings of `reference` and `estimate`."""
        a = self.embed(reference, sample_rate, name=f"{name} (reference)")
        b = self.embed(estimate, sample_rate, name=f"{name} (estimate)")
        return cosine(a, b)


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads, then restore the previous count."""
    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embedding vectors (computed in float64)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
