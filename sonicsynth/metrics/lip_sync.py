"""LSE-D and LSE-C lip-sync scores, computed the way syncnet_python and the Wav2Lip evaluation do.

Input: a video, resampled to 25 fps with its audio at 16 kHz mono. Audio features are
`python_speech_features.mfcc` with its defaults (13 coefficients, 25 ms window, 10 ms step, log
energy as c0) on int16-scale samples. For every video frame i < min(frames, samples / 640) - 5,
SyncNet embeds the 5 frames [i, i+5) and the 20 MFCC frames [4i, 4i+20) (both 0.2 s). Audio
embeddings are zero-padded by `vshift` (15) at both ends and each video embedding is compared by
Euclidean distance with the audio embeddings at frames i - vshift .. i + vshift. Averaging over
frames gives one mean distance per offset (the distance-vs-offset curve), and

    LSE-D  = min over offsets of the mean distance          (lower is better)
    LSE-C  = median over offsets - LSE-D                     (higher is better; "confidence")
    offset = vshift - argmin                                 (frames; > 0: the audio leads the video)

Two crop paths, as in the reference:
- face-centred (LRS-style): every frame is already a face crop and is only resized to 224 x 224;
- real video: faces are detected (OpenCV's Haar cascade, whose weights ship with opencv-python;
  syncnet_python uses S3FD, whose weights need a download), linked into tracks by IoU > 0.5 with at
  most `num_failed_det` frames missing, gaps interpolated, box centre and size median-filtered
  (kernel 13), and cropped with the reference's 0.4 crop scale around a 110-grey padded frame.
  Each track of at least `min_track` frames is scored with the audio of its own time span; shorter
  (or smaller than `min_face_size`) tracks are reported, not scored. Tracks never cross a shot
  cut: like the reference (PySceneDetect's ContentDetector), a cut is where the mean HSV change
  between consecutive frames exceeds 27, at least 15 frames after the previous cut. (PySceneDetect
  itself cannot be installed beside this stack: its releases pin click or pull in OpenCV 5.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import python_speech_features
import torch
import torch.nn.functional as F
from scipy.signal import medfilt

from sonicsynth.metrics.base import MetricError
from sonicsynth.models.syncnet.loading import load_syncnet
from sonicsynth.models.syncnet.network import (
    AUDIO_WINDOW_FRAMES,
    FACE_SIZE,
    VIDEO_WINDOW_FRAMES,
    SyncNet,
)
from sonicsynth.video.faces import (  # noqa: F401  (link_tracks, shot_starts: re-exported for callers)
    FaceDetectorError,
    FaceTrack,
    HaarFaceDetector,
    link_tracks,
    shot_starts,
    track_faces,
)
from sonicsynth.video.io import VideoError, iter_frames, read_audio_track

__all__ = [
    "FPS", "SAMPLE_RATE", "FaceTrack", "LipSyncEvaluator", "SyncScore", "VideoSyncReport", "load_syncnet",
    "offset_distances", "read_face_centred_video", "scores_from_distances", "syncnet_mfcc",
]

FPS = 25
SAMPLE_RATE = 16000
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 640
MFCC_PER_FRAME = 4  # 100 Hz MFCCs against 25 fps video
REFERENCE_BATCH_SIZE = 20  # syncnet_python's default; batching does not change the scores


def syncnet_mfcc(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(13, N) MFCCs of int16-scale samples, exactly as syncnet_python computes them."""
    return python_speech_features.mfcc(np.asarray(audio), sample_rate).T


