"""DNSMOS, PESQ, STOI, MCD and F0 metrics on synthetic speech (MBROLA us1, 16 kHz, about 3 s)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.audio.io import resample
from sonicsynth.data.tts_engines import voice_by_name
from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.mcd import mel_cepstral_distortion
from sonicsynth.metrics.pitch import f0_metrics
from sonicsynth.metrics.quality import dnsmos, pesq_score, stoi_score

SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
SNRS_DB = (30, 10, 0)
PESQ_WB_MAX = 4.644


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """About 3 s of synthetic speech, synthesized once for the module."""
    voice = voice_by_name("mbrola-us1")
    if not voice.is_installed():
        pytest.skip(f"voice mbrola-us1 is not installed (Debian package {voice.debian_package})")
    wav_path = tmp_path_factory.mktemp("metrics") / "speech.wav"
    voice.synthesize(SENTENCE, wav_path)
    samples, sample_rate = sf.read(wav_path, dtype="float32")
    assert samples.ndim == 1 and len(samples) > 2 * sample_rate
    return samples, sample_rate


def _add_noise(samples: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = np.mean(samples.astype(np.float64) ** 2)
    noise = rng.standard_normal(len(samples)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (samples + noise).astype(np.float32)


@pytest.fixture(scope="module")
def noisy(speech) -> dict[int, np.ndarray]:
    samples, _ = speech
    rng = np.random.default_rng(0)
    return {snr: _add_noise(samples, snr, rng) for snr in SNRS_DB}


def _strictly_decreasing(values: list[float]) -> bool:
    return all(a > b for a, b in itertools.pairwise(values))


# identical signals give the best value


def test_identical_pesq_and_stoi_are_best(speech):
    samples, sr = speech
    assert pesq_score(samples, samples, sr) == pytest.approx(PESQ_WB_MAX, abs=0.01)
    assert stoi_score(samples, samples, sr) == pytest.approx(1.0, abs=1e-6)
    assert stoi_score(samples, samples, sr, extended=True) == pytest.approx(1.0, abs=1e-6)


def test_identical_mcd_is_zero(speech):
    samples, sr = speech
    assert mel_cepstral_distortion(samples, samples, sr) == 0.0
    assert mel_cepstral_distortion(samples, samples, sr, use_dtw=False) == 0.0


def test_identical_f0_is_perfect(speech):
    samples, sr = speech
    result = f0_metrics(samples, samples, sr)
    assert result["f0_rmse_hz"] == 0.0
    assert result["f0_rmse_cents"] == 0.0
    assert result["vuv_f1"] == 1.0
    assert result["vuv_error"] == 0.0
    assert result["voiced_frames_both"] > 50


def test_dnsmos_keys_and_range(speech):
    samples, sr = speech
    result = dnsmos(samples, sr)
    assert set(result) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert all(1.0 <= value <= 5.0 for value in result.values())


# noise at falling SNR makes the scores fall


def test_pesq_falls_with_snr(speech, noisy):
    samples, sr = speech
    scores = [pesq_score(samples, noisy[snr], sr) for snr in SNRS_DB]
    assert scores[0] < PESQ_WB_MAX - 0.5
    assert _strictly_decreasing(scores), scores


def test_stoi_falls_with_snr(speech, noisy):
    samples, sr = speech
    scores = [stoi_score(samples, noisy[snr], sr) for snr in SNRS_DB]
    assert _strictly_decreasing(scores), scores
    assert scores[-1] < 0.95


def test_dnsmos_bak_falls_with_snr(speech, noisy):
    _, sr = speech
    scores = [dnsmos(noisy[snr], sr)["dnsmos_bak"] for snr in SNRS_DB]
    assert _strictly_decreasing(scores), scores


def test_mcd_and_f0_degrade_with_noise(speech, noisy):
    samples, sr = speech
    mcd = [mel_cepstral_distortion(samples, noisy[snr], sr) for snr in SNRS_DB]
    assert 0.0 < mcd[0] and _strictly_decreasing([-value for value in mcd]), mcd
    f1 = [f0_metrics(samples, noisy[snr], sr)["vuv_f1"] for snr in SNRS_DB]
    assert f1[0] > f1[-1], f1


def test_other_sample_rates_are_resampled(speech):
    samples, sr = speech
    upsampled = resample(samples, sr, 48000)
    assert pesq_score(upsampled, upsampled, 48000) == pytest.approx(PESQ_WB_MAX, abs=0.01)
    result = f0_metrics(upsampled, upsampled, 48000)
    assert result["f0_rmse_hz"] == 0.0 and result["vuv_f1"] == 1.0


def test_mcd_dtw_handles_a_time_shift(speech):
    samples, sr = speech
    shifted = np.concatenate([np.zeros(sr // 10, dtype=np.float32), samples])
    assert mel_cepstral_distortion(samples, shifted, sr) < 0.5 * mel_cepstral_distortion(
        samples, shifted, sr, use_dtw=False
    )


def test_f0_rmse_is_nan_without_common_voiced_frames(speech):
    samples, sr = speech
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(len(samples))).astype(np.float32)
    result = f0_metrics(samples, noise, sr)
    assert result["voiced_frames_both"] == 0
    assert np.isnan(result["f0_rmse_hz"]) and np.isnan(result["f0_rmse_cents"])
    assert result["vuv_f1"] == 0.0 and result["vuv_error"] > 0.5
    both_unvoiced = f0_metrics(noise, noise, sr)
    assert np.isnan(both_unvoiced["f0_rmse_hz"]) and both_unvoiced["vuv_f1"] == 1.0


# input problems raise MetricError naming the input


def test_silent_audio_is_rejected(speech):
    samples, sr = speech
    silence = np.zeros_like(samples)
    with pytest.raises(MetricError, match="clip.wav.*silent"):
        dnsmos(silence, sr, name="clip.wav")
    with pytest.raises(MetricError, match=r"clip.wav \(estimate\).*silent"):
        pesq_score(samples, silence, sr, name="clip.wav")
    with pytest.raises(MetricError, match=r"clip.wav \(reference\).*silent"):
        stoi_score(silence, samples, sr, name="clip.wav")
    with pytest.raises(MetricError, match="silent"):
        mel_cepstral_distortion(samples, silence, sr)
    with pytest.raises(MetricError, match="silent"):
        f0_metrics(silence, samples, sr)


def test_too_short_audio_is_rejected(speech):
    samples, sr = speech
    short = samples[sr // 2: sr // 2 + sr // 10]  # 0.1 s
    with pytest.raises(MetricError, match="clip.wav.*at least 1 s"):
        dnsmos(short, sr, name="clip.wav")
    with pytest.raises(MetricError, match="at least 0.25 s"):
        pesq_score(short, short, sr)
    with pytest.raises(MetricError, match="at least 0.4 s"):
        stoi_score(short, short, sr)
    with pytest.raises(MetricError, match="at least 0.025 s"):
        mel_cepstral_distortion(short[:160], short[:160], sr)
    with pytest.raises(MetricError, match="at least 0.064 s"):
        f0_metrics(short[:800], short[:800], sr)


def test_stoi_needs_enough_speech_after_silence_removal(speech):
    samples, sr = speech
    padded = np.zeros(sr, dtype=np.float32)
    padded[sr // 2: sr // 2 + 800] = samples[sr: sr + 800]  # 50 ms of speech in 1 s of silence
    with pytest.raises(MetricError, match="fewer than 30 frames"):
        stoi_score(padded, padded, sr)


def test_wrong_sample_rate_is_rejected(speech):
    samples, sr = speech
    narrow = resample(samples, sr, 8000)
    with pytest.raises(MetricError, match="clip.wav.*8000 Hz.*at least 16000 Hz"):
        pesq_score(narrow, narrow, 8000, name="clip.wav")
    with pytest.raises(MetricError, match="8000 Hz.*at least 16000 Hz"):
        dnsmos(narrow, 8000)
    with pytest.raises(MetricError, match="positive integer"):
        stoi_score(samples, samples, 0)
    assert pesq_score(narrow, narrow, 8000, mode="nb") > 4.0  # narrow band does run at 8 kHz


def test_pesq_rejects_unknown_mode_and_failures(speech):
    samples, sr = speech
    with pytest.raises(MetricError, match="mode"):
        pesq_score(samples, samples, sr, mode="fb")
    onset = samples[: int(0.26 * sr)]  # 0.1 s of leading silence, then the first 0.16 s of speech
    with pytest.raises(MetricError, match="clip.wav: PESQ failed: No utterances detected"):
        pesq_score(onset, onset, sr, name="clip.wav")


def test_dnsmos_rejects_out_of_range_samples(speech):
    samples, sr = speech
    with pytest.raises(MetricError, match=r"\[-1, 1\]"):
        dnsmos(samples * 4.0, sr)
