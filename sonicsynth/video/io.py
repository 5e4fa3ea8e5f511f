"""Video in and out through the ffmpeg/ffprobe executables (Debian `ffmpeg`).

Reading resamples to a fixed frame rate and decodes to BGR uint8 frames (the channel order OpenCV
and syncnet_python use), streamed so a long high-resolution video never sits in memory whole;
audio is decoded separately to mono int16 at a fixed sample rate. Writing muxes H.264 (yuv420p,
plays everywhere) with AAC audio into an MP4, atomically: the file appears complete or not at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


class VideoError(ValueError):
    """A video that cannot be read as asked; the message names the file and the problem."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float
    has_audio: bool


def _ffmpeg(tool: str = "ffmpeg") -> str:
    executable = shutil.which(tool)
    if executable is None:
        raise RuntimeError(f"{tool} is not installed (Debian: apt-get install ffmpeg)")
    return executable


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Stream facts of a video; VideoError if it is missing, unreadable or has no video stream."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such video file")
    result = subprocess.run(
        [_ffmpeg("ffprobe"), "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise VideoError(f"{path}: not a readable video ({result.stderr.strip().splitlines()[-1:]})")
    facts = json.loads(result.stdout)
    streams = facts.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise VideoError(f"{path}: has no video stream")
    numerator, _, denominator = video.get("avg_frame_rate", "0/1").partition("/")
    fps = float(numerator) / float(denominator or 1) if float(denominator or 1) else 0.0
    return VideoInfo(
        width=int(video["width"]),
        height=int(video["height"]),
        fps=fps,
        duration=float(facts.get("format", {}).get("duration", video.get("duration", 0.0))),
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
    )


def iter_frames(path: str | os.PathLike[str], fps: float = 25.0, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield BGR uint8 frames (H, W, 3) resampled to `fps` (ffmpeg drops/duplicates frames, as `-r` does).

    `size` (width, height) scales each frame with ffmpeg's bicubic scaler.
    """
    info = probe_video(path)
    width, height = size or (info.width, info.height)
    command = [_ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-r", f"{fps:g}"]
    if size is not None:
        command += ["-vf", f"scale={width}:{height}:flags=bicubic"]
    command += ["-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1"]
    frame_bytes = width * height * 3
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while True:
            chunk = process.stdout.read(frame_bytes)
            if len(chunk) < frame_bytes:
                break
            yield np.frombuffer(chunk, np.uint8).reshape(height, width, 3)
    finally:
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        if process.wait() != 0:
            raise VideoError(f"{path}: ffmpeg could not decode the video ({stderr.splitlines()[-1:]})")


def read_frames(path: str | os.PathLike[str], fps: float = 25.0, size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames as one (T, H, W, 3) BGR uint8 array; VideoError if the video has none."""
    frames = list(iter_frames(path, fps, size))
    if not frames:
        raise VideoError(f"{path}: the video stream has no decodable frames")
    return np.stack(frames)


def read_audio_track(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream as mono int16 samples at `sample_rate`; VideoError if there is none."""
    info = probe_video(path)
    if not info.has_audio:
        raise VideoError(f"{path}: has no audio track")
    result = subprocess.run(
        [_ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sample_rate),
         "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"],
        capture_output=True,
    )
    if result.returncode != 0:
        raise VideoError(f"{path}: ffmpeg could not decode the audio ({result.stderr.decode(errors='replace').strip()})")
    return np.frombuffer(result.stdout, np.int16).copy()


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    samples: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
) -> Path:
    """Encode BGR uint8 frames as H.264 (+ AAC audio when `samples` is given) into an MP4, atomically.

    `samples` are float in [-1, 1] or int16. The output is as long as the longer of the two streams.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    height, width = first.shape[:2]
    if width % 2 or height % 2:
        raise ValueError(f"{path}: H.264 with yuv420p needs even frame sizes, got {width}x{height}")
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as scratch:
        partial = Path(scratch) / path.name
        command = [_ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
                   "-r", f"{fps:g}", "-i", "pipe:0"]
        if samples is not None:
            if sample_rate is None:
                raise ValueError("write_video: sample_rate is required with samples")
            wav = Path(scratch) / "audio.wav"
            sf.write(wav, np.asarray(samples), sample_rate, subtype="PCM_16")
            command += ["-i", str(wav), "-c:a", "aac", "-b:a", "128k"]
        command += ["-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", str(partial)]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for frame in _chain(first, frames):
                if frame.shape != first.shape or frame.dtype != np.uint8:
                    raise ValueError(f"{path}: frame of shape {frame.shape} {frame.dtype}, expected {first.shape} uint8")
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            if process.stdin and not process.stdin.closed:
                process.stdin.close()
        stderr = process.stderr.read().decode(errors="replace")
        process.stderr.close()
        if process.wait() != 0:
            raise RuntimeError(f"{path}: ffmpeg failed to encode: {stderr.strip()}")
        os.replace(partial, path)
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest
