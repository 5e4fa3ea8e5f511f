"""Speaker similarity (Resemblyzer) and ASR error rates (pocketsphinx + jiwer) on synthetic speech.

Clips come from the MBROLA us1 voice (two sentences) and Festival's kal voice (a different male US
speaker); each is synthesised once per module, as are the encoder and the decoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.data.tts_engines import voice_by_name
from sonicsynth.metrics.asr import (
    PocketsphinxRecognizer,
    SpeechRecognizer,
    error_rates,
    intelligibility,
    intelligibility_or_missed,
    normalize_transcript,
)
from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.speaker import SpeakerSimilarity

SENTENCE_A = "We will meet at the station before the train leaves tomorrow."
SENTENCE_B = "Please call Stella and ask her to bring these things with her from the store."

Clip = tuple[np.ndarray, int]


def _synthesize(voice_name: str, text: str, path: Path) -> Clip:
    voice = voice_by_name(voice_name)
    if not voice.is_installed():
        pytest.skip(f"voice {voice_name} is not installed (Debian package {voice.debian_package})")
    voice.synthesize(text, path)
    samples, rate = sf.read(path, dtype="float32")
    return samples, rate


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    out = tmp_path_factory.mktemp("speaker_asr")
    return {
        "us1_a": _synthesize("mbrola-us1", SENTENCE_A, out / "us1_a.wav"),
        "us1_b": _synthesize("mbrola-us1", SENTENCE_B, out / "us1_b.wav"),
        "kal_a": _synthesize("festival-kal", SENTENCE_A, out / "kal_a.wav"),
    }


@pytest.fixture(scope="module")
def speaker() -> SpeakerSimilarity:
    return SpeakerSimilarity()


@pytest.fixture(scope="module")
def recognizer() -> PocketsphinxRecognizer:
    return PocketsphinxRecognizer()


def test_similarity_with_itself_is_one(speaker: SpeakerSimilarity, clips: dict[str, Clip]) -> None:
    samples, rate = clips["us1_a"]
    assert speaker.similarity(samples, samples, rate) > 0.999
    embedding = speaker.embed(samples, rate)
    assert embedding.shape == (256,)
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-4)


def test_same_voice_is_more_similar_than_another_voice(speaker: SpeakerSimilarity, clips: dict[str, Clip]) -> None:
    (a, rate), (b, rate_b), (other, rate_other) = clips["us1_a"], clips["us1_b"], clips["kal_a"]
    assert rate == rate_b == rate_other
    same_voice = speaker.similarity(a, b, rate)  # different sentences
    other_voice = speaker.similarity(a, other, rate)  # same sentence, different speaker
    # Measured: 0.92 and 0.54.
    assert same_voice > other_voice + 0.1
    assert -1.0 <= other_voice < same_voice < 1.0


def test_similarity_refuses_silence_and_short_audio(speaker: SpeakerSimilarity, clips: dict[str, Clip]) -> None:
    samples, rate = clips["us1_a"]
    with pytest.raises(MetricError, match=r"pair \(estimate\).*silent"):
        speaker.similarity(samples, np.zeros(rate, dtype=np.float32), rate, name="pair")
    with pytest.raises(MetricError, match=r"short\.wav.*at least 0\.5 s"):
        speaker.embed(samples[: rate // 4], rate, name="short.wav")
    with pytest.raises(MetricError, match=r"low\.wav.*16000 Hz"):
        speaker.embed(samples[::2], rate // 2, name="low.wav")


def test_pocketsphinx_transcribes_clear_speech(recognizer: PocketsphinxRecognizer, clips: dict[str, Clip]) -> None:
    assert isinstance(recognizer, SpeechRecognizer)
    samples, rate = clips["us1_a"]
    result = intelligibility(samples, rate, SENTENCE_A, recognizer, name="us1_a.wav")
    # Measured: WER 0, CER 0 ("we will meet at the station before the train leaves tomorrow").
    assert result["wer"] < 0.5
    assert result["cer"] < 0.3
    assert isinstance(result["hypothesis"], str) and "station" in result["hypothesis"]
    # The decoder is reused: a second call on the same audio gives the same transcript.
    assert intelligibility(samples, rate, SENTENCE_A, recognizer)["hypothesis"] == result["hypothesis"]


def test_intelligibility_refuses_bad_input(recognizer: PocketsphinxRecognizer, clips: dict[str, Clip]) -> None:
    samples, rate = clips["us1_a"]
    with pytest.raises(MetricError, match=r"quiet\.wav.*silent"):
        intelligibility(np.zeros(rate, dtype=np.float32), rate, SENTENCE_A, recognizer, name="quiet.wav")
    with pytest.raises(MetricError, match=r"x\.wav.*no words"):
        intelligibility(samples, rate, " ... ", recognizer, name="x.wav")
    with pytest.raises(MetricError, match=r"x\.wav.*16000 Hz"):
        intelligibility(samples[::2], rate // 2, SENTENCE_A, recognizer, name="x.wav")
    # A report row counts a clip it cannot transcribe as every word missed, and goes on.
    missed = intelligibility_or_missed(np.zeros(rate, dtype=np.float32), rate, SENTENCE_A, recognizer, name="q.wav")
    assert missed == {"cer": 1.0, "wer": 1.0, "hypothesis": ""}
    assert intelligibility_or_missed(samples, rate, SENTENCE_A, recognizer) == intelligibility(
        samples, rate, SENTENCE_A, recognizer)


def test_error_rates_exact_values() -> None:
    assert error_rates("a b c", "a b c") == {"wer": 0.0, "cer": 0.0}
    one_substitution = error_rates("a b c", "a x c")
    assert one_substitution["wer"] == pytest.approx(1 / 3)
    assert one_substitution["cer"] == pytest.approx(1 / 5)  # one of the 5 characters "a b c"
    # Normalisation makes case and punctuation free.
    assert error_rates("Hello, World!", "hello world") == {"wer": 0.0, "cer": 0.0}
    assert error_rates("a b", "") == {"wer": 1.0, "cer": 1.0}
    with pytest.raises(MetricError, match="no words"):
        error_rates("?!", "a")


def test_normalize_transcript() -> None:
    assert normalize_transcript("  Don't STOP -- it's 2 o'clock!  ") == "don't stop it's 2 o'clock"
    assert normalize_transcript("'quoted' well-known") == "quoted well known"
