"""Audio basics: the HiFi-GAN mel recipe, and loading with the checks users need on bad files."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

from sonicsynth.audio import AudioError, MelSpectrogram, load_audio, save_audio


def tone(seconds=0.5, sr=22050, freq=220.0):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_mel_matches_the_recipe_computed_with_librosa():
    """Reflect-pad (n_fft - hop) / 2, un-centred STFT, Slaney mel to 8 kHz, log with a 1e-5 floor."""
    wav = np.random.default_rng(0).standard_normal(256 * 40).astype(np.float32) * 0.1
    ours = MelSpectrogram()(torch.from_numpy(wav))[0].numpy()
    padded = np.pad(wav, (384, 384), mode="reflect")
    magnitude = np.abs(librosa.stft(padded, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=False))
    basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0, fmax=8000)
    expected = np.log(np.clip(basis @ magnitude, 1e-5, None))
    assert ours.shape == (80, 40)  # N hops in -> N frames out
    assert np.abs(ours - expected).max() < 1e-3


def test_save_then_load_round_trip(tmp_path):
    path = save_audio(tmp_path / "a.wav", tone(), 22050)
    audio = load_audio(path)
    assert audio.sample_rate == 22050 and audio.notes == []
    assert np.abs(audio.samples - tone()).max() < 1e-3  # 16-bit quantisation
    assert list(tmp_path.iterdir()) == [path]  # no temp file left


def test_wrong_sample_rate_is_resampled_with_a_note(tmp_path):
    sf.write(tmp_path / "a.wav", tone(sr=16000), 16000)
    audio = load_audio(tmp_path / "a.wav", sample_rate=22050)
    assert audio.sample_rate == 22050 and audio.original_sample_rate == 16000
    assert len(audio.samples) == 11025 and audio.original_duration == pytest.approx(0.5)
    assert audio.notes == ["resampled from 16000 Hz to 22050 Hz"]


def test_multichannel_is_downmixed_with_a_note(tmp_path):
    stereo = np.stack([tone(), -tone() * 0.5], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 22050)
    audio = load_audio(tmp_path / "s.wav")
    assert audio.original_channels == 2 and "down-mixed 2 channels" in audio.notes[0]
    assert np.abs(audio.samples - stereo.mean(axis=1)).max() < 1e-3


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"this is a text file, not audio\n" * 20, "not a readable audio file"),
    ],
)
def test_unusable_files_are_refused_by_name(tmp_path, content, problem):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=problem) as err:
        load_audio(path)
    assert str(path) in str(err.value)


def test_truncated_wav_is_refused(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(), 22050)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated") as err:
        load_audio(path)
    assert str(path) in str(err.value)


def test_missing_file_and_nan_samples(tmp_path):
    with pytest.raises(AudioError, match="no such audio file"):
        load_audio(tmp_path / "missing.wav")
    wav = tone()
    wav[100] = np.nan
    sf.write(tmp_path / "nan.wav", wav, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")
