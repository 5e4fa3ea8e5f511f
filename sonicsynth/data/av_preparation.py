"""Face targets of talking-face videos: square face crops, landmarks, approximate blendshapes and pose.

For one video (`prepare_video`):
1. decode at 25 fps (`sonicsynth.video.io`, ffmpeg drops or repeats frames);
2. detect faces in every frame and link them into tracks (`sonicsynth.video.faces.track_faces`:
   OpenCV Haar + syncnet_python's IoU linking, never across a shot cut);
3. keep the main track: the one with the most detections (then the largest face); the others are
   reported. No track at all is an error naming the file;
4. smooth the main track's boxes (a running median over `box_smoothing` frames, so the crop does
   not jitter with the detector) and hold its first/last box over the frames outside it;
5. crop every frame to the square `square_crop_box(box, expand_ratio)`, resized to `crop_size`, and
   find the 68 landmarks (an injected backend, dlib's by default);
6. derive blendshape and pose targets from the landmarks (`sonicsynth.video.face_geometry`,
   approximate: read its doc).

Per frame, `ok` is True where the face was detected in that frame. Frames inside the track where
the detector lost the face (a gap, e.g. the face sliding out of the picture) and frames outside the
track are flagged (`ok` False): their boxes are interpolated or held and their targets interpolated
between the nearest ok frames, so arrays always cover the whole video, and a loss should mask them.

Outputs go to the feature cache (`sonicsynth.data.feature_cache`), keyed by the video file's SHA-256
and the hash of the preparation settings (landmark backend and target-formula version included):
`<key>/<aa>/<sha>.npz` (arrays below) and `<key>/<aa>/<sha>.mp4` (the face crops at 25 fps with the
16 kHz audio, when the video has audio). Both are written atomically; the .npz, written last, marks a
video as prepared.

    blendshapes (T, 52) float32 [0, 1]   pose (T, 6) float32     estimated_channels (52,) bool
    ok, in_track (T,) bool               boxes, crop_boxes (T, 4) float32 x1 y1 x2 y2 (frame pixels)
    landmarks (T, 68, 2) float32 (frame pixels)                   fps () float
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import median_filter
from tqdm import tqdm

from sonicsynth.data.feature_cache import AudioHashIndex, FeatureCache
from sonicsynth.data.manifest import Utterance
from sonicsynth.utils.atomic import atomic_write
from sonicsynth.video.face_geometry import estimated_channel_mask, landmark_targets
from sonicsynth.video.faces import FaceTrack, HaarFaceDetector, crop_square, square_crop_box, track_faces
from sonicsynth.video.io import VideoError, iter_frames, probe_video, read_audio_track, write_video
from sonicsynth.video.landmarks import DlibLandmarks, LandmarkBackend

log = logging.getLogger(__name__)

FEATURE_NAME = "face_targets"
# Bump when the target formulas or the arrays change, so old cache entries are not reused.
TARGETS_VERSION = 1
SUMMARY_NAME = "face_preparation_summary.json"


class FacePreparationError(ValueError):
    """A video whose face targets cannot be made; the message names the file and the reason."""


@dataclass(frozen=True)
class FacePreparationSettings:
    fps: float = 25.0
    sample_rate: int = 16000
    crop_size: int = 256
    expand_ratio: float = 0.3  # face-box padding on each side before the square crop
    detection_short_side: int = 360  # faces are detected on a copy this size (short side, pixels)
    min_face_size: int = 24  # smallest face the detector looks for, on that copy
    max_gap: int = 25  # frames a track may lose its face and continue
    box_smoothing: int = 9  # frames of the running median over box centre and size

    def __post_init__(self) -> None:
        if self.crop_size <= 0 or self.crop_size % 2:
            raise ValueError(f"crop_size must be a positive even number (H.264), got {self.crop_size}")
        if not 0 <= self.expand_ratio <= 2:
            raise ValueError(f"expand_ratio must be within [0, 2], got {self.expand_ratio}")


@dataclass
class PreparedVideo:
    arrays: dict[str, np.ndarray]
    report: dict[str, Any]


def _spans(mask: np.ndarray) -> list[list[int]]:
    """[first, last] frame of every run of True in `mask`."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [[int(a), int(b) - 1] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _track_summary(track: FaceTrack) -> dict[str, Any]:
    return {"start": track.start, "end": track.end, "detections": track.detections,
            "face_size": round(track.face_size, 1)}


