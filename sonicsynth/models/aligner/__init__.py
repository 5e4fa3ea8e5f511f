"""The built-in CTC aligner: a small phone recogniser whose posteriors drive forced alignment and
whose hidden layer doubles as a speaker-independent content feature."""

from sonicsynth.models.aligner.acoustic_model import CTCPhoneRecognizer
from sonicsynth.models.aligner.lightning_module import CTCAlignerLitModule

__all__ = ["CTCAlignerLitModule", "CTCPhoneRecognizer"]
