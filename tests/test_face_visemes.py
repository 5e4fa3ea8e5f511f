"""Mouth targets from a phone timeline (`sonicsynth.models.face.visemes`): bilabials close the lips,
open vowels drop the jaw, rounded vowels pucker ahead of time (coarticulation), silence rests, and
the curves are smoother than holding each viseme for its phone."""

from __future__ import annotations

import numpy as np
import pytest

from sonicsynth.align.base import SILENCE_PHONE
from sonicsynth.align.phone_sets import ARPABET
from sonicsynth.data.manifest import Alignment, PhoneSpan, read_alignment, read_manifest
from sonicsynth.metrics.face_motion import jitter
from sonicsynth.models.face.blendshapes import FPS, MOUTH_INDICES, NUM_BLENDSHAPES, blendshape_index
from sonicsynth.models.face.visemes import blendshape_targets, viseme_vector

# "(silence) ma-poo (silence)": 1 s, 25 frames.
PHONES = ((SILENCE_PHONE, 0.0, 0.2), ("M", 0.2, 0.28), ("AA", 0.28, 0.48), ("P", 0.48, 0.56), ("UW", 0.56, 0.76),
          (SILENCE_PHONE, 0.76, 1.0))
ALIGNMENT = Alignment(phone_set=ARPABET, source="test", phones=tuple(PhoneSpan(*p) for p in PHONES))


def frames_of(start: float, end: float) -> slice:
    return slice(int(np.ceil(start * FPS)), int(np.ceil(end * FPS)))


def channel(curves: np.ndarray, name: str) -> np.ndarray:
    return curves[:, blendshape_index(name)]


def test_each_viseme_shows_where_its_phone_is():
    curves = blendshape_targets(ALIGNMENT, 25)
    assert curves.shape == (25, NUM_BLENDSHAPES) and curves.dtype == np.float32
    assert curves.min() >= 0.0 and curves.max() <= 1.0
    others = np.setdiff1d(np.arange(NUM_BLENDSHAPES), MOUTH_INDICES)
    assert not curves[:, others].any()  # brows, eyes and blinks are not driven by phones
    jaw, close, pucker = (channel(curves, n) for n in ("jawOpen", "mouthClose", "mouthPucker"))
    for start, end in ((0.2, 0.28), (0.48, 0.56)):  # M and P: the lips close, the jaw stays up
        assert close[frames_of(start, end)].max() > 0.4 and jaw[frames_of(start, end)].min() < 0.1
    vowel = frames_of(0.28, 0.48)
    assert jaw[vowel].max() > 0.5 and close[vowel].min() < 0.15
    assert pucker[frames_of(0.56, 0.76)].max() > 0.5 and pucker[vowel].max() < 0.15
    assert curves[:2, MOUTH_INDICES].max() < 0.05 and curves[-2:, MOUTH_INDICES].max() < 0.08  # near rest
    # Anticipation: the lips start rounding for /uw/ during the /p/ before it.
    assert pucker[frames_of(0.48, 0.56)].max() > 2 * pucker[vowel].max()


def test_coarticulated_curves_are_smoother_than_held_visemes():
    curves = blendshape_targets(ALIGNMENT, 25)
    times = np.arange(25) / FPS
    held = np.stack([viseme_vector(next(p for p, s, e in PHONES if s <= t < e))[0] for t in times])
    assert jitter(curves[:, MOUTH_INDICES]) < 0.6 * jitter(held[:, MOUTH_INDICES])


def test_the_demo_voices_timelines_give_targets(tiny_corpus):
    utterance = next(u for u in read_manifest(tiny_corpus) if u.alignment_path is not None)
    alignment = read_alignment(utterance.alignment_file(tiny_corpus.parent))
    frames = int(utterance.duration * FPS)
    curves = blendshape_targets(alignment, frames)
    assert curves.shape == (frames, NUM_BLENDSHAPES) and channel(curves, "jawOpen").max() > 0.3
    with pytest.raises(ValueError, match="has no phones"):
        blendshape_targets(Alignment(phone_set=ARPABET, source="empty", phones=()), 10)
    with pytest.raises(ValueError, match="num_frames"):
        blendshape_targets(ALIGNMENT, 0)
