"""SoVITS (GPT-SoVITS v2 "s2"): semantic tokens + phones + a reference voice -> speech.

Components as plain nn.Modules (the HiFi-GAN decoder is the vocoder family's generator), composed by
`SoVITSGenerator`; `SoVITSLitModule` trains it (`train.py experiment=sovits_base`); `published` loads
and writes the checkpoints GPT-SoVITS publishes; `load_sovits` loads any of package, training
checkpoint or published file.
"""

from sonicsynth.models.sovits.attention import ChannelLayerNorm, MultiHeadAttention, TransformerEncoder
from sonicsynth.models.sovits.flow import ResidualCouplingFlow
from sonicsynth.models.sovits.generator import SoVITSGenerator, SoVITSTrainingOutput
from sonicsynth.models.sovits.lightning_module import SoVITSLitModule
from sonicsynth.models.sovits.loading import load_sovits
from sonicsynth.models.sovits.mrte import MRTE
from sonicsynth.models.sovits.posterior_encoder import PosteriorEncoder
from sonicsynth.models.sovits.prior_encoder import PriorEncoder
from sonicsynth.models.sovits.quantizer import QuantizerOutput, ResidualVectorQuantizer
from sonicsynth.models.sovits.timbre_encoder import TimbreEncoder
from sonicsynth.models.sovits.wavenet import WaveNet

__all__ = [
    "MRTE",
    "ChannelLayerNorm",
    "MultiHeadAttention",
    "PosteriorEncoder",
    "PriorEncoder",
    "QuantizerOutput",
    "ResidualCouplingFlow",
    "ResidualVectorQuantizer",
    "SoVITSGenerator",
    "SoVITSLitModule",
    "SoVITSTrainingOutput",
    "TimbreEncoder",
    "TransformerEncoder",
    "WaveNet",
    "load_sovits",
]
