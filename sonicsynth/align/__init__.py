"""Forced alignment: the `Aligner` interface, its backends, TextGrid and MFA file formats, accuracy.

Backends register in `BACKENDS` (name -> factory taking the backend's options) so tools such as
eval/bench_alignment.py can run every one that works on this machine. The built-in CTC aligner needs
a trained model: `create_aligner("ctc", model=<package dir or .ckpt>, language="en")`, as does the
built-in HMM aligner ("hmm").
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sonicsynth.align.base import ARPABET, SILENCE_PHONE, Aligner, AlignmentError, check_plausible, transcript_words
from sonicsynth.align.mfa import MfaNotInstalledError, read_mfa_output, run_mfa_align, write_mfa_corpus
from sonicsynth.align.pocketsphinx_aligner import PocketsphinxAligner
from sonicsynth.align.textgrid import read_textgrid, read_textgrid_speakers, write_textgrid

def _trained_aligner(backend: str) -> Callable[..., Aligner]:
    """Factory of a built-in aligner backend ("ctc" or "hmm"), which needs a trained model."""

    def create(model: str | Path | None = None, language: str = "en", **options: Any) -> Aligner:
        """`options` go to the aligner (e.g. `boundary_shift_sec`, `min_silence_sec`)."""
        if model is None:
            raise ValueError(f"the {backend} backend needs model=<aligner package dir or training checkpoint>")
        from sonicsynth.models.aligner.inference import CTCAligner, HMMAligner
        from sonicsynth.text import TextFrontend

        aligner_class = {"ctc": CTCAligner, "hmm": HMMAligner}[backend]
        return aligner_class.load(model, TextFrontend(), language=language, **options)

    return create


BACKENDS: dict[str, Callable[..., Aligner]] = {
    "pocketsphinx": PocketsphinxAligner,
    "ctc": _trained_aligner("ctc"),
    "hmm": _trained_aligner("hmm"),
}


def create_aligner(name: str, **options: Any) -> Aligner:
    """A new aligner of the named backend; ValueError listing the known names otherwise."""
    if name not in BACKENDS:
        raise ValueError(f"unknown alignment backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name](**options)


__all__ = [
    "ARPABET",
    "BACKENDS",
    "SILENCE_PHONE",
    "Aligner",
    "AlignmentError",
    "MfaNotInstalledError",
    "PocketsphinxAligner",
    "check_plausible",
    "create_aligner",
    "read_mfa_output",
    "read_textgrid",
    "read_textgrid_speakers",
    "run_mfa_align",
    "transcript_words",
    "write_mfa_corpus",
    "write_textgrid",
]
