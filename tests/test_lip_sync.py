"""LSE-D / LSE-C: the reference algorithm on a SyncNet in the published syncnet_v2 layout.

Random weights carry no notion of sync, so the test makes a network and a clip that are in sync
for each other: the video is a sequence of random still images, each held for SEGMENT frames, the
audio a sequence of steady harmonic tones, one per still. The network is He-initialised at random
except its two output layers: the audio one is rescaled and re-centred, and the video one is solved
so that each still's embedding is its tone's mean embedding (see the fixture).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sonicsynth.metrics.base import MetricError
from sonicsynth.metrics.lip_sync import (
    SAMPLES_PER_FRAME,
    LipSyncEvaluator,
    offset_distances,
    syncnet_mfcc,
)
from sonicsynth.models.syncnet.network import SyncNet, load_published_syncnet

IMAGES, SEGMENT = 6, 8


def _still(rng: np.random.Generator) -> np.ndarray:
    import cv2

    coarse = rng.uniform(0, 255, (7, 7, 3)).astype(np.float32)
    return cv2.resize(coarse, (224, 224), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)


def _tone(seed: int, samples: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000
    f0 = rng.uniform(90, 300)
    harmonics = rng.uniform(0, 1, 20) * np.exp(-np.arange(20) * rng.uniform(0.05, 0.5))
    wave = sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t + rng.uniform(0, 2 * np.pi)) for h, a in enumerate(harmonics))
    return wave / np.abs(wave).max() * rng.uniform(2000, 12000)


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    network = SyncNet().eval()  # the published widths: 13.6M parameters
    for module in network.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
    stills = [_still(rng) for _ in range(IMAGES)]
    tones = [_tone(1000 + q, 16000) for q in range(IMAGES + 2)]  # one per still, two unmatched
    clips = torch.from_numpy(np.stack([[s] * 5 for s in stills])).permute(0, 4, 1, 2, 3).float()
    matched = list(range(IMAGES))
    with torch.inference_mode():
        # The audio branch stays random; its output layer is rescaled so that the tones' embeddings
        # spread by about 1 around one random point at distance 1 from the origin: the reference
        # compares edge frames with zero vectors, which then lie about as far as an unmatched tone.
        windows = torch.stack([
            torch.from_numpy(syncnet_mfcc(tones[q])[:, start:start + 20]).float()
            for q in matched for start in range(0, 80, 4)
        ]).unsqueeze(1)  # 20 windows per tone
        audio = network.forward_audio(windows)
        network.netfcaud[3].weight /= (audio - audio.mean(0)).norm(dim=1).mean()
        centre = torch.randn(audio.shape[1])
        network.netfcaud[3].bias += centre / centre.norm() - network.forward_audio(windows).mean(0)
        targets = network.forward_audio(windows).reshape(IMAGES, 20, -1).mean(1)
        # The video branch's output layer is solved so that each still maps onto its tone's mean
        # embedding: a network for which these stills and tones are in sync.
        hidden = network.netfclip[:3](network.netcnnlip(clips).flatten(1))
        inputs = torch.cat([hidden, torch.ones(IMAGES, 1)], 1).double()
        solution = (torch.linalg.pinv(inputs) @ targets.double()).float()
        network.netfclip[3].weight.copy_(solution[:-1].T)
        network.netfclip[3].bias.copy_(solution[-1])
    frames = np.concatenate([np.stack([stills[i]] * SEGMENT) for i in range(IMAGES)])
    # The soundtrack runs one segment longer at each end (unmatched tones) so that shifted cuts of it
    # stay real audio: `soundtrack[SEGMENT * 640:][:len(frames) * 640]` is the in-sync cut.
    segments = [IMAGES, *matched, IMAGES + 1]
    soundtrack = np.concatenate([tones[q][: SEGMENT * SAMPLES_PER_FRAME] for q in segments]).round().astype(np.int16)

    weights = tmp_path_factory.mktemp("syncnet") / "syncnet_v2.model"
    torch.save(network.state_dict(), weights)
    evaluator = LipSyncEvaluator(weights, batch_size=20)
    return evaluator, frames, soundtrack, weights


def _cut(soundtrack: np.ndarray, frames: int, delay: int = 0) -> np.ndarray:
    """The audio of `frames` video frames, delayed by `delay` frames (advanced when negative)."""
    start = (SEGMENT - delay) * SAMPLES_PER_FRAME
    return soundtrack[start:start + frames * SAMPLES_PER_FRAME]


def test_published_weights_load_into_the_evaluator(synced):
    evaluator, _, _, weights = synced
    reloaded = load_published_syncnet(weights)
    assert sum(p.numel() for p in reloaded.parameters()) == 13_631_616
    assert not evaluator.syncnet.training
    for name, tensor in reloaded.state_dict().items():
        assert torch.equal(tensor, evaluator.syncnet.state_dict()[name])


def test_shifting_the_audio_moves_the_offset_by_exactly_k(synced):
    evaluator, frames, soundtrack, _ = synced
    in_sync = evaluator.score_frames(frames, _cut(soundtrack, len(frames)))
    assert in_sync.offset == 0
    for k in (3, -4):
        shifted = evaluator.score_frames(frames, _cut(soundtrack, len(frames), delay=k))
        # Delayed audio (k > 0) meets video frame i at audio frame i + k: offset -k (positive: audio leads).
        assert shifted.offset == in_sync.offset - k
        assert shifted.lse_d > in_sync.lse_d


def test_scores_follow_the_reference_formulas(synced):
    evaluator, frames, soundtrack, _ = synced
    samples = _cut(soundtrack, len(frames))
    video, audio = evaluator.embed(frames, samples)
    vshift = evaluator.vshift
    frames_scored = min(len(frames), len(samples) // 640) - 5
    assert len(video) == len(audio) == frames_scored

    # Recompute directly from the definitions, one frame and one offset at a time.
    table = np.zeros((frames_scored, 2 * vshift + 1))
    for i in range(frames_scored):
        for j in range(2 * vshift + 1):
            m = i + j - vshift
            other = audio[m].double() if 0 <= m < frames_scored else torch.zeros(audio.shape[1], dtype=torch.float64)
            table[i, j] = float(torch.sqrt(((video[i].double() - other + 1e-6) ** 2).sum()))
    np.testing.assert_allclose(offset_distances(video, audio, vshift).numpy(), table, rtol=1e-5)
    curve = table.mean(0)
    score = evaluator.score_frames(frames, samples)
    assert score.frames_scored == frames_scored
    np.testing.assert_allclose(score.mean_distance, curve, rtol=1e-5)
    assert score.lse_d == pytest.approx(curve.min(), rel=1e-5)
    assert score.lse_c == pytest.approx(np.median(curve) - curve.min(), rel=1e-4, abs=1e-6)
    assert score.offset == vshift - int(curve.argmin())
    assert score.offsets[int(curve.argmin())] == score.offset


def test_mfcc_framing_is_python_speech_features():
    samples = np.random.default_rng(0).normal(0, 1000, 16000 + 123)
    mfcc = syncnet_mfcc(samples)
    assert mfcc.shape == (13, 1 + int(np.ceil((len(samples) - 400) / 160)))


def test_clips_too_short_or_silent_are_refused(synced):
    evaluator, frames, soundtrack, _ = synced
    samples = _cut(soundtrack, len(frames))
    with pytest.raises(MetricError, match="at least 6 frames"):
        evaluator.score_frames(frames[:5], samples)
    with pytest.raises(MetricError, match="silent"):
        evaluator.score_frames(frames, np.zeros_like(samples))


def test_missing_weights_are_named(tmp_path):
    with pytest.raises(MetricError, match="syncnet_v2.model: SyncNet weights not found"):
        LipSyncEvaluator(tmp_path / "syncnet_v2.model")


# -- whole videos through ffmpeg, with a small SyncNet (the crop paths and bad input) ------------------


@pytest.fixture(scope="module")
def small_evaluator():
    torch.manual_seed(0)
    widths = [4, 8, 8, 8, 8, 16]
    return LipSyncEvaluator(SyncNet(widths, widths, hidden_dim=16, embedding_dim=16), min_track=20)


def _talking_face_video(path, frames: int, face_frames: int, with_audio: bool = True, canvas=(320, 256),
                        cut_at: int | None = None):
    """A drawn face (sonicsynth.models.face.procedural_face) placed on a larger canvas for `face_frames`
    frames; from frame `cut_at` on, another shot: the same place, another face and background."""
    from face_fixtures import drawn_face

    from sonicsynth.models.face.procedural_face import FaceStyle
    from sonicsynth.video import write_video

    styles = [FaceStyle.sample(np.random.default_rng(seed)) for seed in (0, 2)]  # looks the Haar cascade detects
    video = []
    for i in range(frames):
        shot = int(cut_at is not None and i >= cut_at)
        canvas_frame = np.full((canvas[1], canvas[0], 3), (70, 200)[shot], np.uint8)
        if i < face_frames:
            canvas_frame[16:240, 48:272] = drawn_face(styles[shot], 0.5 + 0.5 * np.sin(i / 3))
        video.append(canvas_frame)
    samples = 0.3 * np.sin(2 * np.pi * 150 * np.arange(frames * 640) / 16000) * (1 + np.sin(np.arange(frames * 640) / 800))
    return write_video(path, video, 25, samples.astype(np.float32) / 2 if with_audio else None, 16000 if with_audio else None)


def test_real_video_path_tracks_crops_and_scores_a_face(small_evaluator, tmp_path):
    video = _talking_face_video(tmp_path / "talking.mp4", frames=40, face_frames=40)
    report = small_evaluator.evaluate(video, crop="detect")
    assert report.error is None, report.error
    assert report.tracks == 1 and len(report.scored) == 1 and not report.skipped
    track = report.scored[0]
    assert (track["start"], track["end"]) == (0, 39)
    assert report.frames_scored == 40 - 5
    assert len(track["mean_distance"]) == 31 and -15 <= report.offset <= 15


def test_tracks_end_at_shot_cuts(small_evaluator, tmp_path):
    video = _talking_face_video(tmp_path / "two_shots.mp4", frames=60, face_frames=60, cut_at=30)
    report = small_evaluator.evaluate(video, crop="detect")
    assert report.error is None, report.error
    assert report.shots == 2 and report.tracks == 2
    first, second = [(t["start"], t["end"]) for t in report.scored]
    # The second face is the same size and place (IoU ~1), so only the cut can separate the tracks;
    # the cascade misses it in a few frames at the ends.
    assert first == (0, 29) and 30 <= second[0] and second[1] <= 59 and second[1] - second[0] >= 20


def test_shot_starts_follow_content_changes():
    from sonicsynth.metrics.lip_sync import shot_starts

    changes = [0, 1, 2, 40, 1, 1, 50, *[0] * 20, 35, 0]
    assert shot_starts(changes, min_shot=3) == [0, 3, 6, 27]
    assert shot_starts(changes, min_shot=15) == [0, 27]


def test_short_tracks_are_reported_not_dropped(small_evaluator, tmp_path):
    video = _talking_face_video(tmp_path / "brief.mp4", frames=40, face_frames=12)
    report = small_evaluator.evaluate(video, crop="detect")
    assert report.tracks == 1 and not report.scored
    assert report.skipped[0]["frames"] == 12 and "shorter than min_track=20" in report.skipped[0]["reason"]
    assert "no face track long enough" in report.error


def test_videos_without_face_or_audio_are_reported(small_evaluator, tmp_path):
    no_face = _talking_face_video(tmp_path / "empty_room.mp4", frames=30, face_frames=0)
    assert "no face found" in small_evaluator.evaluate(no_face, crop="detect").error
    silent_film = _talking_face_video(tmp_path / "silent_film.mp4", frames=30, face_frames=30, with_audio=False)
    for crop in ("detect", "face_centred"):
        assert small_evaluator.evaluate(silent_film, crop=crop).error == f"{silent_film}: has no audio track"
    missing = small_evaluator.evaluate(tmp_path / "missing.mp4")
    assert missing.error == f"{tmp_path / 'missing.mp4'}: no such video file"
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video")
    assert "not a readable video" in small_evaluator.evaluate(not_a_video).error


def test_face_centred_path_resizes_frames_to_224(small_evaluator, tmp_path):
    video = _talking_face_video(tmp_path / "crop.mp4", frames=30, face_frames=30)
    report = small_evaluator.evaluate(video, crop="face_centred")
    assert report.error is None and report.tracks == 1 and report.frames_scored == 25


def test_scores_at_offset_zero_read_the_curve_where_sync_should_be():
    from sonicsynth.metrics.lip_sync import scores_at_offset, scores_from_distances

    # 3 windows x 7 offsets (+3 .. -3); the curve's minimum sits at offset -2 (index 5).
    curve = torch.tensor([9.0, 8.0, 7.0, 6.0, 5.0, 1.0, 4.0])
    score = scores_from_distances(curve.repeat(3, 1), vshift=3)
    assert score.offset == -2 and score.lse_d == 1.0 and score.lse_c == pytest.approx(5.0)
    assert scores_at_offset(score.mean_distance, 0) == (6.0, pytest.approx(0.0))
    assert scores_at_offset(score.mean_distance, -2) == (1.0, pytest.approx(5.0))
    with pytest.raises(MetricError, match="outside the searched range"):
        scores_at_offset(score.mean_distance, 4)
