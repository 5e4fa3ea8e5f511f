"""Talking-face test videos made from a real photograph (scikit-image's astronaut, one frontal face).

The photo's face region is pasted onto a plain canvas, moved, scaled or rotated by known amounts
per frame, so a test knows where the face is and how the head is rolled in every frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sonicsynth.video import write_video

FPS = 25
SAMPLE_RATE = 16000
# The astronaut's head within the 512 x 512 photo, with margin: the face is about 95 px wide in it.
HEAD_REGION = (110, 0, 340, 230)  # x1, y1, x2, y2


def astronaut_head(scale: float = 0.75) -> np.ndarray:
    """The astronaut's head and shoulders (BGR), scaled: a face of about 70 px at 0.75."""
    from skimage import data

    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    x1, y1, x2, y2 = HEAD_REGION
    return cv2.resize(photo[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def paste(canvas: np.ndarray, image: np.ndarray, left: int, top: int) -> np.ndarray:
    """`image` placed with its top-left corner at (left, top), clipped at the canvas edges."""
    height, width = canvas.shape[:2]
    x1, y1 = max(left, 0), max(top, 0)
    x2, y2 = min(left + image.shape[1], width), min(top + image.shape[0], height)
    if x2 > x1 and y2 > y1:
        canvas[y1:y2, x1:x2] = image[y1 - top:y2 - top, x1 - left:x2 - left]
    return canvas


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """`image` turned counter-clockwise (as seen) by `degrees` about its centre, edges replicated."""
    centre = (image.shape[1] / 2, image.shape[0] / 2)
    warp = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return cv2.warpAffine(image, warp, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)


def canvas(width: int = 320, height: int = 240) -> np.ndarray:
    return np.full((height, width, 3), 90, np.uint8)


def speech_like_audio(frames: int, seed: int = 0) -> np.ndarray:
    """A voiced-sounding tone with a syllable-rate envelope, as long as `frames` video frames."""
    t = np.arange(frames * SAMPLE_RATE // FPS) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + seed)
    return (0.3 * envelope * np.sin(2 * np.pi * 140 * t)).astype(np.float32)


def write_face_video(path: Path, frames: list[np.ndarray], audio: bool = True) -> Path:
    samples = speech_like_audio(len(frames)) if audio else None
    return write_video(path, frames, FPS, samples, SAMPLE_RATE if audio else None)


def moving_face_frames(count: int = 12) -> list[np.ndarray]:
    """The head drifting right and down by 2 px a frame and growing by 1% a frame."""
    frames = []
    for index in range(count):
        head = astronaut_head(0.75 * (1 + 0.01 * index))
        frames.append(paste(canvas(), head, 70 + 2 * index, 20 + index))
    return frames


def rolling_face_frames(angles: list[float]) -> list[np.ndarray]:
    """The head rolled by each angle in turn (counter-clockwise positive), in place."""
    head = astronaut_head()
    return [paste(canvas(), rotated(head, angle), 80, 20) for angle in angles]


def two_face_frames(count: int = 10) -> list[np.ndarray]:
    """A larger head on the left, a smaller one on the right, both still."""
    big, small = astronaut_head(0.8), astronaut_head(0.55)
    return [paste(paste(canvas(400, 240), big, 10, 20), small, 260, 60) for _ in range(count)]


def sliding_out_frames(count: int = 20, step: int = 18) -> list[np.ndarray]:
    """The head moving right by `step` px a frame until it has left the picture."""
    head = astronaut_head()
    return [paste(canvas(), head, 60 + step * index, 20) for index in range(count)]
