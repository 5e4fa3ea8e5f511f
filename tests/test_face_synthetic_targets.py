"""The exact face motion of the synthetic talking faces (`sonicsynth.models.face.synthetic_targets`):
frames at 25 fps covering the audio, mouth from the phones, blinks, a head that nods with loudness and
tilts with intonation, and the same motion for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from sonicsynth.align.phone_sets import ARPABET
from sonicsynth.audio import load_audio
from sonicsynth.data.manifest import Alignment, PhoneSpan, read_alignment, read_manifest
from sonicsynth.models.face.blendshapes import BLINK_INDICES, JAW_OPEN
from sonicsynth.models.face.postprocess import count_blinks
from sonicsynth.models.face.synthetic_targets import HOP, head_pose, synthetic_face_motion
from sonicsynth.models.face.visemes import blendshape_targets


@pytest.fixture(scope="module")
def utterance(tiny_corpus):
    item = next(u for u in read_manifest(tiny_corpus) if u.alignment_path is not None and u.source.startswith("mbrola"))
    return read_alignment(item.alignment_file(tiny_corpus.parent)), load_audio(item.audio_file(tiny_corpus.parent), 16000).samples


def test_the_motion_covers_the_audio_with_the_phones_mouth_and_blinks(utterance):
    alignment, samples = utterance
    motion = synthetic_face_motion(alignment, samples, seed=0)
    frames = int(np.ceil(len(samples) / HOP))
    assert motion.blendshapes.shape == (frames, 52) and motion.pose.shape == (frames, 6) and motion.fps == 25
    others = np.setdiff1d(np.arange(52), BLINK_INDICES)
    np.testing.assert_array_equal(motion.blendshapes[:, others], blendshape_targets(alignment, frames)[:, others])
    assert motion.blendshapes[:, JAW_OPEN].max() > 0.3
    lids = motion.blendshapes[:, BLINK_INDICES]
    assert np.array_equal(lids[:, 0], lids[:, 1]) and lids.max() <= 1.0
    again, other = synthetic_face_motion(alignment, samples, seed=0), synthetic_face_motion(alignment, samples, seed=1)
    assert np.array_equal(again.blendshapes, motion.blendshapes) and np.array_equal(again.pose, motion.pose)
    assert not np.array_equal(other.pose[:, 1], motion.pose[:, 1])  # the seeded sway differs
    with pytest.raises(ValueError, match="at least one frame"):
        synthetic_face_motion(alignment, samples[:100], seed=0)


def test_blinks_come_every_few_seconds():
    silence = np.zeros(16000 * 30, dtype=np.float32)
    alignment = Alignment(phone_set=ARPABET, source="silence", phones=(PhoneSpan("sil", 0.0, 30.0),))
    blinks = [count_blinks(synthetic_face_motion(alignment, silence, seed).blendshapes) for seed in range(4)]
    assert all(2 <= n <= 16 for n in blinks), blinks  # 2-10 s apart over 30 s


def test_the_head_nods_with_loudness_and_tilts_with_intonation():
    rate, seconds = 16000, 4.0
    t = np.arange(int(rate * seconds)) / rate
    # A voice whose pitch rises over the second half, loud in the middle second.
    f0 = np.where(t < 2.0, 150.0, 150.0 * 2 ** ((t - 2.0) / 2.0 * 4 / 12))  # up 4 semitones
    phase = 2 * np.pi * np.cumsum(f0) / rate
    level = np.where((t > 1.0) & (t < 2.0), 0.5, 0.1)
    samples = (level * np.sin(phase)).astype(np.float32)
    pose = head_pose(samples, int(seconds * 25), np.random.default_rng(0))
    loud, quiet = slice(30, 45), slice(5, 20)
    assert pose[loud, 0].mean() < pose[quiet, 0].mean() - 1.0  # nods down when loud
    assert pose[loud, 5].mean() > pose[quiet, 5].mean()  # and leans in
    assert pose[-10:, 2].mean() > pose[20:45, 2].mean() + 0.8  # tilts as the pitch rises
    assert np.abs(pose[:, 1]).max() <= 3.0 + 1e-6 and np.abs(pose[:, 2]).max() <= 2.4 + 1e-6