def read_face_centred_video(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, 224, 224, 3) BGR uint8 at 25 fps and the audio (int16, 16 kHz) of a face-centred video."""
    frames = np.stack(list(iter_frames(path, FPS, size=(FACE_SIZE, FACE_SIZE))) or _no_frames(path))
    return frames, read_audio_track(path, SAMPLE_RATE)


def _no_frames(path: str | os.PathLike[str]) -> list:
    raise VideoError(f"{path}: the video stream has no decodable frames")


def offset_distances(video_embeddings: torch.Tensor, audio_embeddings: torch.Tensor, vshift: int) -> torch.Tensor:
    """(frames, 2 vshift + 1) distances: row i compares video frame i with audio frames i - vshift .. i + vshift.

    Audio embeddings are zero-padded at both ends as the reference does, so windows near the
    edges compare against zero vectors rather than being skipped.
    """
    padded = F.pad(audio_embeddings, (0, 0, vshift, vshift))
    candidates = padded.unfold(0, 2 * vshift + 1, 1).transpose(1, 2)  # (frames, 2 vshift + 1, dim)
    return F.pairwise_distance(video_embeddings.unsqueeze(1), candidates, eps=1e-6)


@dataclass
class SyncScore:
    lse_d: float
    lse_c: float
    offset: int
    frames_scored: int
    mean_distance: list[float]  # per offset, in the reference's order: +vshift (audio leads) down to -vshift

    @property
    def offsets(self) -> list[int]:
        vshift = (len(self.mean_distance) - 1) // 2
        return list(range(vshift, -vshift - 1, -1))


def scores_at_offset(mean_distance: Sequence[float], offset: int = 0) -> tuple[float, float]:
    """(distance, confidence) at one AV offset of a distance-per-offset curve (`SyncScore.mean_distance`):
    LSE-D and LSE-C read at that offset instead of at the curve's minimum. The published LSE search
    over +-vshift forgives any constant shift (a video 10 frames out of sync finds its minimum at
    offset -10 and scores as well as one in sync); read at offset 0, they say whether it *is* in sync."""
    vshift = (len(mean_distance) - 1) // 2
    if abs(offset) > vshift:
        raise MetricError(f"offset {offset} is outside the searched range +-{vshift}")
    distance = float(mean_distance[vshift - offset])
    return distance, float(np.median(mean_distance)) - distance


def scores_from_distances(distances: torch.Tensor, vshift: int) -> SyncScore:
    mean_distance = distances.mean(0)
    minimum, index = torch.min(mean_distance, 0)
    return SyncScore(
        lse_d=float(minimum),
        lse_c=float(torch.median(mean_distance) - minimum),
        offset=int(vshift - index),
        frames_scored=int(distances.shape[0]),
        mean_distance=mean_distance.tolist(),
    )


@dataclass
class VideoSyncReport:
    video: str
    crop: str
    tracks: int  # face tracks found (scored or not)
    shots: int  # camera shots found (tracks never cross a cut)
    scored: list[dict]  # per scored track: start, end, lse_d, lse_c, offset, frames_scored, mean_distance
    skipped: list[dict]  # per unscored track: start, end, frames, reason
    lse_d: float | None = None  # mean over scored tracks, as the Wav2Lip scripts average
    lse_c: float | None = None
    offset: int | None = None  # of the longest scored track
    frames_scored: int = 0
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def crop_track(frame: np.ndarray, centre_x: float, centre_y: float, half_size: float, crop_scale: float) -> np.ndarray:
    """The reference's face crop: a box of half-size s around the face, widened by `crop_scale`, 224 x 224."""
    pad = int(half_size * (1 + 2 * crop_scale))
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(110, 110, 110))
    y, x = centre_y + pad, centre_x + pad
    face = padded[int(y - half_size):int(y + half_size * (1 + 2 * crop_scale)),
                  int(x - half_size * (1 + crop_scale)):int(x + half_size * (1 + crop_scale))]
    return cv2.resize(face, (FACE_SIZE, FACE_SIZE))


