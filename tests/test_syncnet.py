"""The trainable SyncNet: synthetic talking faces, its data windows, training with exact resume, export
and loading for the lip-sync evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sonicsynth.data.manifest import read_manifest
from sonicsynth.data.synthetic_av import build_synthetic_av_corpus, load_motion
from sonicsynth.training import train
from sonicsynth.utils.hydra_config import compose_config


def test_rendered_face_follows_the_blendshapes_and_pose():
    """The drawn face opens its mouth with jawOpen (pixels below the centre change), closes its eyes
    with the blinks, turns with yaw, and the same weights always give the same frame."""
    from face_fixtures import drawn_face

    from sonicsynth.models.face.blendshapes import BLINK_INDICES, NUM_BLENDSHAPES
    from sonicsynth.models.face.procedural_face import FaceStyle, face_shapes, project, render_frame

    style = FaceStyle.sample(np.random.default_rng(0))
    closed, opened = drawn_face(style, 0.0), drawn_face(style, 1.0)
    assert closed.shape == (224, 224, 3) and closed.dtype == np.uint8
    assert np.array_equal(closed, drawn_face(style, 0.0))
    changed_rows = np.nonzero(np.abs(opened.astype(int) - closed.astype(int)).sum(axis=(1, 2)))[0]
    assert changed_rows.min() > 112  # only the lower half: mouth and chin

    rest = np.zeros(NUM_BLENDSHAPES)
    blink = rest.copy()
    blink[BLINK_INDICES] = 1.0
    eye_rest = face_shapes(style, rest)["eye_left"][:, 1]
    eye_shut = face_shapes(style, blink)["eye_left"][:, 1]
    assert np.ptp(eye_shut) < 0.1 * np.ptp(eye_rest)
    # Pose signs (blendshapes.py): yaw > 0 turns the nose to the image's right, roll > 0 tilts the
    # head counter-clockwise (the eye on the image's right rises), pitch < 0 nods the nose down.
    shapes = face_shapes(style, rest)

    def where(name: str, pose: list[float]) -> np.ndarray:
        return project(style, shapes[name], np.array(pose, dtype=float)).mean(axis=0)

    assert where("nose", [0, 20, 0, 0, 0, 0])[0] > where("nose", [0] * 6)[0] + 5
    tilted = [0, 0, 15, 0, 0, 0]
    assert where("eye_right", tilted)[1] < where("eye_left", tilted)[1] - 5
    assert where("nose", [-10, 0, 0, 0, 0, 0])[1] > where("nose", [0] * 6)[1] + 3
    assert not np.array_equal(render_frame(style, rest, np.array(tilted, dtype=float)), render_frame(style, rest, np.zeros(6)))


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
    # The exact targets beside each video: one frame of motion per video frame, the mouth moving.
    motion = load_motion(av_corpus.parent / first.extras["motion_path"])
    assert motion.num_frames == len(frames) and motion.fps == 25
    assert motion.channel("jawOpen").max() > 0.3 and np.abs(motion.pose).max() > 0
    assert first.extras["identity"] == first.speaker
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
