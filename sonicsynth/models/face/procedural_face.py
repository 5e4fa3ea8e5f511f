"""A drawn face that performs `FaceMotion`: the synthetic corpus's video and the quick preview of a
prediction.

The face is a small 3-D model, not a sprite: every feature point (face outline, brows, eyes, nose,
lips, chin) sits on the front of an ellipsoid head, is rotated by the pose (yaw about the vertical
axis, pitch about the horizontal, roll in the image plane), projected orthographically, moved by the
translation (tx, ty in face-box sizes; tz > 0 leans towards the camera and enlarges the face), and
drawn with sub-pixel anti-aliased polygons so that motions of a fraction of a pixel still show. The
blendshapes move the feature points in face coordinates (unit = half the face height `radius`):

- jaw and lips: `jawOpen` drops the chin and the lower lip; `mouthLowerDown*` / `mouthUpperUp*`
  part the lips further; `mouthClose`, `mouthPress*` and the lip rolls shut and thin them;
  `mouthStretch*` / `mouthSmile*` widen the mouth (a smile also lifts the corners, a frown lowers
  them); `mouthPucker` narrows it, `mouthFunnel` rounds the opening; `tongueOut` shows the tongue;
- eyes: `eyeBlink*` closes the lids, `eyeSquint*` narrows them, `eyeWide*` opens them wider;
- brows: `browInnerUp`, `browOuterUp*` raise them, `browDown*` lowers them.

Channels not listed (gaze, cheeks, sneer, dimples) do not change the drawing. A `FaceStyle` is one
identity's look (skin, lips, eyes, face shape) plus a background; identities differ in every colour
and proportion, so a model trained on some identities can be tested on an unseen one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from sonicsynth.models.face.blendshapes import FaceMotion, blendshape_index

FRAME_SIZE = 224  # the face-centred crop size SyncNet reads
_SUBPIXEL_BITS = 4  # cv2 drawing with 1/16-pixel coordinates
_SCALE = float(1 << _SUBPIXEL_BITS)


@dataclass(frozen=True)
class FaceStyle:
    """One identity's look (BGR colours, proportions in face units) and one video's framing."""

    background: tuple[int, int, int]
    skin: tuple[int, int, int]
    lips: tuple[int, int, int]
    iris: tuple[int, int, int]
    brows: tuple[int, int, int]
    radius: float  # half the face height, in pixels
    face_width: float  # half-width / half-height of the face oval
    eye_spacing: float  # half the distance between the eye centres
    eye_height: float  # eye centre above the face centre (negative y is up)
    mouth_height: float  # mouth centre below the face centre
    mouth_width: float  # half-width of the closed mouth
    centre: tuple[float, float]  # face centre in the frame at rest, pixels

    @classmethod
    def sample(cls, rng: np.random.Generator, frame_size: int = FRAME_SIZE) -> FaceStyle:
        skin = rng.uniform([60, 90, 130], [190, 210, 240])
        return cls(
            background=tuple(int(c) for c in rng.integers(0, 256, 3)),
            skin=tuple(int(c) for c in skin),
            lips=tuple(int(c) for c in skin * rng.uniform([0.45, 0.35, 0.75], [0.6, 0.5, 0.9])),
            iris=tuple(int(c) for c in rng.uniform([20, 20, 10], [140, 120, 90])),
            brows=tuple(int(c) for c in skin * rng.uniform(0.25, 0.5)),
            radius=float(rng.uniform(0.36, 0.42) * frame_size),
            face_width=float(rng.uniform(0.72, 0.85)),
            eye_spacing=float(rng.uniform(0.28, 0.36)),
            eye_height=float(rng.uniform(0.2, 0.3)),
            mouth_height=float(rng.uniform(0.42, 0.5)),
            mouth_width=float(rng.uniform(0.2, 0.27)),
            centre=(float(rng.uniform(0.47, 0.53) * frame_size), float(rng.uniform(0.48, 0.54) * frame_size)),
        )

    def with_framing(self, rng: np.random.Generator, frame_size: int = FRAME_SIZE) -> FaceStyle:
        """The same identity with a new background and a slightly different placement (one video)."""
        return FaceStyle(**{
            **self.__dict__,
            "background": tuple(int(c) for c in rng.integers(0, 256, 3)),
            "centre": (float(rng.uniform(0.47, 0.53) * frame_size), float(rng.uniform(0.48, 0.54) * frame_size)),
        })


class _Weights:
    """Blendshape weights of one frame by ARKit name; `pair` averages a Left/Right pair."""

    def __init__(self, blendshapes: np.ndarray) -> None:
        self.values = np.clip(np.asarray(blendshapes, dtype=np.float64), 0.0, 1.0)

    def __getitem__(self, name: str) -> float:
        return float(self.values[blendshape_index(name)])

    def pair(self, name: str) -> float:
        return (self[f"{name}Left"] + self[f"{name}Right"]) / 2


def _arc(cx: float, cy: float, ax: float, ay: float, start: float, stop: float, n: int = 16) -> np.ndarray:
    angles = np.linspace(np.radians(start), np.radians(stop), n)
    return np.stack([cx + ax * np.cos(angles), cy + ay * np.sin(angles)], axis=1)


def face_shapes(style: FaceStyle, blendshapes: np.ndarray) -> dict[str, np.ndarray]:
    """The face's feature polygons in face coordinates (x right, y down, unit = `style.radius`),
    before the head pose: outline, brows, eyes (lids), nose, lips, mouth opening, tongue."""
    w = _Weights(blendshapes)
    jaw = w["jawOpen"]
    shapes: dict[str, np.ndarray] = {}

    # Outline: the oval, its lower half stretched down by the jaw.
    outline = _arc(0.0, 0.0, style.face_width, 1.0, 0, 360, 48)
    lower = outline[:, 1] > 0
    outline[lower, 1] *= 1.0 + 0.12 * jaw
    shapes["outline"] = outline

    for side, suffix in ((-1, "Left"), (1, "Right")):
        # The subject's left is the viewer's right: ARKit names are the subject's sides.
        subject = "Right" if side < 0 else "Left"
        ex, ey = side * style.eye_spacing, -style.eye_height
        openness = 1.0 - w[f"eyeBlink{subject}"]
        openness *= 1.0 - 0.5 * w[f"eyeSquint{subject}"]
        openness *= 1.0 + 0.5 * w[f"eyeWide{subject}"]
        half_height = max(0.005, 0.075 * openness)
        shapes[f"eye_{suffix.lower()}"] = _arc(ex, ey, 0.13, half_height, 0, 360, 20)
        shapes[f"iris_{suffix.lower()}"] = _arc(ex, ey, 0.045, min(0.045, half_height), 0, 360, 12)
        raise_inner = 0.08 * w["browInnerUp"] - 0.05 * w[f"browDown{subject}"]
        raise_outer = 0.08 * w[f"browOuterUp{subject}"] - 0.05 * w[f"browDown{subject}"]
        xs = np.linspace(ex - side * 0.13, ex + side * 0.15, 8)  # inner end first
        along = np.linspace(0.0, 1.0, 8)
        ys = ey - 0.14 - 0.03 * np.sin(np.pi * along) - (raise_inner * (1 - along) + raise_outer * along)
        shapes[f"brow_{suffix.lower()}"] = np.stack([xs, ys], axis=1)

    shapes["nose"] = np.array([[0.0, -0.12], [-0.07, 0.18], [0.07, 0.18]])

    # Mouth: corners, then the upper and lower lip contours (outer and inner).
    mx, my = 0.0, style.mouth_height
    smile, frown = w.pair("mouthSmile"), w.pair("mouthFrown")
    # Generous gains: lip-sync models read the mouth at 224 x 224, where a millimetre is a pixel.
    half_width = style.mouth_width * (1.0 + 0.5 * w.pair("mouthStretch") + 0.3 * smile
                                      - 0.5 * w["mouthPucker"] - 0.2 * w["mouthFunnel"])
    corner_y = my - 0.05 * smile + 0.04 * frown
    shut = min(1.0, w["mouthClose"] + 0.5 * w.pair("mouthPress"))
    gap = 0.42 * jaw + 0.1 * w.pair("mouthLowerDown") + 0.05 * w.pair("mouthUpperUp") + 0.05 * w["mouthFunnel"]
    gap = max(0.0, gap * (1.0 - shut))
    upper_lip = 0.05 * (1.0 - 0.6 * w["mouthRollUpper"] - 0.4 * w.pair("mouthPress"))
    lower_lip = 0.06 * (1.0 - 0.6 * w["mouthRollLower"] - 0.4 * w.pair("mouthPress"))
    round_inner = 0.5 + 0.5 * w["mouthFunnel"]  # a funnel rounds the opening towards a circle
    upper_inner_y = my - 0.35 * gap - 0.02 * w.pair("mouthUpperUp")
    lower_inner_y = my + 0.65 * gap
    xs = np.linspace(-half_width, half_width, 17)
    bulge = 1.0 - (xs / half_width) ** 2  # 0 at the corners, 1 in the middle
    corners = corner_y + (my - corner_y) * bulge
    inner_bulge = bulge**round_inner
    upper_inner = np.stack([xs, corners + (upper_inner_y - my) * inner_bulge], axis=1)
    lower_inner = np.stack([xs, corners + (lower_inner_y - my) * inner_bulge], axis=1)
    upper_outer = upper_inner - np.stack([np.zeros_like(xs), upper_lip * (0.4 + 0.6 * bulge)], axis=1)
    lower_outer = lower_inner + np.stack([np.zeros_like(xs), lower_lip * (0.4 + 0.6 * bulge)], axis=1)
    shapes["upper_lip"] = np.concatenate([upper_outer, upper_inner[::-1]])
    shapes["lower_lip"] = np.concatenate([lower_inner, lower_outer[::-1]])
    shapes["mouth_opening"] = np.concatenate([upper_inner, lower_inner[::-1]])
    shapes["teeth"] = np.concatenate([upper_inner[3:-3], (upper_inner[3:-3] + [0.0, 0.25 * gap])[::-1]])
    tongue = w["tongueOut"]
    shapes["tongue"] = _arc(mx, lower_inner_y - 0.02 + 0.06 * tongue, 0.6 * half_width, 0.03 + 0.06 * tongue, 0, 180, 12)
    shapes["_gap"] = np.array([[gap, tongue]])  # not drawn: what the drawing decides from
    return shapes


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Rotation of face coordinates (x right, y down, z towards the camera), angles in degrees.
    Negative pitch nods down (the chin towards the chest), positive yaw turns the nose towards the
    image's right (the subject's left), positive roll tilts the head counter-clockwise in the image."""
    p, y, r = np.radians([pitch, yaw, roll])
    about_x = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    about_y = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    about_z = np.array([[np.cos(r), np.sin(r), 0], [-np.sin(r), np.cos(r), 0], [0, 0, 1]])  # y points down
    return about_z @ about_y @ about_x


