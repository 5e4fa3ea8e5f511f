"""Landmark-geometry targets: known edits of a real landmark set move the right targets.

The base shape is dlib's 68 landmarks of the astronaut photo; each test edits copies of it in a
known way (rotate, open the mouth, close one eye, turn the nose) among unedited frames, whose
median is the per-video reference.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage")
pytest.importorskip("dlib")

from sonicsynth.models.face.blendshapes import blendshape_index  # noqa: E402
from sonicsynth.video.face_geometry import (  # noqa: E402
    JAW_OPEN_GAP_AT_FULL,
    estimated_channel_mask,
    face_frame,
    landmark_targets,
)

FRAMES = 7
EDITED = 3  # the middle frame is edited; the others are the base shape


@pytest.fixture(scope="module")
def base():
    import cv2
    from skimage import data

    from sonicsynth.video.faces import HaarFaceDetector
    from sonicsynth.video.landmarks import DlibLandmarks

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    (box,) = HaarFaceDetector(short_side=512)(photo)
    return DlibLandmarks()(photo, box).astype(np.float64), box


def sequence(points: np.ndarray, edited: np.ndarray | None = None) -> np.ndarray:
    frames = np.repeat(points[None], FRAMES, 0)
    if edited is not None:
        frames[EDITED] = edited
    return frames


def targets(landmarks, box):
    return landmark_targets(landmarks, np.repeat(box[None], len(landmarks), 0), np.ones(len(landmarks), bool))


def iod(points):
    return np.linalg.norm(points[42:48].mean(0) - points[36:42].mean(0))


def test_rotation_scale_and_shift_change_only_roll(base):
    points, box = base
    centre = points.mean(0)
    angle = np.radians(15)  # counter-clockwise as seen: image y points down
    turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    moved = (points - centre) @ turn.T * 1.3 + centre + [20, -10]
    blendshapes, pose = targets(sequence(points, moved), box)
    np.testing.assert_allclose(blendshapes[EDITED], blendshapes[0], atol=1e-5)
    assert pose[EDITED, 2] - pose[0, 2] == pytest.approx(15, abs=1e-3)
    np.testing.assert_allclose(pose[EDITED, :2], pose[0, :2], atol=1e-3)
    aligned, _ = face_frame(moved[None])
    np.testing.assert_allclose(aligned, face_frame(points[None])[0], atol=1e-6)


def test_opening_the_mouth_raises_jaw_open_and_leaves_pitch(base):
    points, box = base
    drop = 0.3 * iod(points)
    opened = points.copy()
    opened[[5, 6, 7, 8, 9, 10, 11, 55, 56, 57, 58, 59, 65, 66, 67], 1] += drop  # lower lip and chin
    blendshapes, pose = targets(sequence(points, opened), box)
    jaw = blendshape_index("jawOpen")
    assert blendshapes[EDITED, jaw] - blendshapes[0, jaw] == pytest.approx(0.3 / JAW_OPEN_GAP_AT_FULL, abs=0.02)
    assert abs(pose[EDITED, 0] - pose[0, 0]) < 1.0  # the chin's drop is the mouth, not a nod


def test_closing_the_image_right_eye_is_the_subjects_left_blink(base):
    points, box = base
    closed = points.copy()
    closed[[43, 44], 1] = closed[[47, 46], 1]  # upper lid onto the lower lid
    blendshapes, _ = targets(sequence(points, closed), box)
    assert blendshapes[EDITED, blendshape_index("eyeBlinkLeft")] == pytest.approx(1.0)
    assert blendshapes[EDITED, blendshape_index("eyeBlinkRight")] == pytest.approx(0.0)


def test_a_nose_moved_to_the_image_right_is_a_positive_yaw(base):
    points, box = base
    turned = points.copy()
    turned[27:36, 0] += 0.15 * iod(points)
    _, pose = targets(sequence(points, turned), box)
    assert pose[EDITED, 1] - pose[0, 1] > 5


def test_unusable_frames_are_interpolated_and_only_estimated_channels_move(base):
    points, box = base
    opened = points.copy()
    opened[65:68, 1] += 0.3 * iod(points)
    landmarks = np.stack([points, points, opened, np.zeros_like(points), opened])
    usable = np.array([True, True, True, False, True])
    blendshapes, pose = landmark_targets(landmarks, np.repeat(box[None], 5, 0), usable)
    np.testing.assert_allclose(blendshapes[3], blendshapes[2])  # between two open frames
    assert np.isfinite(pose).all() and blendshapes.min() >= 0 and blendshapes.max() <= 1
    assert not blendshapes[:, ~estimated_channel_mask()].any()
    with pytest.raises(ValueError, match="at least one usable frame"):
        landmark_targets(landmarks, np.repeat(box[None], 5, 0), np.zeros(5, bool))
