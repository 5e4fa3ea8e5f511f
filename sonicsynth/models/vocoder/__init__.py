"""HiFi-GAN vocoder: generator (V1/V2/V3), multi-period and multi-scale discriminators (and their VITS
combination, used by SoVITS), training; and the Vocos generator (inverse-STFT head), SoVITS's other
decoder."""

from sonicsynth.models.vocoder.discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    PeriodScaleDiscriminator,
)
from sonicsynth.models.vocoder.generator import HiFiGANGenerator, ResBlock1, ResBlock2
from sonicsynth.models.vocoder.lightning_module import HiFiGANLitModule
from sonicsynth.models.vocoder.vocos import VocosGenerator

__all__ = [
    "HiFiGANGenerator",
    "HiFiGANLitModule",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "PeriodScaleDiscriminator",
    "ResBlock1",
    "ResBlock2",
    "VocosGenerator",
]
