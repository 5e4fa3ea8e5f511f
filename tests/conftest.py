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
def av_corpus(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic audio-visual corpus of the tiny corpus's timed voices (mbrola-us1, festival-kal:
    two identities, 8 videos with exact motion targets); returns its manifest path."""
    from sonicsynth.data.synthetic_av import build_synthetic_av_corpus

    return build_synthetic_av_corpus(tiny_corpus, tmp_path_factory.mktemp("av"), progress=False)


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


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 16-d BERT with a word-piece vocabulary of single letters, Chinese
    characters and marks, saved as a downloaded model directory looks (model + fast tokenizer): the
    tests' per-phone BERT features."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("tiny-bert")
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters),
             *"你好世界我们走吧的是不一", *",.?!，。？！'"]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True).save_pretrained(out)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=256)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertModel(config)
    model.save_pretrained(out)
    return out


# ------------------------------------------------------------------------------------------ SoVITS

SSL_CONTENT_FEATURE = "sonicsynth.features.extractors.SSLContentFeature"


@pytest.fixture(scope="session")
def sovits_content_cache(tiny_corpus: Path, tiny_hubert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny corpus's 32-d content features (the tiny random HuBERT), prepared into a feature cache once."""
    from sonicsynth.data.feature_cache import prepare_features

    cache = tmp_path_factory.mktemp("sovits_cache")
    config = {"_target_": SSL_CONTENT_FEATURE, "model_dir": str(tiny_hubert_dir), "layer": None}
    summary = prepare_features(tiny_corpus, cache, [config], workers=1, progress=False)
    assert summary.computed["content"] == summary.utterances and not summary.problems
    return cache


@pytest.fixture(scope="session")
def sovits_overrides(tiny_corpus: Path, tiny_hubert_dir: Path, sovits_content_cache: Path,
                     tmp_path_factory: pytest.TempPathFactory):
    """make(run_dir, epochs, *extra) -> the train.py overrides of a tiny SoVITS run on the tiny corpus
    (2 batches of 2 an epoch, 1 validation batch, CPU)."""
    phonemized = tmp_path_factory.mktemp("phonemized")

    def make(run_dir: Path, epochs: int, *extra: str) -> list[str]:
        return [
            "model=sovits_tiny",
            "data=sovits_demo",
            "trainer=cpu",
            f"data.manifest={tiny_corpus}",
            f"data.cache_dir={sovits_content_cache}",
            f"data.features.content.model_dir={tiny_hubert_dir}",
            f"data.phonemization_cache_dir={phonemized}",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.min_items_per_epoch=4",
            f"trainer.max_epochs={epochs}",
            "++trainer.limit_train_batches=2",
            "++trainer.limit_val_batches=1",
            "++trainer.num_sanity_val_steps=0",
            "trainer.log_every_n_steps=1",
            f"paths.output_dir={run_dir}",
            f"paths.log_dir={run_dir}",
            *extra,
        ]

    return make


@pytest.fixture(scope="session")
def tiny_sovits_checkpoint(sovits_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.ckpt of one epoch of the tiny SoVITS (trained codebook, recorded content extractor)."""
    from sonicsynth.training import train
    from sonicsynth.utils.hydra_config import compose_config

    run_dir = tmp_path_factory.mktemp("tiny_sovits")
    train(compose_config("train", sovits_overrides(run_dir, 1, "validate_before_training=false", "logger=csv")))
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def tiny_aligner_overrides(tiny_corpus: Path):
    """`make(experiment, run_dir, *extra)`: overrides for a tiny CTC-aligner run on the tiny corpus."""

    def make(experiment: str, run_dir: Path, *extra: str) -> list[str]:
        return [
            f"experiment={experiment}",
            f"data.manifest={tiny_corpus}",
            "data.batch_size=4",
            "data.num_workers=0",
            "data.min_items_per_epoch=8",
            "model.recognizer.conv_channels=16",
            "model.recognizer.dilations=[1,2]",
            "trainer.max_epochs=2",
            "callbacks.model_checkpoint.save_top_k=-1",
            "logger=csv",
            f"paths.output_dir={run_dir}",
            f"paths.log_dir={run_dir}",
            *extra,
        ]

    return make


# ------------------------------------------------------------------------------------------ GPT


@pytest.fixture(scope="session")
def semantic_token_cache(tiny_sovits_checkpoint: Path, tiny_corpus: Path, sovits_content_cache: Path,
                         tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the content cache with the tiny corpus's semantic tokens from `tiny_sovits_checkpoint`
    (what the GPT stage trains on), extracted once."""
    import shutil

    from sonicsynth.data.semantic_tokens import extract_semantic_tokens
    from sonicsynth.pipelines.resynth import SoVITSResynthesizer

    cache = tmp_path_factory.mktemp("gpt_cache") / "cache"
    shutil.copytree(sovits_content_cache, cache)
    summary = extract_semantic_tokens(tiny_corpus, cache, SoVITSResynthesizer.load(tiny_sovits_checkpoint),
                                      progress=False)
    assert summary.computed == summary.utterances and not summary.problems
    return cache


@pytest.fixture(scope="session")
def gpt_overrides(tiny_corpus: Path, tiny_sovits_checkpoint: Path, semantic_token_cache: Path,
                  tmp_path_factory: pytest.TempPathFactory):
    """make(run_dir, epochs, *extra) -> the train.py overrides of a tiny GPT run (experiment=gpt_base_demo
    with model=gpt_tiny) on the tiny corpus's tokens from `tiny_sovits_checkpoint`: 4 batches of 2 an
    epoch, 2 accumulated per optimizer step, 1 validation batch, CPU, CSV logger."""
    phonemized = tmp_path_factory.mktemp("gpt_phonemized")

    def make(run_dir: Path, epochs: int, *extra: str) -> list[str]:
        return [
            "experiment=gpt_base_demo",
            "model=gpt_tiny",
            f"data.manifest={tiny_corpus}",
            f"data.cache_dir={semantic_token_cache}",
            f"data.features.semantic_tokens.model={tiny_sovits_checkpoint}",
            f"data.phonemization_cache_dir={phonemized}",
            "data.batch_size=2",
            "data.num_workers=0",
            "data.min_items_per_epoch=8",
            f"trainer.max_epochs={epochs}",
            "++trainer.limit_train_batches=4",
            "++trainer.accumulate_grad_batches=2",
            "trainer.limit_val_batches=1",
            "++trainer.num_sanity_val_steps=0",
            "trainer.log_every_n_steps=1",
            "logger=csv",
            f"paths.output_dir={run_dir}",
            f"paths.log_dir={run_dir}",
            # Speaking validation sentences has a test of its own (test_gpt_training).
            "callbacks.intelligibility=null",
            "callbacks.model_checkpoint.monitor=val/ce_per_token",
            *extra,
        ]

    return make


@pytest.fixture(scope="session")
def tiny_gpt_checkpoint(gpt_overrides, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.ckpt of one epoch of the tiny GPT on the tokens of `tiny_sovits_checkpoint`."""
    from sonicsynth.training import train
    from sonicsynth.utils.hydra_config import compose_config

    run_dir = tmp_path_factory.mktemp("tiny_gpt")
    train(compose_config("train", gpt_overrides(run_dir, 1, "validate_before_training=false")))
    return run_dir / "checkpoints" / "last.ckpt"