def project(style: FaceStyle, points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """(n, 2) face-coordinate points on the head's ellipsoid -> pixel coordinates under `pose`."""
    x, y = points[:, 0], points[:, 1]
    # Depth of the front surface; the outline itself (at the rim) sits at depth 0.
    z = np.sqrt(np.clip(1.0 - (x / style.face_width) ** 2 - y**2, 0.0, None)) * 0.6
    rotated = np.stack([x, y, z], axis=1) @ _rotation(*pose[:3]).T
    scale = style.radius * (1.0 + float(pose[5]))
    face_box = 2 * style.radius
    cx = style.centre[0] + float(pose[3]) * face_box
    cy = style.centre[1] + float(pose[4]) * face_box
    return np.stack([cx + scale * rotated[:, 0], cy + scale * rotated[:, 1]], axis=1)


def _fill(frame: np.ndarray, points: np.ndarray, colour: tuple[int, int, int]) -> None:
    cv2.fillPoly(frame, [np.round(points * _SCALE).astype(np.int32)], colour, cv2.LINE_AA, _SUBPIXEL_BITS)


def _line(frame: np.ndarray, points: np.ndarray, colour: tuple[int, int, int], thickness: int) -> None:
    cv2.polylines(frame, [np.round(points * _SCALE).astype(np.int32)], False, colour, thickness, cv2.LINE_AA, _SUBPIXEL_BITS)


def render_frame(style: FaceStyle, blendshapes: np.ndarray, pose: np.ndarray, frame_size: int = FRAME_SIZE) -> np.ndarray:
    """One (frame_size, frame_size, 3) BGR uint8 frame of the face with these 52 weights and 6 pose values."""
    shapes = face_shapes(style, blendshapes)
    pose = np.asarray(pose, dtype=np.float64)
    frame = np.empty((frame_size, frame_size, 3), np.uint8)
    frame[:] = style.background
    drawn = {name: project(style, points, pose) for name, points in shapes.items() if not name.startswith("_")}
    gap, tongue = shapes["_gap"][0]
    _fill(frame, drawn["outline"], style.skin)
    for side in ("left", "right"):
        _fill(frame, drawn[f"eye_{side}"], (240, 240, 240))
        _fill(frame, drawn[f"iris_{side}"], style.iris)
        _line(frame, drawn[f"brow_{side}"], style.brows, 3)
    _fill(frame, drawn["nose"], tuple(int(c * 0.85) for c in style.skin))
    if gap > 0.004:
        _fill(frame, drawn["mouth_opening"], (30, 20, 50))
        _fill(frame, drawn["teeth"], (225, 228, 232))
        if tongue > 0.05:
            _fill(frame, drawn["tongue"], (110, 100, 200))
    _fill(frame, drawn["upper_lip"], style.lips)
    _fill(frame, drawn["lower_lip"], style.lips)
    return frame


def render_motion(style: FaceStyle, motion: FaceMotion, frame_size: int = FRAME_SIZE) -> Iterator[np.ndarray]:
    """The frames of a whole motion, one at a time (a long preview never sits in memory whole)."""
    for blendshapes, pose in zip(motion.blendshapes, motion.pose, strict=True):
        yield render_frame(style, blendshapes, pose, frame_size)
