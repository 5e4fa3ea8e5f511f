"""Per-phone BERT features (`sonicsynth.text.bert_features`) on a tiny random BERT saved locally:
word-to-token alignment through the tokenizer's offsets, zeros for other languages, and the GPT
trained and speaking with them (its projection learns, the package records the encoder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hydra.utils import instantiate

from sonicsynth.data.manifest import read_manifest
from sonicsynth.export.from_checkpoint import package_from_checkpoint
from sonicsynth.export.package import load_package
from sonicsynth.models.gpt.loading import load_gpt
from sonicsynth.pipelines.resynth import SoVITSResynthesizer
from sonicsynth.pipelines.tts import TextToSpeech
from sonicsynth.text import TextFrontend
from sonicsynth.text.bert_features import PhoneBertFeatures
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

BERT = "sonicsynth.text.bert_features.PhoneBertFeatures"


def test_each_phone_gets_the_mean_of_its_words_tokens(tiny_bert_dir):
    bert = PhoneBertFeatures(tiny_bert_dir, languages=["zh", "en"])
    text = TextFrontend().process("你好，世界。", "zh")
    words, counts = [w.text for w in text.words], [len(w.phones) for w in text.words]
    features = bert(words, counts, "zh")
    assert features.shape == (16, len(text.phones)) and features.dtype == np.float32

    # The same computation by hand: one token per character, [CLS] first.
    encoded = bert.tokenizer("".join(words), return_tensors="pt")
    with torch.no_grad():
        hidden = bert.model(**encoded, output_hidden_states=True).hidden_states[-3][0].numpy()
    start, token = 0, 1
    for word, count in zip(words, counts):
        expected = hidden[token : token + len(word)].mean(axis=0)
        np.testing.assert_allclose(features[:, start : start + count], np.repeat(expected[:, None], count, 1),
                                   rtol=1e-5, atol=1e-6)
        start, token = start + count, token + len(word)

    # English words are word pieces: "hello" is one word of several tokens; the comma its own.
    english = TextFrontend().process("hello, we go.", "en")
    words, counts = [w.text for w in english.words], [len(w.phones) for w in english.words]
    features = bert(words, counts, "en")
    first = features[:, : counts[0]]
    assert np.abs(first).sum() > 0 and np.allclose(first, first[:, :1])
    # A language outside `languages` (default: Mandarin only, as published) reads zeros.
    assert not PhoneBertFeatures(tiny_bert_dir)(words, counts, "en").any()
    with pytest.raises(FileNotFoundError, match="no such BERT model directory"):
        PhoneBertFeatures(tiny_bert_dir / "missing")


def test_a_gpt_trains_and_speaks_with_bert_features(gpt_overrides, tiny_bert_dir, tiny_sovits_checkpoint,
                                                    tiny_corpus, tmp_path):
    bert = [f"+model.bert._target_={BERT}", f"+model.bert.model_dir={tiny_bert_dir}",
            "+model.bert.languages=[en]", "model.net.bert_dim=16"]
    cfg = compose_config("train", gpt_overrides(tmp_path / "run", 1, "validate_before_training=false", *bert))
    # The features reach the network: its projection gets a gradient (frozen without them).
    datamodule, module = instantiate(cfg.data), instantiate(cfg.model)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    inputs = module.prepare_inputs(batch)
    assert inputs.bert.shape == (len(batch["id"]), 16, batch["phones"].shape[1]) and inputs.bert.abs().sum() > 0
    module.forward_batch(inputs).loss.backward()
    assert module.net.bert_proj.weight.requires_grad and module.net.bert_proj.weight.grad.abs().sum() > 0

    train(cfg)
    package = package_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "package")
    recorded = load_package(package).config["bert"]
    assert recorded["_target_"] == BERT and recorded["model_dir"] == str(tiny_bert_dir)

    net, info = load_gpt(package)
    speaker = TextToSpeech(net, info, SoVITSResynthesizer.load(tiny_sovits_checkpoint), max_piece_sec=0.5)
    assert speaker.bert is not None and speaker.bert.languages == {"en"}
    ids, features = speaker.phone_ids("Hello there.", "en", "text")
    assert features.shape == (16, len(ids)) and np.abs(features).sum() > 0
    reference = next(u for u in read_manifest(tiny_corpus) if u.id == "mbrola-us1-000")
    speech = speaker.speak("Hello there.", "en", reference.audio_file(tiny_corpus.parent), reference.text, seed=0)
    assert len(speech.audio) > 0
