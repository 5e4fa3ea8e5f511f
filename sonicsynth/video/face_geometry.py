"""Approximate ARKit blendshape and head-pose targets from 2-D landmark geometry.

No installable package predicts ARKit blendshapes, so targets for real video are measured from the
68 iBUG landmarks (`sonicsynth.video.landmarks`). They are APPROXIMATE: a 2-D outline of a face
cannot tell a smile from a cheek raise, sees no tongue, and confounds head rotation with
expression at large angles. They are good enough to supervise the coarse motion (mouth opening,
blinks, smiles, brow raises, head turns) and are flagged per channel (`ESTIMATED_CHANNELS`) so that
a loss can ignore the channels this geometry does not measure (left at 0).

Every frame is first put in a face frame: origin at the midpoint of the two eye centres, x along
the eye line (so in-plane rotation is removed), y at right angles to it (down the face), lengths in
units of the inter-ocular distance IOD (the distance between the eye centres; it does not move with
the mouth, unlike the face height). "Left"/"Right" in ARKit names are the subject's: the subject's
left is the image's right in an unmirrored video.

Blendshapes (each clipped to [0, 1]; "ref" is the median over the video's usable frames, so those
channels measure a change from the speaker's typical face, assumed mostly neutral while talking):
- jawOpen = inner-lip gap / (0.6 IOD): the mean of the three top/bottom inner-lip distances; a wide
  open mouth is about 0.6 IOD.
- mouth narrowing n = (ref width - width) / (0.25 ref width), width = corner-to-corner distance;
  mouthFunnel = n * o and mouthPucker = n * (1 - o), o = clip(gap / 0.15 IOD): a narrowed mouth
  is a funnel when open and a pucker when closed.
- mouthSmile{Left,Right} = (corner rise - ref) / 0.1 IOD, rise = how far the corner sits above the
  midpoint of the outer lips' top and bottom centres; mouthFrown = the same fall.
- eyeBlink{Left,Right} = (ref EAR - EAR) / (0.6 ref EAR) with the eye aspect ratio
  EAR = (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) of the six eye points; eyeWide = rise / (0.3 ref).
- browInnerUp = rise of the inner brow ends above the eye line over ref / 0.15 IOD;
  browOuterUp{Left,Right} = the same for the outer ends; browDown = the fall of the whole brow.

Pose (pitch, yaw, roll in degrees; tx, ty, tz in face-box sizes, as `FaceMotion` keeps it):
- roll = the angle of the eye line, positive when the head turns counter-clockwise in the image
  (the subject's left eye, on the image's right, higher). Exact for in-plane rotation.
- yaw = asin(2 r - 1), r = where the nose tip sits between the two jaw-contour ends (0.5 frontal);
  positive when the nose moves to the image's right (the subject turns to their left). A cylinder
  model of the head; it under-reads beyond about 30 degrees, where the far contour hides.
- pitch = atan(4 (f - ref f)), f = nose-to-chin / (eyes-to-nose + nose-to-chin) measured along the
  face's vertical with the inner-lip gap taken out (the chin drops when the mouth opens). With the
  nose tip about a quarter of the eyes-to-chin length in front of the eye/chin plane, a rotation
  phi moves f by tan(phi) / 4. Positive = chin up (the project's convention: negative = nodding
  down). Relative to the video's median head pitch: 2-D landmarks give no absolute zero.
- tx, ty = the face box centre's move from the first usable frame, in that frame's box sizes (image
  axes: x right, y down); tz = box size / first box size - 1 (positive = closer to the camera).

Frames that are not usable (no face there, or only an interpolated box) get values interpolated
between the nearest usable frames and held at the ends; the caller flags them.
"""

from __future__ import annotations

import numpy as np

from sonicsynth.models.face.blendshapes import NUM_BLENDSHAPES, POSE_NAMES, blendshape_indices
from sonicsynth.video import landmarks as ibug

