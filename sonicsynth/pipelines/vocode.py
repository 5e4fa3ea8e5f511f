"""Vocoding files: wavs (copy synthesis through the vocoder's own mel) or mel .npy files -> wavs.

Every input is read and checked before anything is written, so a bad file stops the run with a
message naming it and no outputs (or, with `skip_bad_inputs`, is listed in the log and left out).
Each wav and the generation log are written atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from sonicsynth.audio import SILENCE_PEAK, AudioError, load_audio, save_audio
from sonicsynth.models.vocoder.inference import Vocoder
from sonicsynth.pipelines.generation_log import GenerationLog

log = logging.getLogger(__name__)

MEL_SUFFIX = ".npy"
AUDIO_SUFFIXES = {f".{ext.lower()}" for ext in sf.available_formats()} | {".ogg", ".opus"}


class VocodeInputError(ValueError):
    """One or more inputs cannot be vocoded; the message lists each file and its problem."""


@dataclass
class PreparedInput:
    path: Path
    mel: torch.Tensor  # (n_mels, frames)
    num_samples: int  # length of the output
    details: dict[str, Any]


def collect_inputs(input_path: str | Path | list[Path]) -> list[Path]:
    """A list of files, a file, or every audio/mel file under a directory (sorted, so runs are
    reproducible)."""
    if isinstance(input_path, list):
        missing = [str(p) for p in input_path if not Path(p).is_file()]
        if missing:
            raise FileNotFoundError(f"no such input file(s): {', '.join(missing)}")
        return [Path(p) for p in input_path]
    input_path = Path(input_path)
    if not input_path.exists():
        raise FileNotFoundError(f"{input_path}: no such input file or directory")
    if input_path.is_file():
        return [input_path]
    files = sorted(p for p in input_path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES | {MEL_SUFFIX})
    if not files:
        raise FileNotFoundError(f"{input_path}: no audio or {MEL_SUFFIX} files in this directory")
    return files


def read_mel(path: Path, n_mels: int) -> np.ndarray:
    """A (n_mels, frames) or (1, n_mels, frames) log-mel array, finite, as float32."""
    try:
        mel = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise VocodeInputError(f"{path}: not a readable .npy array ({err})") from err
    if mel.ndim == 3 and mel.shape[0] == 1:
        mel = mel[0]
    if mel.ndim != 2 or mel.shape[0] != n_mels:
        raise VocodeInputError(f"{path}: expected a mel array of shape ({n_mels}, frames), found {mel.shape}")
    if mel.shape[1] == 0:
        raise VocodeInputError(f"{path}: the mel array has no frames")
    bad = ~np.isfinite(mel)
    if bad.any():
        frames = np.unique(np.nonzero(bad)[1])
        raise VocodeInputError(f"{path}: {int(bad.sum())} NaN/inf values in the mel (frames {frames[:5].tolist()}...)")
    return mel.astype(np.float32)


def prepare_input(path: Path, vocoder: Vocoder) -> PreparedInput:
    if path.suffix.lower() == MEL_SUFFIX:
        mel = torch.from_numpy(read_mel(path, vocoder.mel.n_mels))
        frames = mel.shape[1]
        return PreparedInput(path, mel, frames * vocoder.hop_length, {"kind": "mel", "frames": frames})
    audio = load_audio(path, vocoder.sample_rate)
    notes = list(audio.notes)
    if float(np.abs(audio.samples).max()) < SILENCE_PEAK:
        notes.append("the input is silent (peak below -80 dBFS)")
    num_samples = len(audio.samples)
    # Pad to whole hops so the output covers the input; it is trimmed back to num_samples.
    padded = np.pad(audio.samples, (0, -num_samples % vocoder.hop_length))
    mel = vocoder.mel_from_audio(torch.from_numpy(padded))[0]
    details = {
        "kind": "audio",
        "duration_sec": audio.original_duration,
        "num_samples": audio.original_num_samples,
        "sample_rate": audio.original_sample_rate,
        "channels": audio.original_channels,
        "notes": notes,
    }
    for note in notes:
        log.warning("%s: %s", path, note)
    return PreparedInput(path, mel, num_samples, details)


def output_path_for(path: Path, input_root: Path | None, output_dir: Path) -> Path:
    """Mirror a directory input's layout; single files and lists are named by their stem."""
    relative = path.relative_to(input_root) if input_root is not None and input_root.is_dir() else Path(path.name)
    return output_dir / relative.with_suffix(".wav")


def vocode(
    vocoder: Vocoder,
    input_path: str | Path | list[Path],
    output_dir: str | Path,
    parameters: dict[str, Any],
    seed: int = 0,
    skip_bad_inputs: bool = False,
) -> Path:
    """Vocode every input; return the path of the generation log."""
    torch.manual_seed(seed)
    input_root = None if isinstance(input_path, list) else Path(input_path)
    output_dir = Path(output_dir)
    record = GenerationLog("vocode", parameters, seed)
    record.set_checkpoint(vocoder.source)

    prepared, problems = [], []
    with record.timed("load_inputs"):
        for path in collect_inputs(input_path):
            try:
                prepared.append(prepare_input(path, vocoder))
            except (AudioError, VocodeInputError) as err:
                problems.append((path, str(err)))
    if problems and not skip_bad_inputs:
        listing = "\n  ".join(message for _, message in problems)
        raise VocodeInputError(f"{len(problems)} input(s) cannot be vocoded; nothing was written:\n  {listing}")
    for path, message in problems:
        log.error("skipped %s", message)
        record.add_skipped(path, message)
    if not prepared:
        raise VocodeInputError(f"{input_root or 'the input list'}: no usable inputs")

    for item in prepared:
        with record.timed("vocode"):
            wav = vocoder(item.mel.unsqueeze(0))[0, : item.num_samples]
        out = output_path_for(item.path, input_root, output_dir)
        with record.timed("write_outputs"):
            save_audio(out, wav, vocoder.sample_rate)
        record.add_input(item.path, **item.details)
        record.add_output(out, duration_sec=item.num_samples / vocoder.sample_rate, sample_rate=vocoder.sample_rate, source=str(item.path))
    audio_seconds = sum(item.num_samples for item in prepared) / vocoder.sample_rate
    record.record["real_time_factor"] = record.record["timings_sec"]["vocode"] / audio_seconds
    return record.write(output_dir / "generation_log.json")
