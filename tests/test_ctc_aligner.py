"""The built-in aligner through the real configs: train a tiny recogniser for one CTC epoch and one
phone-loop epoch on the tiny corpus, export it, align with it (both decodings) through the backend
registry, and refuse bad transcripts."""

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
def trained_aligner(tiny_aligner_overrides, tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("aligner_run")
    overrides = tiny_aligner_overrides("aligner_demo", run_dir, "model.ctc_epochs=1")
    train(compose_config("train", overrides))
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.mark.parametrize(("checkpoint", "decoding"), [("epoch_0000.ckpt", "ctc"), ("last.ckpt", "phone_loop")])
def test_trained_aligner_exports_and_aligns(trained_aligner, tiny_corpus, tmp_path, checkpoint, decoding):
    package = package_from_checkpoint(trained_aligner.parent / checkpoint, tmp_path / "aligner")
    config = load_package(package, family="aligner/ctc").config
    assert config["recognizer"]["num_classes"] > 600 and config["decoding"] == decoding

    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    aligner = create_aligner("ctc", model=package)
    assert aligner.decoding == decoding
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

    model = CTCPhoneRecognizer(50, conv_channels=8, encoder=encoder, dilations=(1, 2), lstm_hidden=8, lstm_layers=1,
                               normalize_input=True, freq_mask=10, time_mask=5).eval()
    mel = torch.randn(2, 80, 37)
    log_probs = model(mel, torch.tensor([37, 20]))
    assert log_probs.shape == (2, 37, 50)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 37), atol=1e-5)
    assert model.hidden(mel).shape == (2, 37, model.hidden_size)
    with pytest.raises(ValueError, match="encoder must be"):
        CTCPhoneRecognizer(50, encoder="gru")


def test_input_normalisation_ignores_gain_and_masks_only_in_training():
    import torch

    from sonicsynth.models.aligner import CTCPhoneRecognizer

    torch.manual_seed(0)
    model = CTCPhoneRecognizer(50, conv_channels=8, dilations=(1,), dropout=0.0, normalize_input=True, freq_mask=20,
                               time_mask=8).eval()
    mel, lengths = torch.randn(2, 80, 40), torch.tensor([40, 25])
    louder = mel + 3.0  # a constant gain is an offset of the log-mel
    assert torch.allclose(model(mel, lengths), model(louder, lengths), atol=1e-4)
    assert torch.equal(model(mel, lengths), model(mel, lengths))  # no masking in eval
    model.train()
    assert not torch.equal(model(mel, lengths), model(mel, lengths))


def test_fine_tuning_starts_from_a_checkpoints_weights(trained_aligner, tiny_corpus, tmp_path):
    import torch
    from hydra.utils import instantiate

    from sonicsynth.export.package import ConfigWeightsMismatchError
    from sonicsynth.training import load_initial_weights

    def model_config(channels: int):
        return compose_config("train", ["experiment=aligner_demo", f"model.recognizer.conv_channels={channels}",
                                        "model.recognizer.dilations=[1,2]", f"paths.output_dir={tmp_path}"]).model

    model = instantiate(model_config(16))
    load_initial_weights(model, trained_aligner)
    trained = torch.load(trained_aligner, weights_only=True)["state_dict"]
    assert all(torch.equal(value, trained[name]) for name, value in model.state_dict().items())
    with pytest.raises(ConfigWeightsMismatchError, match="last.ckpt"):
        load_initial_weights(instantiate(model_config(8)), trained_aligner)


def test_output_subframes_classify_each_frame_in_time_order():
    import torch

    from sonicsynth.models.aligner import CTCPhoneRecognizer

    model = CTCPhoneRecognizer(50, conv_channels=8, dilations=(1, 2), output_subframes=2).eval()
    mel = torch.randn(2, 80, 37)
    log_probs = model(mel)
    assert log_probs.shape == (2, 74, 50) and model.hidden(mel).shape == (2, 37, 8)
    logits = model.output(model.hidden(mel))  # (batch, frame, sub-frame 0's classes + sub-frame 1's)
    assert torch.allclose(log_probs[:, 0::2], logits[..., :50].log_softmax(-1), atol=1e-6)
    assert torch.allclose(log_probs[:, 1::2], logits[..., 50:].log_softmax(-1), atol=1e-6)
    with pytest.raises(ValueError, match="output_subframes"):
        CTCPhoneRecognizer(50, output_subframes=0)


def test_a_recogniser_with_5ms_subframes_aligns_on_5ms_frames(tiny_corpus):
    """A phone-loop package whose recogniser has two output sub-frames per 10 ms mel frame aligns on
    5 ms frames, and its minimum phone length (30 ms) is 6 of them. Random weights: any path will do."""
    import torch

    from sonicsynth.models.aligner import CTCPhoneRecognizer
    from sonicsynth.models.aligner.inference import CTCAligner
    from sonicsynth.text import SYMBOLS, TextFrontend

    torch.manual_seed(0)
    recognizer = {"_target_": "sonicsynth.models.aligner.CTCPhoneRecognizer", "num_classes": len(SYMBOLS),
                  "conv_channels": 16, "dilations": [1, 2], "output_subframes": 2}
    weights = CTCPhoneRecognizer(**{k: v for k, v in recognizer.items() if k != "_target_"}).state_dict()
    mel = {"sample_rate": 16000, "n_fft": 512, "hop_length": 160, "win_length": 400}
    config = {"recognizer": recognizer, "mel": mel, "symbols": list(SYMBOLS), "decoding": "phone_loop"}
    aligner = CTCAligner(config, weights, TextFrontend(), min_silence_sec=0.0)
    assert aligner.frame_sec == pytest.approx(0.005) and aligner.min_phone_frames == 6
    utterance = next(u for u in read_manifest(tiny_corpus) if u.language == "en")
    phones = aligner.align(utterance.audio_file(tiny_corpus.parent), utterance.text).phones
    for phone in phones[:-1]:  # the last one ends with the audio
        assert phone.end / 0.005 == pytest.approx(round(phone.end / 0.005), abs=1e-6)
        assert phone.phone == "sil" or phone.end - phone.start >= 0.03 - 1e-9  # pauses have no minimum
