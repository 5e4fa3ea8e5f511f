"""HiFi-GAN vocoder: generator (V1/V2/V3), multi-period and multi-scale discriminators (and their VITS
combination, used by SoVITS), training."""

from sonicsynth.models.vocoder.discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleDiscriminator,
    PeriodScaleDiscriminator,
)
from sonicsynth.models.vocoder.generator import HiFiGANGenerator, ResBlock1, ResBlock2
from sonicsynth.models.vocoder.lightning_module import HiFiGANLitModule

__all__ = [
    "HiFiGANGenerator",
    "HiFiGANLitModule",
    "MultiPeriodDiscriminator",
    "MultiScaleDiscriminator",
    "PeriodScaleDiscriminator",
    "ResBlock1",
    "ResBlock2",
]
