"""SyncNet (Chung & Zisserman, "Out of time", 2016) in the layout of syncnet_python's `syncnet_v2.model`.

Two streams map 0.2 s of audio and 0.2 s of mouth video to embeddings whose Euclidean distance is
small when the two are in sync:

- audio: 13 MFCCs at 100 Hz over 20 frames, shaped (batch, 1, 13, 20) -> `netcnnaud` (2-D convs) ->
  `netfcaud` -> (batch, embedding_dim);
- video: 5 RGB frames of 224 x 224 at 25 fps, shaped (batch, 3, 5, 224, 224), pixel values 0-255 in
  the channel order the frames were decoded in (syncnet_python feeds OpenCV's BGR unnormalised) ->
  `netcnnlip` (3-D convs; the first spans all 5 frames) -> `netfclip` -> (batch, embedding_dim).

Neither embedding is normalised: LSE-D is a plain Euclidean distance between them.

The defaults are the published network (1024-d embeddings). The layer widths are parameters so a
small SyncNet can be trained on a CPU (`configs/model/syncnet_tiny.yaml`); the kernel sizes, strides
and the input sizes they imply are fixed, and so are the indices of the layers inside each
`nn.Sequential`, which are the names of the published parameters (`netcnnaud.0.weight`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

PUBLISHED_AUDIO_CHANNELS = (64, 192, 384, 256, 256, 512)
PUBLISHED_VIDEO_CHANNELS = (96, 256, 256, 256, 256, 512)
MFCC_BINS, AUDIO_WINDOW_FRAMES = 13, 20  # 13 MFCCs x 20 frames at 100 Hz = 0.2 s
VIDEO_WINDOW_FRAMES, FACE_SIZE = 5, 224  # 5 frames at 25 fps = 0.2 s, square face crops


def _audio_stream(c: Sequence[int]) -> nn.Sequential:
    # Index comments give the published parameter names; nn.Identity keeps a parameter-free slot
    # (a 1x1 max-pool in the original) so that the indices after it line up.
    return nn.Sequential(
        nn.Conv2d(1, c[0], 3, padding=1), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True),  # 0-2
        nn.Identity(),  # 3
        nn.Conv2d(c[0], c[1], 3, padding=1), nn.BatchNorm2d(c[1]), nn.ReLU(inplace=True),  # 4-6
        nn.MaxPool2d(3, stride=(1, 2)),  # 7: 13 x 20 -> 11 x 9
        nn.Conv2d(c[1], c[2], 3, padding=1), nn.BatchNorm2d(c[2]), nn.ReLU(inplace=True),  # 8-10
        nn.Conv2d(c[2], c[3], 3, padding=1), nn.BatchNorm2d(c[3]), nn.ReLU(inplace=True),  # 11-13
        nn.Conv2d(c[3], c[4], 3, padding=1), nn.BatchNorm2d(c[4]), nn.ReLU(inplace=True),  # 14-16
        nn.MaxPool2d(3, stride=2),  # 17: 11 x 9 -> 5 x 4
        nn.Conv2d(c[4], c[5], (5, 4)), nn.BatchNorm2d(c[5]), nn.ReLU(),  # 18-20: -> 1 x 1
    )  # fmt: skip


def _video_stream(c: Sequence[int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(3, c[0], (5, 7, 7), stride=(1, 2, 2)), nn.BatchNorm3d(c[0]), nn.ReLU(inplace=True),  # 0-2: 224 -> 109
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2)),  # 3: -> 54
        nn.Conv3d(c[0], c[1], (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), nn.BatchNorm3d(c[1]), nn.ReLU(inplace=True),  # 4-6: -> 26
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),  # 7: -> 13
        nn.Conv3d(c[1], c[2], (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(c[2]), nn.ReLU(inplace=True),  # 8-10
        nn.Conv3d(c[2], c[3], (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(c[3]), nn.ReLU(inplace=True),  # 11-13
        nn.Conv3d(c[3], c[4], (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(c[4]), nn.ReLU(inplace=True),  # 14-16
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2)),  # 17: -> 6
        nn.Conv3d(c[4], c[5], (1, 6, 6)), nn.BatchNorm3d(c[5]), nn.ReLU(inplace=True),  # 18-20: -> 1
    )  # fmt: skip


def _projection(in_dim: int, hidden_dim: int, embedding_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, embedding_dim)
    )


class SyncNet(nn.Module):
    def __init__(
        self,
        audio_channels: Sequence[int] = PUBLISHED_AUDIO_CHANNELS,
        video_channels: Sequence[int] = PUBLISHED_VIDEO_CHANNELS,
        hidden_dim: int = 512,
        embedding_dim: int = 1024,
    ) -> None:
        super().__init__()
        if len(audio_channels) != 6 or len(video_channels) != 6:
            raise ValueError("SyncNet needs 6 layer widths per stream (see PUBLISHED_*_CHANNELS)")
        self.netcnnaud = _audio_stream(audio_channels)
        self.netfcaud = _projection(audio_channels[-1], hidden_dim, embedding_dim)
        self.netcnnlip = _video_stream(video_channels)
        self.netfclip = _projection(video_channels[-1], hidden_dim, embedding_dim)

    def forward_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(batch, 1, 13, 20) MFCC windows -> (batch, embedding_dim)."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_video(self, frames: torch.Tensor) -> torch.Tensor:
        """(batch, 3, 5, 224, 224) frame windows, values 0-255 -> (batch, embedding_dim)."""
        return self.netfclip(self.netcnnlip(frames).flatten(1))

    def forward(self, mfcc: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_audio(mfcc), self.forward_video(frames)


def load_published_syncnet(path: str | Path, map_location: str | torch.device = "cpu") -> SyncNet:
    """The published SyncNet from syncnet_python's `syncnet_v2.model` (a plain state dict), in eval mode.

    Only tensors are unpickled. A file in another layout is refused with the keys that do not fit.
    """
    from sonicsynth.export.package import check_state_dict_matches

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"SyncNet weights not found: {path} (syncnet_python's syncnet_v2.model; its download_model.sh fetches it)"
        )
    try:
        state_dict = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable PyTorch state dict ({error})") from error
    if not isinstance(state_dict, dict):
        raise ValueError(f"{path}: expected a state dict (syncnet_v2.model layout), found {type(state_dict).__name__}")
    model = SyncNet()
    header = f"{path} is not in syncnet_v2.model's layout:"
    check_state_dict_matches(model, state_dict, path, header=header)
    model.load_state_dict(state_dict)
    return model.eval()
