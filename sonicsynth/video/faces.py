"""Face detection and tracking in videos, shared by the lip-sync metrics and face-data preparation.

Faces are found per frame by OpenCV's Haar cascade (its weights ship with opencv-python 4.x, so
nothing needs a download) on a copy scaled to a fixed short side, and linked into tracks by IoU as
syncnet_python does (`link_tracks`). Tracks never cross a shot cut: like PySceneDetect's
ContentDetector, a cut is where the mean HSV change between consecutive frames exceeds 27, at
least 15 frames after the previous cut (`shot_starts`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

SHOT_CUT_THRESHOLD = 27.0  # PySceneDetect ContentDetector's default
MIN_SHOT_FRAMES = 15
_SHOT_ANALYSIS_WIDTH = 256


class FaceDetectorError(RuntimeError):
    """The face detector cannot run (its model file is missing)."""


@dataclass
class FaceTrack:
    start: int  # first frame (25 fps)
    end: int  # last frame, inclusive
    boxes: np.ndarray = field(repr=False)  # (end - start + 1, 4) x1 y1 x2 y2, gaps interpolated
    detections: int
    # (end - start + 1,) True where a detection was linked, False where the box is interpolated.
    detected: np.ndarray | None = field(default=None, repr=False)

    @property
    def frames(self) -> int:
        return self.end - self.start + 1

    @property
    def face_size(self) -> float:
        return float(max(np.mean(self.boxes[:, 2] - self.boxes[:, 0]), np.mean(self.boxes[:, 3] - self.boxes[:, 1])))

    def shifted(self, frames: int) -> FaceTrack:
        """The same track with its frame numbers moved by `frames` (from shot-relative to video frames)."""
        return FaceTrack(self.start + frames, self.end + frames, self.boxes, self.detections, self.detected)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def link_tracks(detections: Sequence[Sequence[np.ndarray]], iou_threshold: float = 0.5, max_gap: int = 25) -> list[FaceTrack]:
    """Greedy IoU linking as in syncnet_python: each pass grows one track through the remaining
    detections and stops after `max_gap` frames without a match. A track takes at most one face per
    frame (the reference's loop can take two overlapping boxes from one frame)."""
    remaining = [list(frame) for frame in detections]
    tracks = []
    while True:
        frames, boxes = [], []
        for index, faces in enumerate(remaining):
            if frames and index - frames[-1] > max_gap:
                break
            for face in faces:
                if not frames or box_iou(face, boxes[-1]) > iou_threshold:
                    frames.append(index)
                    boxes.append(face)
                    remaining[index] = [f for f in faces if f is not face]
                    break
        if not frames:
            return tracks
        frame_range = np.arange(frames[0], frames[-1] + 1)
        boxes = np.stack(boxes)
        interpolated = np.stack([np.interp(frame_range, frames, boxes[:, k]) for k in range(4)], axis=1)
        detected = np.isin(frame_range, frames)
        tracks.append(FaceTrack(frames[0], frames[-1], interpolated, len(frames), detected))


def small_hsv(frame: np.ndarray) -> np.ndarray:
    """The frame in HSV at a width of at most 256 px: enough to see a cut, cheap to compare."""
    scale = min(1.0, _SHOT_ANALYSIS_WIDTH / frame.shape[1])
    small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
    return cv2.cvtColor(small, cv2.COLOR_BGR2HSV).astype(np.int16)


def shot_starts(content_changes: Sequence[float], threshold: float = SHOT_CUT_THRESHOLD,
                min_shot: int = MIN_SHOT_FRAMES) -> list[int]:
    """First frame of every shot, given each frame's mean HSV change from the previous frame."""
    starts = [0]
    for index, change in enumerate(content_changes):
        if index > 0 and change > threshold and index - starts[-1] >= min_shot:
            starts.append(index)
    return starts


class HaarFaceDetector:
    """Frontal faces by OpenCV's Haar cascade, detected on a copy scaled to `short_side` pixels."""

    def __init__(self, short_side: int = 360, min_size: int = 24) -> None:
        self.short_side, self.min_size = short_side, min_size
        self._cascade: cv2.CascadeClassifier | None = None

    def __call__(self, frame: np.ndarray) -> list[np.ndarray]:
        """Face boxes (x1, y1, x2, y2) in full-frame pixels."""
        if self._cascade is None:
            cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
            if cascade.empty():
                raise FaceDetectorError("OpenCV's Haar face cascade is missing (install opencv-python-headless 4.x)")
            self._cascade = cascade
        scale = min(1.0, self.short_side / min(frame.shape[:2]))
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        found = self._cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size,) * 2)
        return [np.array([x, y, x + w, y + h], dtype=float) / scale for x, y, w, h in found]


@dataclass
class VideoFaceTracks:
    """Every face track of a video (frame numbers of the whole video), the shots and the frame count."""

    tracks: list[FaceTrack]
    shot_starts: list[int]
    frames: int


def track_faces(frames: Iterable[np.ndarray], detector, max_gap: int = 25, iou_threshold: float = 0.5) -> VideoFaceTracks:
    """Detect faces in every frame, split the video at shot cuts and link each shot's faces into tracks.

    `detector` maps a BGR frame to a list of (x1, y1, x2, y2) boxes (e.g. `HaarFaceDetector`).
    Frames are consumed one at a time, so a long video never sits in memory whole.
    """
    detections, changes, previous = [], [], None
    for frame in frames:
        detections.append(detector(frame))
        hsv = small_hsv(frame)
        changes.append(0.0 if previous is None else float(np.abs(hsv - previous).mean()))
        previous = hsv
    starts = shot_starts(changes)
    tracks = []
    for start, end in zip(starts, [*starts[1:], len(detections)], strict=True):
        tracks += [t.shifted(start) for t in link_tracks(detections[start:end], iou_threshold, max_gap)]
    return VideoFaceTracks(tracks, starts, len(detections))


def square_crop_box(box: np.ndarray, expand_ratio: float) -> np.ndarray:
    """The square (x1, y1, x2, y2) around a face box: its longer side padded by `expand_ratio` of
    itself on each side (DESIGN.md's `expand_ratio`), centred on the box; may reach outside the frame."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * expand_ratio) / 2
    return np.array([centre_x - half, centre_y - half, centre_x + half, centre_y + half])


def crop_square(frame: np.ndarray, crop_box: np.ndarray, size: int, fill: int = 110) -> np.ndarray:
    """The pixels of a square `crop_box` resampled to `size` x `size`; outside the frame is `fill` grey.

    One affine warp does the crop, the sub-pixel placement and the resize, so a box that leaves the
    frame needs no padded copy of the whole frame (the syncnet-style `crop_track` pads the frame).
    """
    scale = size / (crop_box[2] - crop_box[0])
    warp = np.array([[scale, 0, -crop_box[0] * scale], [0, scale, -crop_box[1] * scale]], dtype=np.float64)
    return cv2.warpAffine(frame, warp, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(fill, fill, fill))
