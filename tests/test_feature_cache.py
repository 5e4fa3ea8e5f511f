"""Feature extraction and the feature cache: reuse, targeted invalidation, bad items, SSL features."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from sonicsynth.audio.prosody import PitchConfig, extract_f0
from sonicsynth.data.feature_cache import FeatureCache, feature_key, prepare_features
from sonicsynth.data.manifest import read_manifest, write_manifest
from sonicsynth.features.extractors import SSLContentFeature
from sonicsynth.utils.hashing import sha256_file

FEATURES = [
    {"_target_": "sonicsynth.features.extractors.MelFeature", "sample_rate": 22050, "n_mels": 80},
    {"_target_": "sonicsynth.features.extractors.PitchFeature", "sample_rate": 16000},
    {"_target_": "sonicsynth.features.extractors.EnergyFeature", "sample_rate": 16000},
]


def test_yin_pitch_finds_a_tone_and_leaves_silence_unvoiced():
    sr = 16000
    t = np.arange(sr) / sr
    wav = np.concatenate([0.5 * np.sin(2 * np.pi * 220 * t), np.zeros(sr // 2)]).astype(np.float32)
    f0, voiced = extract_f0(wav, PitchConfig(sample_rate=sr))
    assert abs(np.median(f0[10:90]) - 220) < 2
    assert voiced[10:90].all() and not voiced[110:140].any()
    assert (f0[~voiced] == 0).all()


def test_prepare_then_reuse_then_recompute_only_what_changed(tiny_corpus, tmp_path):
    cache_root = tmp_path / "cache"
    first = prepare_features(tiny_corpus, cache_root, FEATURES, workers=2, progress=False)
    n = first.utterances
    assert dict(first.computed) == {"mel": n, "pitch": n, "energy": n} and not first.problems

    again = prepare_features(tiny_corpus, cache_root, FEATURES, workers=2, progress=False)
    assert dict(again.computed) == {} and dict(again.reused) == {"mel": n, "pitch": n, "energy": n}

    changed = [{**FEATURES[0], "n_mels": 64}, *FEATURES[1:]]
    third = prepare_features(tiny_corpus, cache_root, changed, workers=1, progress=False)
    assert dict(third.computed) == {"mel": n} and third.reused["pitch"] == n

    # Arrays are where the key says, with time last and consistent frame rates.
    from hydra.utils import instantiate

    utterance = read_manifest(tiny_corpus)[0]
    sha = sha256_file(utterance.audio_file(tiny_corpus.parent))
    cache = FeatureCache(cache_root)
    mel = cache.load(feature_key(instantiate(changed[0])), sha)["mel"]
    pitch = cache.load(feature_key(instantiate(FEATURES[1])), sha)
    assert mel.shape[0] == 64
    assert pitch["f0"].shape == pitch["voiced"].shape
    assert abs(len(pitch["f0"]) / 100 - utterance.duration) < 0.02  # 10 ms hop
    summary = json.loads((cache_root / "preparation_summary.json").read_text())
    assert summary["computed"] == {"mel": n}


def test_bad_items_are_reported_and_the_rest_prepared(tiny_corpus, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus.parent, corpus)
    utterances = read_manifest(corpus / tiny_corpus.name)
    good, missing, corrupt, silent, long = utterances[:5]
    missing.audio_file(corpus).unlink()
    corrupt.audio_file(corpus).write_bytes(b"RIFF....WAVEfmt garbage")
    sf.write(silent.audio_file(corpus), np.zeros(16000, dtype=np.float32), 16000)
    sf.write(long.audio_file(corpus), 0.1 * np.random.default_rng(0).standard_normal(16000 * 10).astype(np.float32), 16000)
    manifest = corpus / "manifest.jsonl"
    write_manifest(manifest, [good, missing, corrupt, silent, long])

    summary = prepare_features(manifest, tmp_path / "cache", FEATURES, workers=2, max_seconds=8.0, progress=False)
    reasons = {p["id"]: p["reason"] for p in summary.problems}
    assert reasons[missing.id] == "missing audio file"
    assert "not a readable audio file" in reasons[corrupt.id] and str(corrupt.audio_file(corpus)) in reasons[corrupt.id]
    assert reasons[silent.id].startswith("silent")
    assert reasons[long.id].startswith("too long")
    assert good.id not in reasons and summary.computed["mel"] == 1
    written = json.loads((tmp_path / "cache" / "preparation_summary.json").read_text())
    assert len(written["problems"]) == 4


def test_ssl_content_features_from_a_local_model(tiny_hubert_dir, tiny_corpus, tmp_path):
    extractor = SSLContentFeature(str(tiny_hubert_dir), layer=1)
    wav = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    content = extractor(wav)["content"]
    assert content.shape[0] == 32 and abs(content.shape[1] - 50) <= 1  # 50 Hz at 16 kHz
    assert extractor.settings()["weights"]  # the weights' hash is part of the cache key

    config = {"_target_": "sonicsynth.features.extractors.SSLContentFeature", "model_dir": str(tiny_hubert_dir)}
    summary = prepare_features(tiny_corpus, tmp_path / "cache", [config], workers=1, progress=False)
    assert summary.computed["content"] == summary.utterances and not summary.problems


def test_ssl_model_directory_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        SSLContentFeature(str(tmp_path))


def test_an_adapted_corpus_prepares_end_to_end_and_is_reused(tmp_path):
    """LJSpeech layout -> manifest (adapter) -> feature cache; the second run computes nothing."""
    from fixtures_adapters import build_ljspeech

    from sonicsynth.data.adapters import make_manifest

    root = tmp_path / "LJSpeech-1.1"
    build_ljspeech(root)
    manifest = tmp_path / "manifests" / "ljspeech.jsonl"
    utterances = make_manifest("ljspeech", root, manifest, progress=False)
    first = prepare_features(manifest, tmp_path / "cache", FEATURES, workers=1, progress=False)
    assert dict(first.computed) == {"mel": len(utterances), "pitch": len(utterances), "energy": len(utterances)}
    second = prepare_features(manifest, tmp_path / "cache", FEATURES, workers=1, progress=False)
    assert dict(second.computed) == {} and second.reused["mel"] == len(utterances)