JAW_OPEN_GAP_AT_FULL = 0.6
PUCKER_NARROWING_AT_FULL = 0.25
FUNNEL_GAP_AT_FULL = 0.15
SMILE_RISE_AT_FULL = 0.1
BLINK_DROP_AT_FULL = 0.6
EYE_WIDE_RISE_AT_FULL = 0.3
BROW_RAISE_AT_FULL = 0.15
NOSE_DEPTH_RATIO = 4.0  # eyes-to-chin length over the nose tip's depth in front of the eye/chin plane

ESTIMATED_CHANNELS: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight", "jawOpen",
    "mouthFrownLeft", "mouthFrownRight", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
)


def estimated_channel_mask() -> np.ndarray:
    """(52,) bool: True for the channels this module measures."""
    mask = np.zeros(NUM_BLENDSHAPES, dtype=bool)
    mask[blendshape_indices(ESTIMATED_CHANNELS)] = True
    return mask


def face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (T, 68, 2) in the face frame (module doc) and the eye-line angle per frame (radians, image axes)."""
    left_eye = landmarks[:, ibug.EYE_IMAGE_LEFT].mean(1)
    right_eye = landmarks[:, ibug.EYE_IMAGE_RIGHT].mean(1)
    eye_line = right_eye - left_eye
    angle = np.arctan2(eye_line[:, 1], eye_line[:, 0])
    iod = np.maximum(np.linalg.norm(eye_line, axis=1), 1e-6)
    cos, sin = np.cos(-angle), np.sin(-angle)
    centred = landmarks - ((left_eye + right_eye) / 2)[:, None]
    x = cos[:, None] * centred[..., 0] - sin[:, None] * centred[..., 1]
    y = sin[:, None] * centred[..., 0] + cos[:, None] * centred[..., 1]
    return np.stack([x, y], -1) / iod[:, None, None], angle


def _eye_aspect_ratio(eye: np.ndarray) -> np.ndarray:
    vertical = np.linalg.norm(eye[:, 1] - eye[:, 5], axis=1) + np.linalg.norm(eye[:, 2] - eye[:, 4], axis=1)
    return vertical / np.maximum(2 * np.linalg.norm(eye[:, 0] - eye[:, 3], axis=1), 1e-6)


def _measurements(points: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame geometric quantities of face-frame landmarks (T, 68, 2)."""
    x, y = points[..., 0], points[..., 1]
    gap = np.clip(np.mean(y[:, list(ibug.INNER_LIP_BOTTOM)] - y[:, list(ibug.INNER_LIP_TOP)], axis=1), 0, None)
    lip_middle = (y[:, ibug.OUTER_LIP_TOP] + y[:, ibug.OUTER_LIP_BOTTOM]) / 2
    eye_to_nose = y[:, ibug.NOSE_TIP]
    nose_to_chin = np.maximum(y[:, ibug.CHIN] - y[:, ibug.NOSE_TIP] - gap, 1e-6)
    jaw_left, jaw_right = x[:, 0], x[:, 16]
    return {
        "gap": gap,
        "width": np.linalg.norm(points[:, ibug.MOUTH_CORNER_IMAGE_RIGHT] - points[:, ibug.MOUTH_CORNER_IMAGE_LEFT], axis=1),
        # subject's left = image right
        "rise_left": lip_middle - y[:, ibug.MOUTH_CORNER_IMAGE_RIGHT],
        "rise_right": lip_middle - y[:, ibug.MOUTH_CORNER_IMAGE_LEFT],
        "ear_left": _eye_aspect_ratio(points[:, ibug.EYE_IMAGE_RIGHT]),
        "ear_right": _eye_aspect_ratio(points[:, ibug.EYE_IMAGE_LEFT]),
        "brow_inner": -(y[:, 21] + y[:, 22]) / 2,
        "brow_outer_left": -y[:, 26],
        "brow_outer_right": -y[:, 17],
        "brow_left": -y[:, ibug.BROW_IMAGE_RIGHT].mean(1),
        "brow_right": -y[:, ibug.BROW_IMAGE_LEFT].mean(1),
        "nose_position": (x[:, ibug.NOSE_TIP] - jaw_left) / np.maximum(jaw_right - jaw_left, 1e-6),
        "lower_share": nose_to_chin / np.maximum(eye_to_nose + nose_to_chin, 1e-6),
    }


