"""HiFi-GAN vocoder: generator (V1/V2/V3), multi-period and multi-scale discriminators, training."""

from sonicsynth.models.vocoder.discriminators import MultiPeriodDiscriminator, MultiScaleDiscriminator
from sonicsynth.models.vocoder.generator import HiFiGANGenerator, ResBlock1, ResBlock2
from sonicsynth.models.vocoder.lightning_module import HiFiGANLitModule

__all__ = [
    "HiFiGANGenerator",
    "HiFiGANLitModule",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "ResBlock1",
    "ResBlock2",
]
