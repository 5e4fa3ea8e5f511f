"""Face motion leaves the framework as files: our JSON, the Live Link Face CSV, and PNG curve plots.

Three writers (and two readers) of `FaceMotion`, each writing atomically (a temporary sibling renamed
into place, `sonicsynth.utils.atomic.atomic_write`), so an interrupted run never leaves half a file:

- **JSON** (`write_motion_json` / `read_motion_json`): the lossless record of a prediction. Layout,
  channel-major (one list per channel, keyed by name, so a reader never depends on column order)::

      {"format": "sonicsynth.face_motion", "version": 1, "name": ..., "fps": 25.0, "num_frames": T,
       "blendshape_names": [52 ARKit names, EmoTalk order], "pose_names": ["pitch", ..., "tz"],
       "units": {"blendshapes": "weight 0..1", "pitch": "degrees", ..., "tz": "face-box sizes"},
       "blendshapes": {"browDownLeft": [T numbers], ...}, "pose": {"pitch": [T numbers], ...},
       "meta": {...}}

  Numbers are the exact float64 values of the float32 arrays, so reading gives back bit-identical
  float32 arrays. `meta` is free-form JSON (audio file, model, settings) for the caller.

- **Live Link Face CSV** (`write_live_link_csv` / `read_live_link_csv`): the file Epic's "Live Link
  Face" iOS app records for every take, which Unreal, Unity, Blender, Maya and MotionBuilder users
  import. Layout, as found in takes recorded by the app (the sample takes in
  github.com/alexdjulin/LiveLinkFace-CSV-Retarget-For-Motionbuilder, anim/*.csv) and in the
  `EARFaceBlendShape` enum of Unreal's AugmentedReality module, whose order the app's columns follow:

  * header `Timecode,BlendShapeCount,` + the 52 ARKit names in Unreal's order and PascalCase
    (`LIVE_LINK_BLENDSHAPES`; note JawRight before JawLeft, MouthRight before MouthLeft) + the nine
    rotations `HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,
    RightEyePitch,RightEyeRoll`;
  * `BlendShapeCount` is 61 on every row: the number of value columns that follow it;
  * `Timecode` is `HH:MM:SS:FF.fff`: time of day, `FF` the frame at the timecode rate (60 in the
    app's takes, where 30 Hz samples advance it by 2) and `.fff` the sub-frame fraction (the sample
    takes step 31.652 -> 33.651 -> 35.651, i.e. fractions of a frame, not milliseconds);
  * blendshape weights 0..1 written with 10 decimals.

  Rotation units are where the evidence conflicts. Unreal's ARKit face support
  (`AppleARKitFaceMeshConversion.h`, `ToBlendShapeMap`, UE 4.2x) writes the nine rotation curves as
  Euler degrees / 180 ("maps -180..180 to -1..1"). The app's own recorded takes, however, hold eye
  yaw spanning about +-0.6 and an eye pitch resting near 0.17 in a range-of-motion take: +-108 degrees
  read as degrees/180 is anatomically impossible, +-34 degrees read as radians is a normal eye range
  (their head columns are all 0, head rotation being off in those takes). We therefore read and write
  **radians** by default, the reading the recorded files support, and take `rotation_unit=
  "normalized"` (degrees / 180) or `"degrees"` for files from other producers. Signs are passed
  through unchanged (our yaw -> HeadYaw, pitch -> HeadPitch, roll -> HeadRoll); one Blender importer
  notes the app inverts pitch and yaw in landscape orientation, which a file cannot tell us.

  The format has no head translation: tx, ty, tz are not written and read back as 0. We do not predict
  gaze, and no documented simple mapping from eyeLook* weights to eye angles exists, so the six eye
  rotations are written as 0 and ignored on reading.

- **PNG** (`plot_motion`): the main mouth/eye/brow channels and the head pose over time in seconds,
  an optional ground truth dashed over each, for eval reports and for looking at a prediction.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sonicsynth.models.face.blendshapes import (
    ARKIT_BLENDSHAPES,
    NUM_BLENDSHAPES,
    POSE_NAMES,
    POSE_ROTATION,
    POSE_TRANSLATION,
    FaceMotion,
    FaceMotionError,
    blendshape_indices,
)
from sonicsynth.utils.atomic import atomic_write

PathLike = str | os.PathLike[str]


class MotionFileError(FaceMotionError):
    """A face-motion file that cannot be read or written; the message names the file and the problem."""


# ----------------------------------------------------------------------------------------------- JSON

MOTION_JSON_FORMAT = "sonicsynth.face_motion"
MOTION_JSON_VERSION = 1
POSE_UNITS: dict[str, str] = {
    "pitch": "degrees", "yaw": "degrees", "roll": "degrees",
    "tx": "face-box sizes", "ty": "face-box sizes", "tz": "face-box sizes",
}
BLENDSHAPE_UNITS = "weight 0..1"


def _require_motion(motion: Any, what: str = "motion") -> FaceMotion:
    if not isinstance(motion, FaceMotion):
        raise TypeError(f"{what} must be a FaceMotion, got {type(motion).__name__}")
    return motion


def motion_to_json_dict(motion: FaceMotion, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document of `motion` (see the module docstring for the layout)."""
    motion = _require_motion(motion)
    if meta is not None and not isinstance(meta, Mapping):
        raise TypeError(f"meta must be a mapping (e.g. a dict), got {type(meta).__name__}")
    # float32 -> Python float is exact, and json writes the shortest repr that parses back to it.
    blendshapes = motion.blendshapes.astype(np.float32).T.tolist()
    pose = motion.pose.astype(np.float32).T.tolist()
    return {
        "format": MOTION_JSON_FORMAT,
        "version": MOTION_JSON_VERSION,
        "name": motion.name,
        "fps": float(motion.fps),
        "num_frames": motion.num_frames,
        "blendshape_names": list(ARKIT_BLENDSHAPES),
        "pose_names": list(POSE_NAMES),
        "units": {"blendshapes": BLENDSHAPE_UNITS, **POSE_UNITS},
        "blendshapes": dict(zip(ARKIT_BLENDSHAPES, blendshapes)),
        "pose": dict(zip(POSE_NAMES, pose)),
        "meta": dict(meta) if meta is not None else {},
    }


