"""The trainable SyncNet: synthetic talking faces, its data windows, training with exact resume, export
and loading for the lip-sync evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sonicsynth.data.manifest import read_alignment, read_manifest
from sonicsynth.data.synthetic_av import VISEME_SHAPES, build_synthetic_av_corpus, mouth_track, render_talking_face
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config


@pytest.fixture(scope="module")
def av_corpus(tiny_corpus: Path, tmp_path_factory) -> Path:
    return build_synthetic_av_corpus(tiny_corpus, tmp_path_factory.mktemp("av"), progress=False)


def _timed_utterance(tiny_corpus: Path):
    utterance = next(u for u in read_manifest(tiny_corpus) if u.source.startswith("mbrola"))
    return utterance, read_alignment(utterance.alignment_file(tiny_corpus.parent))


def test_mouth_follows_the_phone_timeline(tiny_corpus):
    utterance, alignment = _timed_utterance(tiny_corpus)
    frames = int(np.ceil(utterance.duration * 25))
    track = mouth_track(alignment, frames)
    assert track.shape == (frames, 2) and track.min() >= 0 and track.max() <= 1
    assert track[0, 0] == 0.0  # the utterance starts in silence: mouth closed
    # Opening peaks inside the span of an open vowel.
    opening = track[:, 0]
    assert opening.max() >= 0.6 and opening.std() > 0.1
    # Each phone holds its target shape at its midpoint.
    from sonicsynth.align.phone_sets import map_to_arpabet

    phone = max(map_to_arpabet(alignment.phones, alignment.phone_set), key=lambda p: p.end - p.start)
    midpoint_frame = (phone.start + phone.end) / 2 * 25
    if midpoint_frame == int(midpoint_frame):
        assert track[int(midpoint_frame), 0] == pytest.approx(VISEME_SHAPES[phone.phone][0])


def test_rendering_is_seeded_and_only_the_mouth_follows_speech(tiny_corpus):
    utterance, alignment = _timed_utterance(tiny_corpus)
    first = render_talking_face(alignment, utterance.duration, seed=0)
    assert first.shape[1:] == (224, 224, 3) and first.dtype == np.uint8
    assert np.array_equal(first, render_talking_face(alignment, utterance.duration, seed=0))
    assert not np.array_equal(first[0], render_talking_face(alignment, utterance.duration, seed=1)[0])
    # Where the mouth is: the lower-middle region changes most with the opening.
    track = mouth_track(alignment, len(first))
    closed, widest = int(np.argmin(track[:, 0])), int(np.argmax(track[:, 0]))
    diff = np.abs(first[widest].astype(int) - first[closed].astype(int)).sum(axis=2)
    rows = np.nonzero(diff.sum(axis=1) > 0)[0]
    assert rows.mean() > 112  # below the centre of the frame


def test_synthetic_av_corpus(av_corpus, tiny_corpus):
    from sonicsynth.metrics.lip_sync import read_face_centred_video

    utterances = read_manifest(av_corpus)
    speech = {u.id: u for u in read_manifest(tiny_corpus)}
    assert utterances and all(u.video_path and u.source.split("-")[0] in ("mbrola", "festival") for u in utterances)
    assert {u.split for u in utterances} == {"train", "val", "test"}
    first = utterances[0]
    assert first.audio_file(av_corpus.parent).resolve() == speech[first.id].audio_file(tiny_corpus.parent).resolve()
    frames, audio = read_face_centred_video(first.video_file(av_corpus.parent))
    assert frames.shape[1:] == (224, 224, 3)
    assert abs(len(frames) / 25 - first.duration) <= 0.04 + 1e-6
    assert abs(len(audio) / 16000 - first.duration) < 0.05
    # A second build keeps the rendered videos.
    video = first.video_file(av_corpus.parent)
    stamp = video.stat().st_mtime_ns
    build_synthetic_av_corpus(tiny_corpus, av_corpus.parent, progress=False)
    assert video.stat().st_mtime_ns == stamp


def test_sync_windows(av_corpus):
    from sonicsynth.data.av_datamodule import SyncNetDataModule

    data = SyncNetDataModule(str(av_corpus), max_offset=5, batch_size=2, items_per_epoch=4, val_stride=20)
    data.setup("fit")
    item = data.train_set[(0, 123)]
    assert item["video"].shape == (3, 5, 224, 224) and item["video"].max() > 1  # 0-255, not normalised
    assert item["audio"].shape == (11, 1, 13, 20) and int(item["target"]) == 5
    again = data.train_set[(0, 123)]
    assert torch.equal(item["video"], again["video"]) and torch.equal(item["audio"], again["audio"])
    # Neighbouring candidates are the audio windows one video frame (4 MFCC frames) apart.
    assert torch.equal(item["audio"][6, 0, :, :16], item["audio"][5, 0, :, 4:])
    assert len(data.val_set) > 0


def _train(av_corpus: Path, run_dir: Path, epochs: int, *extra: str) -> dict[str, float]:
    overrides = [
        "experiment=syncnet_synthetic",
        f"data.manifest={av_corpus}",
        "data.max_offset=5",
        "data.batch_size=4",
        "data.items_per_epoch=8",
        "data.max_val_windows=8",
        f"trainer.max_epochs={epochs}",
        "model.syncnet.audio_channels=[4,8,8,8,8,16]",
        "model.syncnet.video_channels=[4,8,8,8,8,16]",
        "model.syncnet.hidden_dim=16",
        "model.syncnet.embedding_dim=16",
        "callbacks.model_checkpoint.save_top_k=-1",
        "logger=csv",
        f"paths.output_dir={run_dir}",
        f"paths.log_dir={run_dir}",
        *extra,
    ]
    return train(compose_config("train", overrides))


def test_training_resumes_exactly_and_exports(av_corpus, tmp_path):
    from sonicsynth.export.from_checkpoint import package_from_checkpoint
    from sonicsynth.metrics.lip_sync import load_syncnet

    metrics = _train(av_corpus, tmp_path / "full", 2)
    assert np.isfinite(metrics["val/loss"]) and 0 <= metrics["val/offset_accuracy"] <= 1
    _train(av_corpus, tmp_path / "half", 1)
    _train(av_corpus, tmp_path / "resumed", 2, f"ckpt_path={tmp_path / 'half/checkpoints/last.ckpt'}")
    full = torch.load(tmp_path / "full/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    resumed = torch.load(tmp_path / "resumed/checkpoints/last.ckpt", weights_only=True)["state_dict"]
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)

    package = package_from_checkpoint(tmp_path / "full/checkpoints/last.ckpt", tmp_path / "syncnet_package")
    for source in (package, tmp_path / "full/checkpoints/last.ckpt"):
        syncnet = load_syncnet(source)
        assert not syncnet.training
        exported = {k: v for k, v in full.items() if k.startswith("syncnet.")}
        assert all(torch.equal(syncnet.state_dict()[k.removeprefix("syncnet.")], v) for k, v in exported.items())


def test_lip_sync_callback_logs_lse_in_sync_and_shifted(av_corpus, tmp_path):
    metrics = _train(av_corpus, tmp_path, 1, "callbacks.lip_sync.every_n_epochs=1", "callbacks.lip_sync.max_videos=1",
                     "callbacks.lip_sync.shift_frames=3")
    for label in ("in_sync", "shifted"):
        assert metrics[f"val/lse_d_{label}"] > 0 and np.isfinite(metrics[f"val/lse_c_{label}"])
        assert 0 <= metrics[f"val/offset_error_{label}"] <= 15 + 3
