"""The audio-to-blendshape predictor: features framed by absolute time, a causal TCN with look-ahead,
streaming equal to offline, windowed long clips without seams, training with exact resume, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import read_manifest
from sonicsynth.models.face.audio_features import FaceAudioFeatures, FeatureStream
from sonicsynth.models.face.predictor import FaceMotionTCN
from sonicsynth.pipelines.audio_to_face import FacePredictor, load_face_predictor
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config

SMALL_FEATURES = FaceAudioFeatures(n_mels=20)


def _speech(tiny_corpus: Path) -> np.ndarray:
    utterance = next(u for u in read_manifest(tiny_corpus) if u.source.startswith("mbrola"))
    return load_audio(utterance.audio_file(tiny_corpus.parent), sample_rate=16000).samples


def _chunks(samples: np.ndarray, seed: int):
    rng, start = np.random.default_rng(seed), 0
    while start < len(samples):
        size = int(rng.integers(50, 2500))
        yield samples[start : start + size]
        start += size


def _small_net(lookahead: int = 2) -> FaceMotionTCN:
    torch.manual_seed(0)
    net = FaceMotionTCN(SMALL_FEATURES.dim, channels=16, dilations=(1, 2, 4), lookahead=lookahead, dropout=0.0)
    with torch.no_grad():  # non-trivial normalisation statistics, as after training
        net.input_norm.running_mean.normal_()
        net.input_norm.running_var.uniform_(0.5, 2.0)
    return net.eval()


def test_features_cover_each_40_ms_and_stream_exactly(tiny_corpus):
    samples = _speech(tiny_corpus)
    offline = SMALL_FEATURES(samples)
    assert offline.shape == (int(np.ceil(len(samples) / 640)), SMALL_FEATURES.dim) and np.isfinite(offline).all()
    stream = FeatureStream(SMALL_FEATURES)
    pieces = [stream.push(chunk) for chunk in _chunks(samples, seed=0)] + [stream.finish()]
    np.testing.assert_allclose(np.concatenate(pieces), offline, atol=1e-4)
    # The voicing flag (last of each 10 ms block) is on in much of speech and never in silence.
    per_block = SMALL_FEATURES.dim_per_frame
    assert offline[:, per_block - 1 :: per_block].mean() > 0.2
    silence = SMALL_FEATURES(np.zeros(3200, np.float32))
    assert silence.shape == (5, SMALL_FEATURES.dim) and not silence[:, per_block - 1 :: per_block].any()


def test_network_sees_exactly_its_look_ahead_and_receptive_field():
    net = _small_net(lookahead=2)
    assert net.receptive_field == 1 + 2 * (1 + 2 + 4)
    features = torch.randn(1, 60, SMALL_FEATURES.dim)
    changed = features.clone()
    changed[0, 30] += 5.0
    with torch.no_grad():
        before, after = net(features)[0][0], net(changed)[0][0]
    differs = (before - after).abs().amax(dim=1) > 1e-6
    # Frame 30's input reaches outputs 30 - lookahead .. 30 - lookahead + receptive_field - 1.
    assert not differs[:28].any() and differs[28]
    assert differs[28 : 28 + net.receptive_field].all() and not differs[28 + net.receptive_field :].any()
    blendshapes, pose = net(features)
    assert blendshapes.shape == (1, 60, 52) and pose.shape == (1, 60, 6)
    assert blendshapes.min() >= 0 and blendshapes.max() <= 1


def test_streaming_and_windowed_prediction_equal_offline(tiny_corpus):
    samples = _speech(tiny_corpus)
    predictor = FacePredictor(_small_net(), SMALL_FEATURES)
    offline = predictor.predict(samples).motion
    assert offline.num_frames == int(np.ceil(len(samples) / 640))
    windowed = FacePredictor(_small_net(), SMALL_FEATURES, window_frames=7).predict(samples)
    assert "windows" in windowed.notes[0]
    np.testing.assert_allclose(windowed.motion.blendshapes, offline.blendshapes, atol=1e-5)
    np.testing.assert_allclose(windowed.motion.pose, offline.pose, atol=1e-4)

    stream = predictor.stream()
    parts = [stream.push(chunk) for chunk in _chunks(samples, seed=1)] + [stream.finish()]
    streamed = np.concatenate([p.blendshapes for p in parts if p is not None])
    np.testing.assert_allclose(streamed, offline.blendshapes, atol=1e-4)
    # Frame 0 is final exactly when the last 10 ms frame of motion frame `lookahead` is complete:
    # 640 (lookahead + 1) - 80 samples plus the features' widest half window.
    needed = 640 * (predictor.net.lookahead + 1) - 80 + SMALL_FEATURES.margin
    stream = predictor.stream()
    assert stream.push(samples[: needed - 1]) is None
    first = stream.push(samples[needed - 1 : needed])
    assert first is not None and first.num_frames == 1
    np.testing.assert_allclose(first.blendshapes[0], offline.blendshapes[0], atol=1e-4)


def test_silence_keeps_the_face_at_rest_and_bad_audio_is_refused():
    predictor = FacePredictor(_small_net(), SMALL_FEATURES)
    result = predictor.predict(np.zeros(16000, np.float32), name="quiet.wav")
    assert result.motion.num_frames == 25 and not result.motion.blendshapes.any() and not result.motion.pose.any()
    assert "quiet.wav: no speech" in result.notes[0]
    with pytest.raises(ValueError, match="NaN"):
        predictor.predict(np.full(1600, np.nan, np.float32))
    with pytest.raises(ValueError, match="empty"):
        predictor.predict(np.zeros(0, np.float32))


def _train(av_corpus: Path, run_dir: Path, epochs: int, *extra: str) -> dict:
    overrides = [
        "experiment=a2bs_synthetic",
        "model=a2bs_tiny",
        f"data.manifest={av_corpus}",
        f"data.cache_dir={run_dir.parent / 'cache'}",
        "data.held_out_identities=[festival-kal]",
        "data.items_per_epoch=4",
        "data.batch_size=2",
        "data.window_frames=40",
        f"trainer.max_epochs={epochs}",
        "callbacks.model_checkpoint.save_top_k=-1",
        "logger=csv",
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
        *extra,
    ]
    return train(compose_config("train", overrides))


def test_training_resumes_exactly_exports_and_loads(av_corpus, tmp_path):
    from sonicsynth.export.from_checkpoint import package_from_checkpoint

    metrics = _train(av_corpus, tmp_path / "full", 2)
    assert np.isfinite(metrics["val/loss"]) and 0 <= metrics["val/mouth_l1"] <= 1
    # The same 2-epoch run stopped after its first epoch (as an interruption would), then resumed.
    _train(av_corpus, tmp_path / "half", 2, "+callbacks.stop._target_=lightning.pytorch.callbacks.EarlyStopping",
           "+callbacks.stop.monitor=val/mouth_l1", "+callbacks.stop.stopping_threshold=1.0e9")
    _train(av_corpus, tmp_path / "resumed", 2, f"ckpt_path={tmp_path / 'half/checkpoints/last.ckpt'}")
    checkpoint = tmp_path / "full/checkpoints/last.ckpt"
    full = torch.load(checkpoint, weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    assert full.keys() == resumed.keys() and all(torch.equal(full[k], resumed[k]) for k in full)

    package = package_from_checkpoint(checkpoint, tmp_path / "a2bs_package")
    speech = load_audio(next(u for u in read_manifest(av_corpus)).audio_file(av_corpus.parent), sample_rate=16000).samples
    motions = []
    for source in (package, checkpoint):
        net, features, info = load_face_predictor(source)
        assert not net.training and features == FaceAudioFeatures(n_mels=20) and info["compatibility_id"]
        motions.append(FacePredictor(net, features).predict(speech).motion.blendshapes)
    np.testing.assert_array_equal(*motions)


def test_held_out_identity_never_trains(av_corpus):
    from sonicsynth.data.face_motion_datamodule import FaceMotionDataModule

    data = FaceMotionDataModule(str(av_corpus), {"n_mels": 20}, held_out_identities=["festival-kal"], window_frames=30)
    data.setup("fit")
    assert {clip.identity for clip in data.splits["train"]} == {"mbrola-us1"}
    assert "festival-kal" in {clip.identity for clip in data.splits["test"]}
    batch = next(iter(data.train_dataloader()))
    assert batch["features"].shape[1:] == (30, SMALL_FEATURES.dim) and batch["blendshapes"].shape[2] == 52
    with pytest.raises(ValueError, match="not in the manifest"):
        FaceMotionDataModule(str(av_corpus), held_out_identities=["nobody"]).setup("fit")


def test_identity_conditioning_is_recorded_and_chosen_by_name(av_corpus, tmp_path):
    _train(av_corpus, tmp_path / "conditioned", 1, "model.net.num_identities=2", "data.held_out_identities=[]",
           "validate_before_training=false")
    checkpoint = tmp_path / "conditioned/checkpoints/last.ckpt"
    predictor = FacePredictor.load(checkpoint)
    assert predictor.source["config"]["identities"] == ["festival-kal", "mbrola-us1"]
    speech = load_audio(next(u for u in read_manifest(av_corpus)).audio_file(av_corpus.parent), sample_rate=16000).samples
    neutral = predictor.predict(speech).motion.blendshapes
    styled = predictor.predict(speech, identity="mbrola-us1").motion.blendshapes
    assert not np.array_equal(neutral, styled)
    with pytest.raises(ValueError, match="'nobody' is not one this model was conditioned on"):
        predictor.predict(speech, identity="nobody")


def test_content_features_join_the_acoustic_ones_offline_only(tiny_corpus, tiny_hubert_dir):
    content = {"_target_": "sonicsynth.features.extractors.SSLContentFeature", "model_dir": str(tiny_hubert_dir)}
    features = FaceAudioFeatures(n_mels=20, content=content)
    samples = _speech(tiny_corpus)
    computed = features(samples)
    assert features.content_dim > 0 and computed.shape == (int(np.ceil(len(samples) / 640)), features.dim)
    np.testing.assert_array_equal(computed[:, : SMALL_FEATURES.dim], SMALL_FEATURES(samples))
    assert features.settings()["content"]["kind"] == "ssl_hidden_states" and features.settings() != SMALL_FEATURES.settings()
    torch.manual_seed(0)
    net = FaceMotionTCN(features.dim, channels=16, dilations=(1, 2), lookahead=2).eval()
    predictor = FacePredictor(net, features)
    offline = predictor.predict(samples).motion
    assert offline.num_frames == len(computed)
    windowed = FacePredictor(net, features, window_frames=7).predict(samples).motion
    np.testing.assert_allclose(windowed.blendshapes, offline.blendshapes, atol=1e-5)
    with pytest.raises(ValueError, match="streaming needs a model trained without them"):
        predictor.stream()