def write_motion_json(path: PathLike, motion: FaceMotion, meta: Mapping[str, Any] | None = None) -> Path:
    """Write `motion` (and free-form `meta`: audio file, model, settings) as JSON; returns the path.

    The document is serialised completely before the file is opened, so metadata that JSON cannot hold
    (a numpy array, a Path) fails with a clear error and leaves no file behind.
    """
    path = Path(path)
    document = motion_to_json_dict(motion, meta)
    try:
        text = json.dumps(document, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise MotionFileError(f"{path}: meta cannot be written as JSON ({error})") from error
    with atomic_write(path, "w") as file:
        file.write(text)
        file.write("\n")
    return path


def _curves(section: Any, names: Sequence[str], what: str, frames: int, path: Path) -> np.ndarray:
    if not isinstance(section, Mapping):
        raise MotionFileError(f"{path}: '{what}' must be an object of named curves, got {type(section).__name__}")
    missing = [name for name in names if name not in section]
    unknown = sorted(set(section) - set(names))
    if missing or unknown:
        raise MotionFileError(f"{path}: '{what}' is missing {missing} and has unknown channels {unknown}")
    columns = []
    for name in names:
        curve = section[name]
        if not isinstance(curve, list) or len(curve) != frames:
            length = len(curve) if isinstance(curve, list) else type(curve).__name__
            raise MotionFileError(f"{path}: {what}.{name} must be a list of {frames} numbers, got {length}")
        try:
            columns.append(np.asarray(curve, dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise MotionFileError(f"{path}: {what}.{name} holds a value that is not a number ({error})") from None
    return np.stack(columns, axis=1).astype(np.float32)


def read_motion_json(path: PathLike) -> tuple[FaceMotion, dict[str, Any]]:
    """Read a file written by `write_motion_json`: returns (motion, meta).

    Channels are found by name, not position; a missing or extra channel, a wrong frame count, another
    format or a newer version is an error naming the file.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MotionFileError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MotionFileError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != MOTION_JSON_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise MotionFileError(f"{path}: not a {MOTION_JSON_FORMAT} file (format {found!r})")
    version = document.get("version")
    if not isinstance(version, int) or version > MOTION_JSON_VERSION:
        raise MotionFileError(f"{path}: format version {version!r}; this sonicsynth reads up to {MOTION_JSON_VERSION}")
    frames = document.get("num_frames")
    if isinstance(frames, bool) or not isinstance(frames, int) or frames <= 0:
        raise MotionFileError(f"{path}: num_frames must be a positive integer, got {frames!r}")
    blendshapes = _curves(document.get("blendshapes"), ARKIT_BLENDSHAPES, "blendshapes", frames, path)
    pose = _curves(document.get("pose"), POSE_NAMES, "pose", frames, path)
    meta = document.get("meta", {})
    if not isinstance(meta, dict):
        raise MotionFileError(f"{path}: meta must be an object, got {type(meta).__name__}")
    try:
        motion = FaceMotion(blendshapes, pose, fps=document.get("fps"), name=str(document.get("name", path.stem)))
    except FaceMotionError as error:
        raise MotionFileError(f"{path}: {error}") from None
    return motion, meta


# ------------------------------------------------------------------------------ Live Link Face CSV

# Unreal's EARFaceBlendShape order (the app's column order), PascalCase as in the app's header.
LIVE_LINK_BLENDSHAPES: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft",
    "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight", "EyeLookOutRight", "EyeLookUpRight",
    "EyeSquintRight", "EyeWideRight",
    "JawForward", "JawRight", "JawLeft", "JawOpen",
    "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight", "MouthLeft",
    "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper",
    "MouthPressLeft", "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight",
    "MouthUpperUpLeft", "MouthUpperUpRight",
    "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight",
    "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft", "NoseSneerRight",
    "TongueOut",
)
LIVE_LINK_HEAD_ROTATIONS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll")
LIVE_LINK_EYE_ROTATIONS: tuple[str, ...] = (
    "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
LIVE_LINK_VALUE_COLUMNS: tuple[str, ...] = LIVE_LINK_BLENDSHAPES + LIVE_LINK_HEAD_ROTATIONS + LIVE_LINK_EYE_ROTATIONS
LIVE_LINK_HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount") + LIVE_LINK_VALUE_COLUMNS
LIVE_LINK_BLENDSHAPE_COUNT = len(LIVE_LINK_VALUE_COLUMNS)  # 61
LIVE_LINK_TIMECODE_FPS = 60.0  # the rate the app's timecode frames count at
LIVE_LINK_DECIMALS = 10  # as the app writes them
# Our pose rotation names -> the Live Link head columns, by name.
HEAD_ROTATION_TO_LIVE_LINK: dict[str, str] = {"yaw": "HeadYaw", "pitch": "HeadPitch", "roll": "HeadRoll"}
ROTATION_UNITS = ("radians", "normalized", "degrees")  # normalized = degrees / 180 (Unreal's ARKit plugin)


def _live_link_name(arkit_name: str) -> str:
    # ARKit's camelCase `eyeBlinkLeft` is Live Link's PascalCase `EyeBlinkLeft`.
    return arkit_name[0].upper() + arkit_name[1:]


def _arkit_to_live_link() -> dict[str, str]:
    """Our ARKit name -> Live Link column, checked to be a one-to-one cover of both name lists."""
    mapping = {name: _live_link_name(name) for name in ARKIT_BLENDSHAPES}
    if sorted(mapping.values()) != sorted(LIVE_LINK_BLENDSHAPES) or len(LIVE_LINK_BLENDSHAPES) != NUM_BLENDSHAPES:
        raise RuntimeError("the ARKit and Live Link blendshape name lists do not cover each other")
    return mapping


ARKIT_TO_LIVE_LINK: dict[str, str] = _arkit_to_live_link()
LIVE_LINK_TO_ARKIT: dict[str, str] = {live: ours for ours, live in ARKIT_TO_LIVE_LINK.items()}

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})[:;](\d{1,3})(?:\.(\d+))?$")


def _degrees_to_file(degrees: np.ndarray, unit: str) -> np.ndarray:
    if unit == "radians":
        return np.deg2rad(degrees)
    if unit == "normalized":
        return degrees / 180.0
    return degrees


def _file_to_degrees(values: np.ndarray, unit: str) -> np.ndarray:
    if unit == "radians":
        return np.rad2deg(values)
    if unit == "normalized":
        return values * 180.0
    return values


def _check_rotation_unit(unit: str) -> None:
    if unit not in ROTATION_UNITS:
        raise ValueError(f"rotation_unit must be one of {ROTATION_UNITS}, got {unit!r}")


def _check_rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def _check_timecode_rate(value: Any) -> float:
    rate = _check_rate(value, "timecode_fps")
    if rate != round(rate):
        raise ValueError(f"timecode_fps must be a whole number of frames per second, got {value!r}")
    return rate


def format_timecode(seconds: float, timecode_fps: float = LIVE_LINK_TIMECODE_FPS) -> str:
    """`HH:MM:SS:FF.fff` for a time in seconds: FF frames at `timecode_fps`, .fff the sub-frame fraction."""
    thousandths = round(seconds * timecode_fps * 1000)  # in thousandths of a timecode frame
    whole_frames, sub_frame = divmod(thousandths, 1000)
    frames_per_second = round(timecode_fps)
    whole_seconds, frame = divmod(whole_frames, frames_per_second)
    minutes, second = divmod(whole_seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours:02d}:{minute:02d}:{second:02d}:{frame:02d}.{sub_frame:03d}"


def parse_timecode(text: str, timecode_fps: float = LIVE_LINK_TIMECODE_FPS) -> float:
    """Seconds since midnight of an `HH:MM:SS:FF[.fff]` timecode; ValueError says what is wrong."""
    match = _TIMECODE.match(text.strip())
    if match is None:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff")
    hours, minutes, seconds, frame = (int(group) for group in match.groups()[:4])
    fraction = float("0." + match.group(5)) if match.group(5) else 0.0
    if minutes >= 60 or seconds >= 60:
        raise ValueError(f"timecode {text!r} has minutes or seconds of 60 or more")
    if frame >= timecode_fps:
        raise ValueError(f"timecode {text!r} counts frame {frame}, not below the timecode rate {timecode_fps:g} "
                         "(pass the take's timecode_fps)")
    return hours * 3600 + minutes * 60 + seconds + (frame + fraction) / timecode_fps


def write_live_link_csv(
    path: PathLike,
    motion: FaceMotion,
    *,
    rotation_unit: str = "radians",
    timecode_fps: float = LIVE_LINK_TIMECODE_FPS,
    start_seconds: float = 0.0,
) -> Path:
    """Write `motion` as a Live Link Face CSV (header `LIVE_LINK_HEADER`); returns the path.

    Frame i is stamped `start_seconds + i / motion.fps` in the app's timecode style at `timecode_fps`.
    Blendshapes are clamped to the format's 0..1 (Unreal's ARKit plugin clamps negatives the same
    way); head yaw/pitch/roll are converted from degrees to `rotation_unit`; eye rotations are 0 and
    head translation is not part of the format (see the module docstring).
    """
    motion = _require_motion(motion)
    _check_rotation_unit(rotation_unit)
    timecode_fps = _check_timecode_rate(timecode_fps)
    if isinstance(start_seconds, bool) or not isinstance(start_seconds, (int, float)) \
            or not math.isfinite(start_seconds) or start_seconds < 0:
        raise ValueError(f"start_seconds must be a non-negative number, got {start_seconds!r}")
    if start_seconds + motion.duration >= 24 * 3600:
        raise ValueError("a Live Link timecode is a time of day: start_seconds + duration must stay below 24 hours")
    frames = motion.num_frames
    columns: dict[str, np.ndarray] = {}
    weights = np.clip(motion.blendshapes.astype(np.float64), 0.0, 1.0)
    for ours, index in zip(ARKIT_BLENDSHAPES, blendshape_indices(ARKIT_BLENDSHAPES)):
        columns[ARKIT_TO_LIVE_LINK[ours]] = weights[:, index]
    for ours, live in HEAD_ROTATION_TO_LIVE_LINK.items():
        degrees = motion.pose[:, POSE_NAMES.index(ours)].astype(np.float64)
        columns[live] = _degrees_to_file(degrees, rotation_unit)
    for live in LIVE_LINK_EYE_ROTATIONS:
        columns[live] = np.zeros(frames)
    values = np.stack([columns[name] for name in LIVE_LINK_VALUE_COLUMNS], axis=1)

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LIVE_LINK_HEADER)
    number = f"{{:.{LIVE_LINK_DECIMALS}f}}"
    for frame in range(frames):
        timecode = format_timecode(start_seconds + frame / float(motion.fps), timecode_fps)
        # `+ 0.0` turns -0.0 into 0.0, so a zero never prints as "-0.0000000000".
        writer.writerow([timecode, LIVE_LINK_BLENDSHAPE_COUNT, *(number.format(v + 0.0) for v in values[frame])])
    path = Path(path)
    with atomic_write(path, "w") as file:
        file.write(text.getvalue())
    return path


def _estimate_fps(seconds: np.ndarray, path: Path) -> float:
    if len(seconds) < 2:
        raise MotionFileError(f"{path}: one frame gives no frame rate; pass fps=")
    fps = (len(seconds) - 1) / float(seconds[-1] - seconds[0])
    # Capture rates are nominally whole numbers; timecodes quantised to 1/1000 frame blur them slightly.
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= 0.01 * fps else fps


def read_live_link_csv(
    path: PathLike,
    *,
    rotation_unit: str = "radians",
    timecode_fps: float = LIVE_LINK_TIMECODE_FPS,
    fps: float | None = None,
) -> FaceMotion:
    """Read a Live Link Face CSV take as `FaceMotion` (e.g. to use a recording as a training target).

    Columns are found by name, case-insensitively (the app writes PascalCase, some tools camelCase),
    never by position; eye rotation columns and unknown extra columns are ignored. Rows are taken as
    consecutive frames; the frame rate is `fps` if given, else estimated from the timecodes (counted at
    `timecode_fps`), and a warning says when timecode steps are uneven (dropped frames). Head
    rotations are converted from `rotation_unit` to degrees; translation is 0 (the format has none).
    Errors name the file and the problem: missing columns, a row with the wrong number of fields or a
    wrong BlendShapeCount, a value that is not a finite number, a bad or backward timecode, weights
    outside 0..1 or head angles beyond 180 degrees (wrong `rotation_unit`).
    """
    path = Path(path)
    _check_rotation_unit(rotation_unit)
    timecode_fps = _check_timecode_rate(timecode_fps)
    if fps is not None:
        fps = _check_rate(fps, "fps")
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = [row for row in csv.reader(file) if any(cell.strip() for cell in row)]
    except FileNotFoundError:
        raise MotionFileError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise MotionFileError(f"{path}: not a readable CSV text file ({error})") from None
    if not rows:
        raise MotionFileError(f"{path}: empty file")
    header = [cell.strip() for cell in rows[0]]
    position: dict[str, int] = {}
    for column, name in enumerate(header):
        key = name.lower()
        if key in position:
            raise MotionFileError(f"{path}: column {name!r} appears twice in the header")
        position[key] = column
    required = ("Timecode",) + LIVE_LINK_BLENDSHAPES + LIVE_LINK_HEAD_ROTATIONS
    missing = [name for name in required if name.lower() not in position]
    if missing:
        raise MotionFileError(
            f"{path}: not a Live Link Face CSV: the header lacks {len(missing)} column(s): {', '.join(missing)}"
        )
    data = rows[1:]
    if not data:
        raise MotionFileError(f"{path}: header only, no frames")
    count_column = position.get("blendshapecount")
    value_names = LIVE_LINK_BLENDSHAPES + LIVE_LINK_HEAD_ROTATIONS
    value_columns = [position[name.lower()] for name in value_names]
    values = np.empty((len(data), len(value_names)), dtype=np.float64)
    seconds = np.empty(len(data), dtype=np.float64)
    for index, row in enumerate(data):
        line = index + 2  # 1-based, after the header
        if len(row) != len(header):
            raise MotionFileError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
        if count_column is not None:
            expected = len(header) - count_column - 1
            if row[count_column].strip() != str(expected):
                raise MotionFileError(
                    f"{path}: line {line}: BlendShapeCount is {row[count_column]!r}, but {expected} values follow it"
                )
        try:
            seconds[index] = parse_timecode(row[position["timecode"]], timecode_fps)
        except ValueError as error:
            raise MotionFileError(f"{path}: line {line}: {error}") from None
        for slot, (name, column) in enumerate(zip(value_names, value_columns)):
            try:
                value = float(row[column])
            except ValueError:
                raise MotionFileError(f"{path}: line {line}, column {name}: {row[column]!r} is not a number") from None
            if not math.isfinite(value):
                raise MotionFileError(f"{path}: line {line}, column {name}: {row[column]!r} is not finite")
            values[index, slot] = value
    steps = np.diff(seconds)
    if (steps <= 0).any():
        bad = int(np.argmax(steps <= 0))
        raise MotionFileError(
            f"{path}: timecodes do not increase at line {bad + 3} ({data[bad + 1][position['timecode']]} after "
            f"{data[bad][position['timecode']]})"
        )
    gaps = int((steps > 1.5 * np.median(steps)).sum()) if len(steps) > 1 else 0
    if gaps:
        warnings.warn(
            f"{path}: {gaps} timecode step(s) up to {steps.max() / np.median(steps):.1f}x the median (dropped "
            "frames?); rows are read as consecutive frames", stacklevel=2,
        )
    frame_rate = fps if fps is not None else _estimate_fps(seconds, path)

    blendshapes = np.empty((len(data), NUM_BLENDSHAPES), dtype=np.float32)
    for slot, live in enumerate(LIVE_LINK_BLENDSHAPES):
        blendshapes[:, ARKIT_BLENDSHAPES.index(LIVE_LINK_TO_ARKIT[live])] = values[:, slot]
    pose = np.zeros((len(data), len(POSE_NAMES)), dtype=np.float64)
    for ours, live in HEAD_ROTATION_TO_LIVE_LINK.items():
        pose[:, POSE_NAMES.index(ours)] = _file_to_degrees(values[:, value_names.index(live)], rotation_unit)
    largest = float(np.abs(pose[:, POSE_ROTATION]).max())
    if largest > 180.0:
        raise MotionFileError(
            f"{path}: head rotation reaches {largest:.0f} degrees when read as {rotation_unit}; "
            "the file must use another rotation_unit"
        )
    try:
        return FaceMotion(blendshapes, pose.astype(np.float32), fps=frame_rate, name=path.stem)
    except FaceMotionError as error:
        raise MotionFileError(f"{path}: {error}") from None


# -------------------------------------------------------------------------------------------- PNG

DEFAULT_PLOT_CHANNELS: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "eyeBlinkLeft", "browInnerUp",
)
PLOT_WIDTH_INCHES = 10.0
PLOT_ROW_INCHES = 1.3
PLOT_DPI = 100


def plot_size_pixels(num_channels: int) -> tuple[int, int]:
    """(width, height) in pixels of `plot_motion`'s PNG for that many blendshape rows (+2 pose rows)."""
    rows = num_channels + 2
    return round(PLOT_WIDTH_INCHES * PLOT_DPI), round((PLOT_ROW_INCHES * rows + 0.8) * PLOT_DPI)


def plot_motion(
    path: PathLike,
    motion: FaceMotion,
    reference: FaceMotion | None = None,
    channels: Sequence[str] = DEFAULT_PLOT_CHANNELS,
    title: str | None = None,
) -> Path:
    """PNG of the chosen blendshape channels (one row each, 0..1) and the head pose (rotation in
    degrees, translation in face-box sizes) against time in seconds; `reference` (ground truth) is
    drawn dashed over each curve. Returns the path; the size is `plot_size_pixels(len(channels))`.
    """
    from sonicsynth.utils.plotting import plt  # sets the file-only Agg backend once

    motion = _require_motion(motion)
    if reference is not None:
        _require_motion(reference, "reference")
    if isinstance(channels, str) or not channels:
        raise ValueError(f"channels must be a non-empty sequence of ARKit names, got {channels!r}")
    channels = tuple(channels)
    indices = blendshape_indices(channels)  # an unknown name is a KeyError listing close matches
    if len(set(channels)) != len(channels):
        raise ValueError(f"channels are listed twice: {sorted({c for c in channels if channels.count(c) > 1})}")

    width, height = plot_size_pixels(len(channels))
    fig, axes = plt.subplots(len(channels) + 2, 1, figsize=(width / PLOT_DPI, height / PLOT_DPI), sharex=True)
    try:
        time = np.arange(motion.num_frames) / float(motion.fps)
        ref_time = None if reference is None else np.arange(reference.num_frames) / float(reference.fps)
        for axis, name, index in zip(axes, channels, indices):
            (line,) = axis.plot(time, motion.blendshapes[:, index], linewidth=1.0, label=motion.name)
            if reference is not None:
                axis.plot(ref_time, reference.blendshapes[:, index], linestyle="--", linewidth=1.0,
                          color=line.get_color(), alpha=0.7, label=f"{reference.name} (dashed)")
            axis.set_ylim(-0.05, 1.05)
            axis.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        pose_rows = (
            (axes[-2], POSE_ROTATION, "rotation\n(degrees)"),
            (axes[-1], POSE_TRANSLATION, "translation\n(face boxes)"),
        )
        for axis, part, label in pose_rows:
            for offset, name in enumerate(POSE_NAMES[part]):
                column = part.start + offset
                (line,) = axis.plot(time, motion.pose[:, column], linewidth=1.0, label=name)
                if reference is not None:
                    axis.plot(ref_time, reference.pose[:, column], linestyle="--", linewidth=1.0,
                              color=line.get_color(), alpha=0.7)
            axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
            axis.legend(loc="upper right", fontsize=7, ncol=3)
        if reference is not None:
            axes[0].legend(loc="upper right", fontsize=7, ncol=2)
        end = max(motion.duration, reference.duration if reference is not None else 0.0)
        axes[-1].set_xlim(0, end)
        axes[-1].set_xlabel("time (s)")
        default_title = f"{motion.name}: {motion.num_frames} frames at {float(motion.fps):g} fps"
        if reference is not None:
            default_title += f" (dashed: {reference.name})"
        fig.suptitle(title if title is not None else default_title, fontsize=10)
        # Fixed margins, not tight_layout: the size in pixels stays exactly what plot_size_pixels says.
        fig.subplots_adjust(left=0.13, right=0.99, top=1 - 0.5 / (height / PLOT_DPI), bottom=0.45 / (height / PLOT_DPI),
                            hspace=0.25)
        path = Path(path)
        with atomic_write(path, "wb") as file:
            fig.savefig(file, format="png", dpi=PLOT_DPI)
    finally:
        plt.close(fig)
    return path
