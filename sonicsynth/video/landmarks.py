"""Facial landmarks in the 68-point iBUG 300-W layout, from a pluggable backend.

A landmark backend is any callable `(frame_bgr, box) -> (68, 2) float array` of (x, y) pixels in
the frame, with `box` = (x1, y1, x2, y2) of the face. The iBUG layout is the contract because the
target geometry (`sonicsynth.video.face_geometry`) names its points by it; a backend that finds
more points (MediaPipe's 478-point face mesh) plugs in by returning the 68 iBUG points picked from
its own (`IbugSubset` does that given the index list), so nothing downstream changes.

The backend shipped here is dlib's 68-point shape predictor (`dlib-bin`, weights from the
`face-recognition-models` wheel). That model was trained on iBUG 300-W, whose licence excludes
commercial use: the landmarks, and targets derived from them, are for research.

Points (0-based) as used here, "left"/"right" meaning the image's: jaw contour 0-16 (chin 8),
brows 17-21 (image left) and 22-26, nose bridge 27-30 (tip 30), nostrils 31-35, eyes 36-41 (image
left) and 42-47, outer lips 48-59 (corners 48, 54; top centre 51, bottom centre 57), inner lips
60-67 (corners 60, 64; top 61-63, bottom 65-67).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

NUM_LANDMARKS = 68

JAW = slice(0, 17)
CHIN = 8
BROW_IMAGE_LEFT = slice(17, 22)
BROW_IMAGE_RIGHT = slice(22, 27)
NOSE_TIP = 30
NOSE_BASE = 33
EYE_IMAGE_LEFT = slice(36, 42)
EYE_IMAGE_RIGHT = slice(42, 48)
MOUTH_CORNER_IMAGE_LEFT, MOUTH_CORNER_IMAGE_RIGHT = 48, 54
OUTER_LIP_TOP, OUTER_LIP_BOTTOM = 51, 57
INNER_LIP_TOP = (61, 62, 63)
INNER_LIP_BOTTOM = (67, 66, 65)  # paired with INNER_LIP_TOP, point for point


class LandmarkError(RuntimeError):
    """A landmark backend that cannot run (missing package or model file)."""


class LandmarkBackend(Protocol):
    def __call__(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) iBUG landmarks of the face in `box` (x1, y1, x2, y2) of the BGR `frame`."""


class DlibLandmarks:
    """dlib's 68-point shape predictor, started from the given face box (e.g. a Haar detection).

    The predictor is a cascade of regression trees that refines a mean shape placed in the box;
    it was trained with dlib's HOG boxes, which are close to OpenCV Haar boxes of frontal faces (a
    few pixels lower), so Haar boxes serve it well.
    """

    name = "dlib-68"

    def __init__(self, model_path: str | Path | None = None) -> None:
        self.model_path = model_path
        self._predictor = None

    def _load(self):
        try:
            import dlib
        except ImportError as error:
            raise LandmarkError("dlib is not installed (pip install dlib-bin face-recognition-models)") from error
        path = self.model_path
        if path is None:
            try:
                import face_recognition_models
            except ImportError as error:
                raise LandmarkError("the 68-point model is not installed (pip install face-recognition-models)") from error
            path = face_recognition_models.pose_predictor_model_location()
        if not Path(path).is_file():
            raise LandmarkError(f"{path}: dlib 68-point landmark model not found")
        return dlib, dlib.shape_predictor(str(path))

    def __call__(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        if self._predictor is None:
            self._dlib, self._predictor = self._load()
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        shape = self._predictor(rgb, self._dlib.rectangle(x1, y1, x2, y2))
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(NUM_LANDMARKS)], dtype=np.float32)

    def settings(self) -> dict:
        """What changes this backend's output, for the preparation's cache key."""
        return {"backend": self.name, "model": str(self.model_path or "face-recognition-models")}


class IbugSubset:
    """Adapts a backend with more points (e.g. a face mesh) to the iBUG 68 layout.

    `points_of` maps (frame, box) to that backend's (N, 2) points; `ibug_indices` lists, for each of
    the 68 iBUG points in order, the index of the matching point among the N.
    """

    def __init__(self, points_of: Callable[[np.ndarray, np.ndarray], np.ndarray], ibug_indices: Sequence[int],
                 name: str = "ibug-subset") -> None:
        if len(ibug_indices) != NUM_LANDMARKS:
            raise ValueError(f"ibug_indices must list {NUM_LANDMARKS} points, got {len(ibug_indices)}")
        self.points_of, self.ibug_indices, self.name = points_of, np.asarray(ibug_indices), name

    def __call__(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        return np.asarray(self.points_of(frame, box), dtype=np.float32)[self.ibug_indices]

    def settings(self) -> dict:
        return {"backend": self.name, "indices": self.ibug_indices.tolist()}