class LipSyncEvaluator:
    """Scores videos with one SyncNet (published syncnet_v2 weights, a package or a training checkpoint)."""

    def __init__(
        self,
        syncnet: SyncNet | str | os.PathLike[str],
        vshift: int = 15,
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        min_track: int = 100,
        min_face_size: int = 100,
        crop_scale: float = 0.4,
        num_failed_det: int = 25,
        detection_short_side: int = 360,
    ):
        if not isinstance(syncnet, torch.nn.Module):
            path = Path(syncnet)
            if not path.exists():
                raise MetricError(f"{path}: SyncNet weights not found")
            syncnet = load_syncnet(path)
        self.syncnet = syncnet.to(device).eval()
        self.device = torch.device(device)
        self.vshift, self.batch_size = vshift, batch_size
        self.min_track, self.min_face_size = min_track, min_face_size
        self.crop_scale, self.num_failed_det = crop_scale, num_failed_det
        self.detection_short_side = detection_short_side
        self._detector = HaarFaceDetector(detection_short_side)

    # -- the reference computation on decoded frames and audio ------------------------------------
    @torch.inference_mode()
    def embed(self, frames: np.ndarray, audio: np.ndarray, name: str = "clip") -> tuple[torch.Tensor, torch.Tensor]:
        """Video and audio embeddings of every scored frame; frames (T, 224, 224, 3) BGR, audio int16 16 kHz."""
        usable = min(len(frames), math.floor(len(audio) / SAMPLES_PER_FRAME)) - VIDEO_WINDOW_FRAMES
        if usable <= 0:
            seconds = (VIDEO_WINDOW_FRAMES + 1) / FPS
            raise MetricError(f"{name}: {len(frames)} frames and {len(audio) / SAMPLE_RATE:.2f} s of audio; "
                              f"lip sync needs at least {VIDEO_WINDOW_FRAMES + 1} frames ({seconds:.2f} s) of both")
        mfcc = torch.from_numpy(syncnet_mfcc(audio)).float()
        video_embeddings, audio_embeddings = [], []
        for start in range(0, usable, self.batch_size):
            starts = range(start, min(usable, start + self.batch_size))
            clips = np.stack([frames[i:i + VIDEO_WINDOW_FRAMES] for i in starts])  # (B, 5, H, W, 3)
            video = torch.from_numpy(clips).to(self.device).permute(0, 4, 1, 2, 3).float()
            windows = torch.stack([mfcc[:, MFCC_PER_FRAME * i:MFCC_PER_FRAME * i + AUDIO_WINDOW_FRAMES] for i in starts])
            video_embeddings.append(self.syncnet.forward_video(video).cpu())
            audio_embeddings.append(self.syncnet.forward_audio(windows.unsqueeze(1).to(self.device)).cpu())
        return torch.cat(video_embeddings), torch.cat(audio_embeddings)

    def score_frames(self, frames: np.ndarray, audio: np.ndarray, name: str = "clip") -> SyncScore:
        if len(audio) == 0 or np.abs(audio).max() == 0:
            raise MetricError(f"{name}: the audio is silent; lip sync cannot be scored")
        video_embeddings, audio_embeddings = self.embed(frames, audio, name)
        return scores_from_distances(offset_distances(video_embeddings, audio_embeddings, self.vshift), self.vshift)

    # -- videos ------------------------------------------------------------------------------------
    def evaluate(self, path: str | os.PathLike[str], crop: str = "face_centred") -> VideoSyncReport:
        """Score one video; problems (no face, no audio, too short) end up in `error`, never raised."""
        if crop not in ("face_centred", "detect"):
            raise ValueError(f"crop must be 'face_centred' or 'detect', got {crop!r}")
        report = VideoSyncReport(video=str(path), crop=crop, tracks=0, shots=1, scored=[], skipped=[])
        try:
            if crop == "face_centred":
                frames, audio = read_face_centred_video(path)
                report.tracks = 1
                self._add_score(report, 0, len(frames) - 1, self.score_frames(frames, audio, str(path)))
            else:
                self._evaluate_detected(Path(path), report)
            if not report.scored:
                raise MetricError(f"{path}: no face track long enough to score (min_track={self.min_track} frames)"
                                  if report.tracks else f"{path}: no face found")
        except (MetricError, VideoError) as error:
            report.error = str(error)
            return report
        report.lse_d = float(np.mean([t["lse_d"] for t in report.scored]))
        report.lse_c = float(np.mean([t["lse_c"] for t in report.scored]))
        report.offset = max(report.scored, key=lambda t: t["frames_scored"])["offset"]
        report.frames_scored = sum(t["frames_scored"] for t in report.scored)
        return report

    @staticmethod
    def _add_score(report: VideoSyncReport, start: int, end: int, score: SyncScore) -> None:
        report.scored.append({"start": start, "end": end, **asdict(score)})

    def detect_faces(self, frame: np.ndarray) -> list[np.ndarray]:
        """Face boxes (x1, y1, x2, y2) in full-frame pixels, detected on a copy scaled to a fixed short side."""
        try:
            return self._detector(frame)
        except FaceDetectorError as error:
            raise MetricError(str(error)) from error

    def _evaluate_detected(self, path: Path, report: VideoSyncReport) -> None:
        audio = read_audio_track(path, SAMPLE_RATE)
        found = track_faces(iter_frames(path, FPS), self.detect_faces, max_gap=self.num_failed_det)
        report.shots = len(found.shot_starts)
        tracks = found.tracks
        report.tracks = len(tracks)
        keep = []
        for track in tracks:
            reason = None
            if track.frames < self.min_track:
                reason = f"track of {track.frames} frames is shorter than min_track={self.min_track}"
            elif track.face_size <= self.min_face_size:
                reason = f"face of {track.face_size:.0f} px is not larger than min_face_size={self.min_face_size}"
            if reason:
                report.skipped.append({"start": track.start, "end": track.end, "frames": track.frames, "reason": reason})
            else:
                keep.append(track)
        if not keep:
            return
        smoothed = []
        for track in keep:
            boxes = track.boxes
            half = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
            centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            smoothed.append([medfilt(v, kernel_size=13) for v in (centre_x, centre_y, half)])
        crops: list[list[np.ndarray]] = [[] for _ in keep]
        for index, frame in enumerate(iter_frames(path, FPS)):
            for k, track in enumerate(keep):
                if track.start <= index <= track.end:
                    x, y, s = (v[index - track.start] for v in smoothed[k])
                    crops[k].append(crop_track(frame, x, y, s, self.crop_scale))
        for track, frames in zip(keep, crops, strict=True):
            # The reference cuts the audio to [start, end + 1) / 25 s for each track.
            span = audio[track.start * SAMPLES_PER_FRAME:(track.end + 1) * SAMPLES_PER_FRAME]
            try:
                score = self.score_frames(np.stack(frames), span, f"{path} frames {track.start}-{track.end}")
            except MetricError as error:
                report.skipped.append({"start": track.start, "end": track.end, "frames": track.frames, "reason": str(error)})
                continue
            self._add_score(report, track.start, track.end, score)
