"""The built-in aligners, trained on a corpus's own transcripts: a monophone GMM-HMM (the accurate
one, `hmm_module`) and a CTC phone recogniser whose hidden layer doubles as a speaker-independent
content feature (`lightning_module`)."""

from sonicsynth.models.aligner.acoustic_model import CTCPhoneRecognizer
from sonicsynth.models.aligner.hmm_module import HMMAlignerLitModule
from sonicsynth.models.aligner.lightning_module import CTCAlignerLitModule

__all__ = ["CTCAlignerLitModule", "CTCPhoneRecognizer", "HMMAlignerLitModule"]
