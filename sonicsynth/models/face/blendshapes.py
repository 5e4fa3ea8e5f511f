"""Face motion as the face side passes it around: ARKit-52 blendshapes plus head pose, 25 fps.

The channel order is the alphabetical order of Apple's ARKit `ARFaceAnchor.BlendShapeLocation`
names, the order EmoTalk's 52-channel outputs use, so EmoTalk-style targets and predictions load
without a permutation. Every index into a (frames, 52) array goes through `blendshape_index` or one
of the named groups below; nothing else hard-codes a column number.

Groups (they partition the 52 channels):
- `MOUTH_CHANNELS` (= `LOWER_FACE_CHANNELS`): jaw*, mouth*, cheekPuff, tongueOut, the channels
  speech drives and `dynamic_scale` scales;
- `UPPER_FACE_CHANNELS`: brow*, eye*, cheekSquint*, noseSneer*, the expression that
  `motion_scale` scales;
- `BLINK_CHANNELS`: eyeBlinkLeft/Right (part of the upper face), the channels blink injection writes.

Pose is (pitch, yaw, roll) in degrees and (tx, ty, tz) as a translation of the head relative to the
reference portrait, in units of the face-box size (so it does not depend on the video resolution).
Signs, as seen in the image: pitch > 0 raises the chin (< 0 nods down), yaw > 0 turns the nose
towards the image's right (the subject's left), roll > 0 tilts the head counter-clockwise; tx > 0
moves right, ty > 0 moves down, tz > 0 comes towards the camera (the face grows).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

FPS = 25  # face motion frame rate (DESIGN.md: video and face motion at 25 fps)

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft",
    "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
    "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
NUM_BLENDSHAPES = len(ARKIT_BLENDSHAPES)  # 52
POSE_NAMES: tuple[str, ...] = ("pitch", "yaw", "roll", "tx", "ty", "tz")
POSE_ROTATION = slice(0, 3)  # degrees
POSE_TRANSLATION = slice(3, 6)  # face-box sizes

_INDEX = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}


def blendshape_index(name: str) -> int:
    """Column of one ARKit blendshape; an unknown name is an error that lists the close matches."""
    try:
        return _INDEX[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, ARKIT_BLENDSHAPES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise KeyError(f"{name!r} is not an ARKit-52 blendshape name{hint}") from None


def blendshape_indices(names: Iterable[str]) -> np.ndarray:
    """Columns of several blendshapes, in the order given, as an int array for fancy indexing."""
    return np.array([blendshape_index(name) for name in names], dtype=np.int64)


def _starting(*prefixes: str) -> tuple[str, ...]:
    return tuple(name for name in ARKIT_BLENDSHAPES if name.startswith(prefixes))


MOUTH_CHANNELS: tuple[str, ...] = _starting("jaw", "mouth", "cheekPuff", "tongueOut")
LOWER_FACE_CHANNELS = MOUTH_CHANNELS
UPPER_FACE_CHANNELS: tuple[str, ...] = _starting("brow", "eye", "cheekSquint", "noseSneer")
BLINK_CHANNELS: tuple[str, ...] = ("eyeBlinkLeft", "eyeBlinkRight")

MOUTH_INDICES = blendshape_indices(MOUTH_CHANNELS)
UPPER_FACE_INDICES = blendshape_indices(UPPER_FACE_CHANNELS)
BLINK_INDICES = blendshape_indices(BLINK_CHANNELS)
JAW_OPEN = blendshape_index("jawOpen")


class FaceMotionError(ValueError):
    """Face motion arrays that cannot be used; the message names the array and the problem."""


@dataclass
class FaceMotion:
    """Per-frame face motion: `blendshapes` (frames, 52) float32 in [0, 1] in `ARKIT_BLENDSHAPES`
    order, `pose` (frames, 6) float32 = pitch, yaw, roll (degrees), tx, ty, tz (face-box sizes).

    Validated on construction so that a wrong-shaped or NaN array is refused where it enters, not
    where a renderer later produces a broken frame. Blendshapes slightly outside [0, 1] are accepted
    (model outputs overshoot; `postprocess` clamps); far outside is refused as the wrong units.
    """

    blendshapes: np.ndarray
    pose: np.ndarray
    fps: float = FPS
    name: str = "face motion"

    # Beyond this a "blendshape" is no longer a 0..1 weight (e.g. percent or raw network logits).
    TOLERANCE = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float, np.integer, np.floating)) \
                or not np.isfinite(self.fps) or self.fps <= 0:
            raise FaceMotionError(f"{self.name}: fps must be a positive number, got {self.fps!r}")
        self.blendshapes = self._check(self.blendshapes, NUM_BLENDSHAPES, "blendshapes")
        self.pose = self._check(self.pose, len(POSE_NAMES), "pose")
        if len(self.blendshapes) != len(self.pose):
            raise FaceMotionError(
                f"{self.name}: blendshapes have {len(self.blendshapes)} frames but pose has {len(self.pose)}"
            )
        low, high = float(self.blendshapes.min()), float(self.blendshapes.max())
        if low < -self.TOLERANCE or high > 1 + self.TOLERANCE:
            raise FaceMotionError(
                f"{self.name}: blendshape weights span [{low:.3g}, {high:.3g}], expected 0..1 "
                "(percent or unnormalised outputs?)"
            )

    def _check(self, array: np.ndarray, channels: int, what: str) -> np.ndarray:
        array = np.asarray(array)
        if array.ndim != 2 or array.shape[1] != channels:
            raise FaceMotionError(f"{self.name}: {what} must be (frames, {channels}), got shape {array.shape}")
        if array.shape[0] == 0:
            raise FaceMotionError(f"{self.name}: {what} has no frames")
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise FaceMotionError(f"{self.name}: {what} must be real numbers, got dtype {array.dtype}")
        array = array.astype(np.float32)
        bad = ~np.isfinite(array)
        if bad.any():
            frame, channel = map(int, np.argwhere(bad)[0])
            raise FaceMotionError(
                f"{self.name}: {what} has {int(bad.sum())} non-finite values (first at frame {frame}, channel {channel})"
            )
        return array

    @property
    def num_frames(self) -> int:
        return int(self.blendshapes.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered: frames / fps."""
        return self.num_frames / float(self.fps)

    def channel(self, name: str) -> np.ndarray:
        """One blendshape's curve (a view) by ARKit name."""
        return self.blendshapes[:, blendshape_index(name)]

    def replace(self, *, blendshapes: np.ndarray | None = None, pose: np.ndarray | None = None) -> FaceMotion:
        """A validated copy with some arrays replaced (the others copied, never shared)."""
        return FaceMotion(
            self.blendshapes.copy() if blendshapes is None else blendshapes,
            self.pose.copy() if pose is None else pose,
            fps=self.fps, name=self.name,
        )
