"""Face side: per-frame face motion (ARKit-52 blendshapes + head pose at 25 fps) and its post-processing.

`blendshapes` defines the channel order, the named channel groups and `FaceMotion`; `postprocess`
applies the user-facing face parameters (`dynamic_scale`, `motion_scale`, smoothing, blinks,
`alignment_offset_sec`) and records what it did for the generation log; `motion_io` writes and reads
face motion as files: our JSON, the Live Link Face CSV (for Unreal/Unity/Blender) and PNG plots.
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
from sonicsynth.models.face.motion_io import (
    LIVE_LINK_HEADER,
    MotionFileError,
    plot_motion,
    read_live_link_csv,
    read_motion_json,
    write_live_link_csv,
    write_motion_json,
)

__all__ = [
    "ARKIT_BLENDSHAPES", "BLINK_CHANNELS", "FPS", "MOUTH_CHANNELS", "POSE_NAMES", "UPPER_FACE_CHANNELS",
    "FaceMotion", "FaceMotionError", "blendshape_index", "blendshape_indices",
    "LIVE_LINK_HEADER", "MotionFileError", "plot_motion", "read_live_link_csv", "read_motion_json",
    "write_live_link_csv", "write_motion_json",
]
