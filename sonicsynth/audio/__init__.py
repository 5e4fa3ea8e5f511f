"""Audio basics, defined once: file I/O, resampling and spectrogram features."""

from sonicsynth.audio.features import KaldiMfcc, LinearSpectrogram, MelSpectrogram, dynamic_range_compression
from sonicsynth.audio.io import (
    SILENCE_PEAK,
    AudioError,
    LoadedAudio,
    load_audio,
    resample,
    save_audio,
    silence_problem,
    truncation_problem,
)

__all__ = [
    "SILENCE_PEAK",
    "AudioError",
    "KaldiMfcc",
    "LinearSpectrogram",
    "LoadedAudio",
    "MelSpectrogram",
    "dynamic_range_compression",
    "load_audio",
    "resample",
    "save_audio",
    "silence_problem",
    "truncation_problem",
]
