"""Loading and saving audio with soundfile, with the checks a user needs on bad files.

Everything returns float32 mono samples in [-1, 1]. A wrong sample rate is resampled and a
multi-channel file is down-mixed; both leave a note that callers copy into their generation log.
Files that cannot be used (empty, truncated, not audio, nothing but NaN) raise `AudioError`, whose
message names the file.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from sonicsynth.utils.atomic import atomic_write


# Below this peak (-80 dBFS) a clip is digital silence: nothing to hear, score or learn from.
SILENCE_PEAK = 1e-4
# Frames of this length measure the level of a clip in `silence_problem`.
LEVEL_FRAME_SEC = 0.025


class AudioError(ValueError):
    """An audio file that cannot be used; the message names the file and the problem."""


@dataclass
class LoadedAudio:
    samples: np.ndarray  # float32, shape (num_samples,)
    sample_rate: int
    path: Path
    original_sample_rate: int
    original_channels: int
    original_num_samples: int
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Exact duration in seconds, from the sample count."""
        return len(self.samples) / self.sample_rate

    @property
    def original_duration(self) -> float:
        """Exact duration of the file as stored, from its own sample count and rate."""
        return self.original_num_samples / self.original_sample_rate


def truncation_problem(path: str | Path) -> str | None:
    """What is wrong with a RIFF/WAVE file whose data chunk is shorter than its header declares, or None.

    libsndfile quietly reads what is there, so a copy cut short would otherwise pass as a
    shorter, valid clip (and its header-derived duration would be wrong). Other formats: None.
    """
    path = Path(path)
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                available = size - f.tell()
                # 0xFFFFFFFF marks a streamed file of unknown length; nothing to compare.
                if chunk_size != 0xFFFFFFFF and chunk_size > available:
                    return (f"truncated WAV file: the header declares {chunk_size} bytes of audio but only "
                            f"{available} are present")
                return None
            f.seek(chunk_size + (chunk_size & 1), 1)


def silence_problem(samples: np.ndarray, sample_rate: int, min_level_db: float | None = None) -> str | None:
    """Why a clip holds nothing to hear, or None.

    Silent: its peak is below -80 dBFS (`SILENCE_PEAK`). Near-silent, when `min_level_db` is given:
    even its loudest 25 ms frame has an RMS level below `min_level_db` dBFS (speech peaks around
    -30 to -10 dBFS; room tone, a muted microphone or faint hiss stay below -50).
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    if peak < SILENCE_PEAK:
        return "silent (peak below -80 dBFS)"
    if min_level_db is None:
        return None
    frame = max(1, round(LEVEL_FRAME_SEC * sample_rate))
    usable = samples[: len(samples) - len(samples) % frame] if len(samples) >= frame else samples
    frames = usable.reshape(-1, min(frame, len(usable)))
    loudest = float(np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)).max())
    level_db = 20.0 * np.log10(max(loudest, 1e-10))
    if level_db < min_level_db:
        return (f"near-silent (the loudest {LEVEL_FRAME_SEC * 1000:.0f} ms is at {level_db:.1f} dBFS, below "
                f"{min_level_db:g} dBFS)")
    return None


def resample(samples: np.ndarray | torch.Tensor, orig_sr: int, target_sr: int) -> np.ndarray | torch.Tensor:
    """Band-limited resampling (torchaudio's windowed sinc); returns the input type."""
    if orig_sr == target_sr:
        return samples
    if isinstance(samples, np.ndarray):
        out = AF.resample(torch.from_numpy(np.ascontiguousarray(samples)), orig_sr, target_sr)
        return out.numpy()
    return AF.resample(samples, orig_sr, target_sr)


def load_audio(path: str | Path, sample_rate: int | None = None, mono: bool = True) -> LoadedAudio:
    """Read an audio file as float32 samples, resampled to `sample_rate` when one is given."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    problem = truncation_problem(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{path}: not a readable audio file ({err})") from err
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")

    notes: list[str] = []
    channels = data.shape[1]
    if mono:
        if channels > 1:
            notes.append(f"down-mixed {channels} channels to mono by averaging")
        samples = data.mean(axis=1) if channels > 1 else data[:, 0]
    else:
        samples = data.T
    if sample_rate is not None and sr != sample_rate:
        notes.append(f"resampled from {sr} Hz to {sample_rate} Hz")
        samples = resample(samples, sr, sample_rate)
    return LoadedAudio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=sample_rate or sr,
        path=path,
        original_sample_rate=sr,
        original_channels=channels,
        original_num_samples=data.shape[0],
        notes=notes,
    )


def save_audio(path: str | Path, samples: np.ndarray | torch.Tensor, sample_rate: int, subtype: str = "PCM_16") -> Path:
    """Write a mono wav atomically (temp file + rename), clipping to [-1, 1] first."""
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().float().cpu().numpy()
    samples = np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, mode="wb") as f:
        sf.write(f, samples, sample_rate, subtype=subtype, format="WAV")
    return path
