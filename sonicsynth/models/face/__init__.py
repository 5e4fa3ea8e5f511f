"""Face side: per-frame face motion (ARKit-52 blendshapes + head pose at 25 fps) and its post-processing.

`blendshapes` defines the channel order, the named channel groups and `FaceMotion`; `postprocess`
applies the user-facing face parameters (`dynamic_scale`, `motion_scale`, smoothing, blinks,
`alignment_offset_sec`) and records what it did for the generation log.
"""

from sonicsynth.models.face.blendshapes import (
    ARKIT_BLENDSHAPES,
    BLINK_CHANNELS,
    FPS,
    MOUTH_CHANNELS,
    POSE_NAMES,
    UPPER_FACE_CHANNELS,
    FaceMotion,
    FaceMotionError,
    blendshape_index,
    blendshape_indices,
)

__all__ = [
    "ARKIT_BLENDSHAPES", "BLINK_CHANNELS", "FPS", "MOUTH_CHANNELS", "POSE_NAMES", "UPPER_FACE_CHANNELS",
    "FaceMotion", "FaceMotionError", "blendshape_index", "blendshape_indices",
]