def _fill_unusable(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Values of unusable frames interpolated between the nearest usable ones, held at the ends."""
    frames = np.arange(len(values))
    filled = values.copy()
    for column in range(values.shape[1]):
        filled[~usable, column] = np.interp(frames[~usable], frames[usable], values[usable, column])
    return filled


def landmark_targets(landmarks: np.ndarray, boxes: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blendshapes (T, 52) in [0, 1] and pose (T, 6) from landmarks (T, 68, 2), face boxes (T, 4)
    x1 y1 x2 y2 and a (T,) mask of the frames whose landmarks can be trusted (at least one)."""
    usable = np.asarray(usable, dtype=bool)
    if not usable.any():
        raise ValueError("landmark_targets needs at least one usable frame")
    points, angle = face_frame(np.asarray(landmarks, dtype=np.float64))
    m = _measurements(points)
    ref = {name: float(np.median(values[usable])) for name, values in m.items()}

    def unit(values: np.ndarray) -> np.ndarray:
        return np.clip(values, 0.0, 1.0) + 0.0  # + 0.0 turns -0.0 into 0.0

    shapes = {"jawOpen": unit(m["gap"] / JAW_OPEN_GAP_AT_FULL)}
    narrowing = unit((ref["width"] - m["width"]) / (PUCKER_NARROWING_AT_FULL * max(ref["width"], 1e-6)))
    openness = unit(m["gap"] / FUNNEL_GAP_AT_FULL)
    shapes["mouthFunnel"], shapes["mouthPucker"] = narrowing * openness, narrowing * (1 - openness)
    for side in ("Left", "Right"):
        s = side.lower()
        rise = (m[f"rise_{s}"] - ref[f"rise_{s}"]) / SMILE_RISE_AT_FULL
        shapes[f"mouthSmile{side}"], shapes[f"mouthFrown{side}"] = unit(rise), unit(-rise)
        ear_ref = max(ref[f"ear_{s}"], 1e-6)
        shapes[f"eyeBlink{side}"] = unit((ear_ref - m[f"ear_{s}"]) / (BLINK_DROP_AT_FULL * ear_ref))
        shapes[f"eyeWide{side}"] = unit((m[f"ear_{s}"] - ear_ref) / (EYE_WIDE_RISE_AT_FULL * ear_ref))
        shapes[f"browOuterUp{side}"] = unit((m[f"brow_outer_{s}"] - ref[f"brow_outer_{s}"]) / BROW_RAISE_AT_FULL)
        shapes[f"browDown{side}"] = unit((ref[f"brow_{s}"] - m[f"brow_{s}"]) / BROW_RAISE_AT_FULL)
    shapes["browInnerUp"] = unit((m["brow_inner"] - ref["brow_inner"]) / BROW_RAISE_AT_FULL)
    assert set(shapes) == set(ESTIMATED_CHANNELS)

    blendshapes = np.zeros((len(points), NUM_BLENDSHAPES))
    names = sorted(shapes)
    blendshapes[:, blendshape_indices(names)] = np.stack([shapes[name] for name in names], 1)

    boxes = np.asarray(boxes, dtype=np.float64)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    first = int(np.argmax(usable))
    pose = np.zeros((len(points), len(POSE_NAMES)))
    pose[:, 0] = np.degrees(np.arctan(NOSE_DEPTH_RATIO * (m["lower_share"] - ref["lower_share"])))
    pose[:, 1] = np.degrees(np.arcsin(np.clip(2 * m["nose_position"] - 1, -1, 1)))
    pose[:, 2] = -np.degrees(angle)
    pose[:, 3:5] = (centre - centre[first]) / size[first]
    pose[:, 5] = size / size[first] - 1
    return (_fill_unusable(blendshapes, usable).astype(np.float32), _fill_unusable(pose, usable).astype(np.float32))
