"""Face-target preparation on videos of a real face (scikit-image's astronaut photo, see av_fixtures).

One small corpus in the HDTF layout is prepared once for the module: a face drifting and growing,
a blank video, two faces side by side, and a face sliding out of the picture. The roll test turns
the photo by known angles.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("dlib")

from av_fixtures import (  # noqa: E402
    moving_face_frames,
    rolling_face_frames,
    sliding_out_frames,
    two_face_frames,
    write_face_video,
)

from sonicsynth.data.av_adapters import make_av_manifest  # noqa: E402
from sonicsynth.data.av_preparation import (  # noqa: E402
    SUMMARY_NAME,
    FacePreparationSettings,
    load_face_targets,
    prepare_face_targets,
    prepare_video,
    preparation_settings,
)
from sonicsynth.data.feature_cache import FeatureCache  # noqa: E402
from sonicsynth.models.face.blendshapes import FaceMotion  # noqa: E402
from sonicsynth.video import VideoError, read_frames  # noqa: E402
from sonicsynth.video.landmarks import DlibLandmarks, IbugSubset  # noqa: E402

SETTINGS = FacePreparationSettings(crop_size=128, expand_ratio=0.3)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hdtf")
    write_face_video(root / "moving_000.mp4", moving_face_frames(12))
    write_face_video(root / "blank_000.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 6)
    write_face_video(root / "two_000.mp4", two_face_frames(8))
    write_face_video(root / "sliding_000.mp4", sliding_out_frames(14))
    out = root / "out"
    utterances, _ = make_av_manifest("hdtf", root, out, val_every=None, progress=False)
    summary = prepare_face_targets(utterances, out, out / "cache", SETTINGS, progress=False)
    return out, {u.id: u for u in utterances}, summary


def test_a_moving_face_is_tracked_cropped_and_given_targets(corpus):
    out, utterances, summary = corpus
    targets = load_face_targets(out / "cache", _with_extras(utterances["moving_000"], summary))
    frames = 12
    assert targets["ok"].all() and targets["in_track"].all()
    assert targets["blendshapes"].shape == (frames, 52) and targets["pose"].shape == (frames, 6)
    assert targets["landmarks"].shape == (frames, 68, 2)
    assert 0 <= targets["blendshapes"].min() and targets["blendshapes"].max() <= 1
    FaceMotion(targets["blendshapes"], targets["pose"])  # valid face motion
    # The head drifts right and down and grows: tx, ty, tz rise from 0 at the first frame.
    tx, ty, tz = targets["pose"][:, 3:].T
    assert tx[0] == ty[0] == tz[0] == 0
    assert tx[-1] > 0.15 and ty[-1] > 0.05 and tz[-1] > 0.05
    # Crops: squares with expand_ratio of the face box on each side, and a crop video of that size.
    boxes, crops = targets["boxes"], targets["crop_boxes"]
    np.testing.assert_allclose(crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1], rtol=1e-5)
    np.testing.assert_allclose(crops[:, 2] - crops[:, 0], (boxes[:, 2] - boxes[:, 0]) * 1.6, rtol=1e-4)
    sha, key = summary.prepared["moving_000"]["video_sha256"], summary.prepared["moving_000"]["face_targets"]
    video = read_frames(FeatureCache(out / "cache").path(key, sha).with_suffix(".mp4"))
    assert video.shape == (frames, 128, 128, 3)
    # The landmarks lie on the face inside its box.
    nose = targets["landmarks"][:, 30]
    assert ((boxes[:, 0] < nose[:, 0]) & (nose[:, 0] < boxes[:, 2]) & (boxes[:, 1] < nose[:, 1])
            & (nose[:, 1] < boxes[:, 3])).all()


def _with_extras(utterance, summary):
    from dataclasses import replace

    return replace(utterance, extras={**utterance.extras, **summary.prepared[utterance.id]})


def test_a_video_without_a_face_is_skipped_and_listed(corpus):
    out, _, summary = corpus
    (problem,) = summary.problems
    assert problem["id"] == "blank_000" and problem["path"].endswith("blank_000.mp4")
    assert "no face found in any of its 6 frames" in problem["reason"]
    on_disk = json.loads((out / "cache" / SUMMARY_NAME).read_text())
    assert on_disk["problems"] == summary.problems and set(on_disk["prepared"]) == {"moving_000", "two_000", "sliding_000"}


def test_of_two_faces_the_larger_is_kept_and_the_other_reported(corpus):
    out, utterances, summary = corpus
    note = next(n for n in summary.notes if n["id"] == "two_000")
    assert len(note["other_tracks"]) == 1
    assert note["main_track"]["face_size"] > note["other_tracks"][0]["face_size"]
    targets = load_face_targets(out / "cache", _with_extras(utterances["two_000"], summary))
    centre_x = (targets["boxes"][:, 0] + targets["boxes"][:, 2]) / 2
    assert (centre_x < 200).all()  # the big face is on the left half of the 400 px frame


def test_a_face_leaving_the_picture_is_flagged_and_its_targets_held(corpus):
    out, utterances, summary = corpus
    note = next(n for n in summary.notes if n["id"] == "sliding_000")
    targets = load_face_targets(out / "cache", _with_extras(utterances["sliding_000"], summary))
    ok = targets["ok"]
    assert ok[:4].all() and not ok[-4:].any()  # seen at first, gone at the end
    assert note["flagged_frames"] == int((~ok).sum()) and note["flagged_spans"][-1][1] == len(ok) - 1
    last_ok = int(np.flatnonzero(ok)[-1])
    held = targets["blendshapes"][last_ok + 1:]
    np.testing.assert_array_equal(held, np.broadcast_to(targets["blendshapes"][last_ok], held.shape))
    assert np.isfinite(targets["pose"]).all()


def test_a_second_run_reuses_the_cache(corpus):
    out, utterances, first = corpus
    again = prepare_face_targets(list(utterances.values()), out, out / "cache", SETTINGS, progress=False)
    assert again.computed == 0 and again.reused == 3 and again.prepared == first.prepared
    assert [p["id"] for p in again.problems] == ["blank_000"]


def test_roll_follows_an_in_plane_rotation_of_the_photo(tmp_path):
    angles = np.linspace(-8, 8, 9)
    video = write_face_video(tmp_path / "roll.mp4", rolling_face_frames(list(angles)), audio=False)
    prepared = prepare_video(video, FacePreparationSettings(box_smoothing=1))
    assert prepared.arrays["ok"].all()
    roll = prepared.arrays["pose"][:, 2]
    relative = roll - roll[len(angles) // 2]  # the photo's own head tilt is a few degrees
    np.testing.assert_allclose(relative, angles, atol=2.5)
    assert np.corrcoef(relative, angles)[0, 1] > 0.98


def test_a_corrupt_video_is_an_error_naming_the_file(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match="broken.mp4"):
        prepare_video(broken)


def test_the_landmark_backend_is_injected_and_part_of_the_cache_key():
    dlib_backend = DlibLandmarks()
    same_points = IbugSubset(dlib_backend, list(range(68)), name="dlib-through-subset")
    assert preparation_settings(SETTINGS, dlib_backend) != preparation_settings(SETTINGS, same_points)
    with pytest.raises(ValueError, match="68 points"):
        IbugSubset(dlib_backend, [0, 1, 2])


def test_prepare_av_corpus_script_writes_manifests_targets_and_summary(tmp_path):
    import importlib.util
    from pathlib import Path

    from sonicsynth.data.manifest import read_manifest

    script = Path(__file__).parents[1] / "scripts" / "prepare_av_corpus.py"
    spec = importlib.util.spec_from_file_location("prepare_av_corpus", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root, out = tmp_path / "clips", tmp_path / "out"
    write_face_video(root / "speaker_000.mp4", moving_face_frames(6))
    write_face_video(root / "speaker_001.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 4)
    write_face_video(root / "mute_000.mp4", moving_face_frames(4), audio=False)
    assert module.main(["--layout", "hdtf", "--root", str(root), "--out", str(out), "--crop-size", "64", "--quiet"]) == 0
    (utterance,) = read_manifest(out / "face_manifest.jsonl")
    assert utterance.id == "speaker_000" and utterance.video_path and utterance.extras["video_sha256"]
    assert load_face_targets(out / "cache", utterance)["blendshapes"].shape == (6, 52)
    # The face-motion datamodule's view of the same targets.
    from sonicsynth.data.synthetic_av import load_motion

    motion = load_motion(out / utterance.extras["motion_path"])
    assert motion.num_frames == 6 and motion.fps == 25 and utterance.extras["identity"] == utterance.speaker
    summary = json.loads((out / "preparation_summary.json").read_text())
    assert (summary["clips"], summary["with_audio"], summary["prepared"]) == (3, 2, 1)
    reasons = {Path(item["path"]).name: item["reason"] for item in summary["skipped"]}
    assert reasons["mute_000.mp4"] == "has no audio track"
    assert reasons["speaker_001.mp4"] == f"{root / 'speaker_001.mp4'}: no face found in any of its 4 frames"
