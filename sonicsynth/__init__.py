"""sonicsynth: voice and face models of a talking digital human."""

__version__ = "0.1.0"
