"""The built-in CTC aligner through the real configs: train a tiny recogniser for a few steps on the
tiny corpus, export it, align with it through the backend registry, and refuse bad transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonicsynth.align import AlignmentError, create_aligner
from sonicsynth.data.manifest import read_manifest
from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import load_package
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config


@pytest.fixture(scope="module")
def trained_aligner(tiny_corpus, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("aligner_run")
    overrides = [
        "experiment=aligner_demo",
        f"data.manifest={tiny_corpus}",
        "data.batch_size=4",
        "data.num_workers=0",
        "data.min_items_per_epoch=8",
        "model.recognizer.conv_channels=16",
        "model.recognizer.dilations=[1,2]",
        "trainer.max_epochs=2",
        "logger=csv",
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
    ]
    train(compose_config("train", overrides))
    return run_dir / "checkpoints" / "last.ckpt"


def test_trained_aligner_exports_and_aligns(trained_aligner, tiny_corpus, tmp_path):
    package = package_from_checkpoint(trained_aligner, tmp_path / "aligner")
    assert load_package(package, family="aligner/ctc").config["recognizer"]["num_classes"] > 600

    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    aligner = create_aligner("ctc", model=package)
    alignment = aligner.align(utterance.audio_file(tiny_corpus.parent), utterance.text)
    phones, words = alignment.phones, alignment.words
    assert alignment.phone_set == "arpabet" and alignment.source == "ctc"
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(utterance.duration, abs=1e-3)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(phones, phones[1:]))  # contiguous
    assert [w.word for w in words] == [w.text for w in aligner.frontend.process(utterance.text).words
                                       if w.phones[0] not in ",.?!…;:"]
    assert all(w.start < w.end for w in words)


def test_ctc_backend_refuses_bad_transcripts(trained_aligner, tiny_corpus):
    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    aligner = create_aligner("ctc", model=trained_aligner)
    audio = utterance.audio_file(tiny_corpus.parent)
    with pytest.raises(AlignmentError, match="transcript"):
        aligner.align(audio, "   ")
    with pytest.raises(AlignmentError, match="cannot fit"):
        aligner.align(audio, " ".join(["antidisestablishmentarianism"] * 60))


def test_hidden_layer_as_cached_content_features(trained_aligner, tiny_corpus, tmp_path):
    from sonicsynth.data.feature_cache import prepare_features

    config = {"_target_": "sonicsynth.features.extractors.CTCContentFeature", "model": str(trained_aligner)}
    summary = prepare_features(tiny_corpus, tmp_path / "cache", [config], workers=1, progress=False)
    assert summary.computed["ctc_content"] == summary.utterances and not summary.problems


def test_ctc_backend_needs_a_model():
    with pytest.raises(ValueError, match="needs model="):
        create_aligner("ctc")


@pytest.mark.parametrize("encoder", ["conv", "lstm"])
def test_both_encoders_give_one_posterior_per_frame(encoder):
    import torch

    from sonicsynth.models.aligner import CTCPhoneRecognizer

    model = CTCPhoneRecognizer(50, conv_channels=8, encoder=encoder, dilations=(1, 2), lstm_hidden=8, lstm_layers=1).eval()
    mel = torch.randn(2, 80, 37)
    log_probs = model(mel, torch.tensor([37, 20]))
    assert log_probs.shape == (2, 37, 50)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 37), atol=1e-5)
    assert model.hidden(mel).shape == (2, 37, model.hidden_size)
    with pytest.raises(ValueError, match="encoder must be"):
        CTCPhoneRecognizer(50, encoder="gru")