def _main_track_boxes(track: FaceTrack, frames: int, smoothing: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 4) smoothed boxes of the whole video (held outside the track), in-track and detected masks."""
    boxes = track.boxes
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])[:, None]
    if smoothing > 1:
        centre = median_filter(centre, size=(smoothing, 1), mode="nearest")
        size = median_filter(size, size=(smoothing, 1), mode="nearest")
    smoothed = np.concatenate([centre - size / 2, centre + size / 2], 1)
    whole = np.empty((frames, 4))
    whole[:track.start], whole[track.end + 1:] = smoothed[0], smoothed[-1]
    whole[track.start:track.end + 1] = smoothed
    in_track = np.zeros(frames, dtype=bool)
    in_track[track.start:track.end + 1] = True
    detected = np.zeros(frames, dtype=bool)
    detected[track.start:track.end + 1] = track.detected if track.detected is not None else True
    return whole, in_track, detected


def prepare_video(path: str | os.PathLike[str], settings: FacePreparationSettings = FacePreparationSettings(),
                  landmarks: LandmarkBackend | None = None, crops_path: str | os.PathLike[str] | None = None,
                  detector=None) -> PreparedVideo:
    """Face targets of one video (module doc); with `crops_path`, also writes the crop video there.

    Raises FacePreparationError (no face) or VideoError (unreadable file), naming the file.
    """
    path = Path(path)
    info = probe_video(path)
    landmarks = landmarks or DlibLandmarks()
    detector = detector or HaarFaceDetector(settings.detection_short_side, settings.min_face_size)
    found = track_faces(iter_frames(path, settings.fps), detector, max_gap=settings.max_gap)
    if found.frames == 0:
        raise VideoError(f"{path}: the video stream has no decodable frames")
    if not found.tracks:
        raise FacePreparationError(f"{path}: no face found in any of its {found.frames} frames")
    ranked = sorted(found.tracks, key=lambda t: (t.detections, t.face_size), reverse=True)
    main, others = ranked[0], ranked[1:]
    boxes, in_track, detected = _main_track_boxes(main, found.frames, settings.box_smoothing)
    crop_boxes = np.stack([square_crop_box(box, settings.expand_ratio) for box in boxes])
    points = np.zeros((found.frames, 68, 2), dtype=np.float32)

    def crops() -> Iterator[np.ndarray]:
        # Landmarks are found during the second decoding pass that also makes the crops.
        for index, frame in enumerate(iter_frames(path, settings.fps)):
            if index >= found.frames:
                break
            points[index] = landmarks(frame, boxes[index])
            yield crop_square(frame, crop_boxes[index], settings.crop_size)

    if crops_path is None:
        for _ in crops():
            pass
    else:
        audio = read_audio_track(path, settings.sample_rate) if info.has_audio else None
        write_video(crops_path, crops(), settings.fps, audio, settings.sample_rate if audio is not None else None)
    ok = detected & in_track
    blendshapes, pose = landmark_targets(points, boxes, ok)
    flagged = ~ok
    report = {
        "video": str(path),
        "frames": found.frames,
        "shots": len(found.shot_starts),
        "main_track": {**_track_summary(main), "gap_frames": _spans(in_track & ~detected)},
        "other_tracks": [_track_summary(t) for t in others],
        "flagged_frames": int(flagged.sum()),
        "flagged_spans": _spans(flagged),
    }
    arrays = {
        "blendshapes": blendshapes, "pose": pose, "estimated_channels": estimated_channel_mask(),
        "ok": ok, "in_track": in_track, "boxes": boxes.astype(np.float32),
        "crop_boxes": crop_boxes.astype(np.float32), "landmarks": points, "fps": np.float64(settings.fps),
    }
    return PreparedVideo(arrays, report)


def preparation_settings(settings: FacePreparationSettings, landmarks: LandmarkBackend) -> dict[str, Any]:
    """Everything that changes the outputs, hashed into the cache key."""
    backend = landmarks.settings() if hasattr(landmarks, "settings") else {"backend": type(landmarks).__name__}
    return {**asdict(settings), "landmarks": backend, "targets_version": TARGETS_VERSION}


@dataclass
class FacePreparationSummary:
    videos: int = 0
    computed: int = 0
    reused: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)  # skipped: id, path, reason
    notes: list[dict[str, Any]] = field(default_factory=list)  # prepared, with other faces or flagged frames
    prepared: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> video_sha256, face_targets key
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def prepare_face_targets(utterances: list[Utterance], manifest_dir: str | os.PathLike[str],
                         cache_root: str | os.PathLike[str], settings: FacePreparationSettings = FacePreparationSettings(),
                         landmarks: LandmarkBackend | None = None, progress: bool = True) -> FacePreparationSummary:
    """Prepare every utterance's video into the cache (resumable: prepared videos are reused).

    A bad video never stops the run: it lands in `problems` with its reason; a prepared video with
    other faces, gaps or frames outside the main track lands in `notes`. The summary is written to
    `<cache_root>/face_preparation_summary.json`.
    """
    start = time.perf_counter()
    cache = FeatureCache(cache_root)
    landmarks = landmarks or DlibLandmarks()
    key = cache.write_settings_of(FEATURE_NAME, preparation_settings(settings, landmarks))
    hashes = AudioHashIndex(cache.root / "video_hashes.json")  # keyed by any file's content
    summary = FacePreparationSummary(videos=len(utterances))
    for utterance in tqdm(utterances, desc="preparing face targets", unit="video", disable=not progress):
        video = utterance.video_file(manifest_dir)
        video = None if video is None else Path(os.path.normpath(video))  # name files as a user would
        if video is None or not video.is_file():
            summary.problems.append({"id": utterance.id, "path": str(video), "reason": "missing video file"})
            continue
        sha = hashes.sha256(video)
        if cache.has(key, sha):
            summary.reused += 1
        else:
            try:
                prepared = prepare_video(video, settings, landmarks, crops_path=cache.path(key, sha).with_suffix(".mp4"))
            except (FacePreparationError, VideoError) as error:
                summary.problems.append({"id": utterance.id, "path": str(video), "reason": str(error)})
                log.warning("skipped: %s", error)
                continue
            cache.save(key, sha, prepared.arrays)
            summary.computed += 1
            report = prepared.report
            if report["other_tracks"] or report["flagged_frames"]:
                summary.notes.append({"id": utterance.id, **report})
        summary.prepared[utterance.id] = {"video_sha256": sha, "face_targets": key}
    hashes.save()
    summary.seconds = time.perf_counter() - start
    with atomic_write(cache.root / SUMMARY_NAME, "w") as f:
        json.dump(summary.as_dict(), f, indent=2)
    if summary.problems:
        log.warning("%d video(s) skipped; see %s", len(summary.problems), cache.root / SUMMARY_NAME)
    return summary


def load_face_targets(cache_root: str | os.PathLike[str], utterance: Utterance) -> dict[str, np.ndarray]:
    """The arrays of a prepared utterance (its manifest extras name the video hash and the cache key)."""
    try:
        key, sha = utterance.extras["face_targets"], utterance.extras["video_sha256"]
    except KeyError:
        raise KeyError(f"{utterance.id}: no face targets in its manifest extras; run scripts/prepare_av_corpus.py") from None
    return FeatureCache(cache_root).load(key, sha)
