"""Forced alignment: the `Aligner` interface, its backends, TextGrid and MFA file formats, accuracy.

Backends register in `BACKENDS` (name -> zero-argument factory) so tools such as
eval/bench_alignment.py can run every one that works on this machine.
"""

from collections.abc import Callable

from sonicsynth.align.base import ARPABET, SILENCE_PHONE, Aligner, AlignmentError, check_plausible, transcript_words
from sonicsynth.align.mfa import MfaNotInstalledError, read_mfa_output, run_mfa_align, write_mfa_corpus
from sonicsynth.align.pocketsphinx_aligner import PocketsphinxAligner
from sonicsynth.align.textgrid import read_textgrid, read_textgrid_speakers, write_textgrid

BACKENDS: dict[str, Callable[[], Aligner]] = {
    "pocketsphinx": PocketsphinxAligner,
}


def create_aligner(name: str) -> Aligner:
    """A new aligner of the named backend; ValueError listing the known names otherwise."""
    if name not in BACKENDS:
        raise ValueError(f"unknown alignment backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name]()


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
