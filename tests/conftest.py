"""Session-wide fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonicsynth.data.demo_corpus import MANIFEST_NAME, DemoCorpusConfig, build_demo_corpus
from sonicsynth.data.tts_engines import voice_by_name

# One voice per engine that gives phone timings.
TINY_CORPUS_VOICES = ("mbrola-us1", "festival-kal", "flite-rms")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo corpus built once per session; returns its manifest path.

    3 synthetic voices with phone timings x 4 sentences, plus 2 clips per recorded speaker (4 Czech
    clips from the two main speakers, 2 LibriVox clips) where those Debian packages are installed.
    Every speaker with 3 or more utterances has train, val and test items. Builds in a few seconds.
    """
    for name in TINY_CORPUS_VOICES:
        voice = voice_by_name(name)
        if not voice.is_installed():
            pytest.skip(f"voice {name} is not installed (Debian package {voice.debian_package}; run scripts/setup.sh)")
    out_dir = tmp_path_factory.mktemp("tiny_corpus")
    config = DemoCorpusConfig(voices=TINY_CORPUS_VOICES, sentences=4, max_human_per_speaker=2)
    build_demo_corpus(out_dir, config, progress=False)
    return out_dir / MANIFEST_NAME


@pytest.fixture(scope="session")
def tiny_hubert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised HuBERT (32-d hidden states at 50 Hz) saved the way a downloaded model
    directory looks: the self-supervised content extractor of the tests."""
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    out = tmp_path_factory.mktemp("tiny-hubert")
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same weights in every session
        model = HubertModel(config)
    model.save_pretrained(out)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True).save_pretrained(out)
    return out
