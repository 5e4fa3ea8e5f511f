"""Video decoding and encoding (ffmpeg) shared by the face models, the lip-sync metrics and eval."""

from sonicsynth.video.io import (
    VideoError,
    VideoInfo,
    iter_frames,
    probe_video,
    read_audio_track,
    read_frames,
    write_video,
)

__all__ = ["VideoError", "VideoInfo", "iter_frames", "probe_video", "read_audio_track", "read_frames", "write_video"]
